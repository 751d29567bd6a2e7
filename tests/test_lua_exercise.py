"""Lesson 13's exercise and experiments: the Lua limiter as a piece of the app, races, costs."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import missing

from helpdesk_kit.app import RateLimiter
from helpdesk_kit.lessons import Lesson, capture_logs
from helpdesk_kit.lessons.assembly_messaging import PieceRateLimiter, window_used
from helpdesk_kit.lessons.conformance import pieces_of
from helpdesk_kit.lessons.exercises import lesson13
from helpdesk_kit.lessons.helpdesk import Choice, Helpdesk
from helpdesk_kit.widgets.lua import (
    RateLimitLab,
    busy_and_kill,
    race_limiters,
    server_skip_reason,
    slow_script,
    survivors,
)

SOLUTION = Path(__file__).resolve().parent.parent / "notebooks" / "solutions" / "lesson13.py"


def _solution() -> Any:
    spec = importlib.util.spec_from_file_location("solution_lesson13", SOLUTION)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.allow_ticket


@pytest.fixture
def lesson(open_lesson: Callable[..., Lesson]) -> Lesson:
    return open_lesson("13_lua_functions", users=30, tickets=50)


def test_the_solution_passes_is_kept_and_dots_are_not_answered(lesson: Lesson) -> None:
    result = lesson13.check(lesson, _solution())
    assert result.ok is True and "Kept in my_helpdesk.py" in result.message, result.message
    assert lesson13.check(lesson, ...).ok is None
    assert lesson13.check_quiz_shared("Yours").ok is True
    theirs = lesson13.check_quiz_shared("theirs")
    assert theirs.ok is False and "yours" not in theirs.message.lower()  # a hint, no answer


def test_a_limiter_in_python_gets_the_step_of_the_race(lesson: Lesson) -> None:
    def allow_ticket(client: Any, keys: Any, user_id: int, limit: int, window_ms: int) -> bool:
        key = keys.rate_limit("tickets", user_id)
        if int(client.get(key) or 0) >= limit:
            return False
        if client.incr(key) == 1:
            client.pexpire(key, window_ms)
        return True

    result = lesson13.check(lesson, allow_ticket)
    assert result.ok is False and "step 6" in result.message and "Lua" in result.message


def test_create_ticket_asks_the_learners_limiter(lesson: Lesson) -> None:
    piece = _solution()
    mine = Helpdesk([Choice(p, piece, True, "test") for p in pieces_of("13")], "test")
    app = lesson.make_app(pieces=mine, rate_limit=(2, 60))
    assert isinstance(app.rate_limiter, PieceRateLimiter)
    with capture_logs():
        results = [app.create_ticket(5, f"t{n}") for n in range(3)]
    assert [r["success"] for r in results] == [True, True, False]
    assert "2 tickets per 60 s" in results[2]["error"]
    key = lesson.keys.rate_limit("tickets", 5)
    assert lesson.client.type(key) == "string"  # the fixed window's counter, not the kit's ZSET
    assert window_used(lesson.client, key, 2) == 2


def test_without_a_piece_the_app_asks_the_kits_limiter(lesson: Lesson) -> None:
    app = lesson.make_app(rate_limit=(1, 60))
    assert type(app.rate_limiter) is RateLimiter
    with capture_logs():
        assert [app.create_ticket(6, f"t{n}")["success"] for n in range(2)] == [True, False]
    assert lesson.client.type(lesson.keys.rate_limit("tickets", 6)) == "zset"
    assert lesson.make_app().rate_limiter is None


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
