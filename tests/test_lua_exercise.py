"""Lesson 13's exercise and experiments: the Lua limiter's check, the races and costs."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import missing

from helpdesk_kit.app import RateLimiter
from helpdesk_kit.lessons import Lesson
from helpdesk_kit.lessons.exercises import lesson13
from helpdesk_kit.widgets.lua import (
    RateLimitLab,
    busy_and_kill,
    race_limiters,
    server_skip_reason,
    slow_script,
    survivors,
)

SOLUTION = Path(__file__).resolve().parent.parent / "notebooks" / "solutions" / "lesson13.py"


def _solution() -> str:
    spec = importlib.util.spec_from_file_location("solution_lesson13", SOLUTION)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return str(module.answer)


@pytest.fixture
def lesson(open_lesson: Callable[..., Lesson]) -> Lesson:
    return open_lesson("13_lua_functions", users=30, tickets=50)


def test_the_solution_passes_and_dots_are_not_answered(lesson: Lesson) -> None:
    assert lesson13.check(lesson, _solution()).ok is True
    assert lesson13.check(lesson, ...).ok is None
    assert lesson13.check_quiz("noscript").ok is True and not lesson13.check_quiz("OK").ok
    assert lesson13.check_quiz_shared("Yours").ok is True
    theirs = lesson13.check_quiz_shared("theirs")
    assert theirs.ok is False and "yours" not in theirs.message.lower()  # a hint, no answer
    assert not list(lesson.client.scan_iter(match=f"{lesson.keys.prefix}exercise*"))


INCR = "local count = redis.call('INCR', KEYS[1])\n"
REFUSE = "if count > tonumber(ARGV[1]) then return 0 end\nreturn 1\n"


@pytest.mark.parametrize(("script", "words"), [
    (INCR + REFUSE, "never expires"),
    (INCR + "redis.call('PEXPIRE', KEYS[1], ARGV[2])\n" + REFUSE, "pushes the TTL back"),
    (INCR + "if count == 1 then redis.call('EXPIRE', KEYS[1], ARGV[2]) end\n" + REFUSE,
     "milliseconds"),
    (INCR + "if count == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end\n"
     "if count > tonumber(ARGV[1]) + 1 then return 0 end\nreturn 1\n", "one too many"),
    (INCR + "return count <= tonumber(ARGV[1])\n", "return 1 (allowed) or 0"),
    ("return redis.call('NOPE')", "could not run"),
    (42, "Python string"),
])
def test_each_mistake_gets_its_hint(lesson: Lesson, script: object, words: str) -> None:
    result = lesson13.check(lesson, script)
    assert result.ok is False and words in result.message, result.message


def test_a_python_limiter_lets_more_through_than_the_lua_one(lesson: Lesson) -> None:
    allowed = race_limiters(lesson.client, lesson.keys, limit=10, threads=8, calls=25)
    assert allowed["lua"] == 10  # atomic: exactly the limit
    assert allowed["python"] >= 10  # GET, compare, INCR: threads slip in between


def test_a_slow_script_makes_everyone_wait(lesson: Lesson) -> None:
    report = slow_script(lesson.client, lesson.keys.prefix + "marker", script_ms=120)
    # sent while the script ran, the GET read the script's last write: it waited (an order)
    assert report.waited_for_script, report


def test_the_rate_limit_lab_refuses_past_the_limit(lesson: Lesson) -> None:
    lab = RateLimitLab(lesson.make_app(), RateLimiter(lesson.client, lesson.keys, limit=2))
    outcomes = [lab.create()["success"] for _ in range(3)]
    assert outcomes == [True, True, False]
    assert "2 of 2" in lab.view.value and "try again" in lab.view.value


def test_busy_threshold_and_script_kill_on_a_private_server() -> None:
    if server_skip_reason("server") is not None:
        missing("redis", "install redis-server")
    report = busy_and_kill(threshold_ms=100)
    assert report.busy_reply.startswith("ResponseError: BUSY")
    assert "SCRIPT KILL" in report.script_error and report.ping_after


def test_functions_survive_what_the_script_cache_does_not() -> None:
    if server_skip_reason("server") is not None:
        missing("redis", "install redis-server")
    rows = survivors()
    assert [r[0] for r in rows][:2] == ["SCRIPT FLUSH", "restart"]
    assert all(script.startswith("gone") and function == "present"
               for _event, script, function in rows)
    assert "fakeredis" in (server_skip_reason("fake") or "")
