"""The "check yourself" answers of the rewritten lessons are what the kit and Redis really do.

A quiz's answer lives in the package (``exercises/lessonNN.py``), never in a cell; these tests
hold each answer to the behaviour it explains, on a real redis-server and on fakeredis.
"""

from __future__ import annotations

import importlib.util
import itertools
import json
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest
import redis

from helpdesk_kit.backends import RedisServer
from helpdesk_kit.lessons import Lesson, capture_logs, counting_client, lesson_prefix
from helpdesk_kit.lessons.checks import Quiz
from helpdesk_kit.lessons.exercises import (
    lesson00,
    lesson01,
    lesson02,
    lesson03,
    lesson04,
    lesson12,
    lesson13,
    lesson14,
    lesson15,
)
from helpdesk_kit.widgets.invalidation import stale_read_race
from helpdesk_kit.widgets.warming import recent_first_reads


def _solution(name: str) -> ModuleType:
    path = Path(__file__).resolve().parent.parent / "notebooks" / "solutions" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"solution_{name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_quiz_waits_for_an_answer_and_hides_its_reason() -> None:
    quizzes = [lesson00.check_quiz, lesson01.check_quiz, lesson01.check_quiz_2,
               lesson02.check_quiz, lesson03.check_quiz, lesson04.check_quiz,
               lesson04.check_quiz_2, lesson12.check_quiz, lesson12.check_quiz_2,
               lesson13.check_quiz, lesson13.check_quiz_shared, lesson14.check_quiz,
               lesson14.check_quiz_2, lesson15.check_quiz, lesson15.check_quiz_2]
    for quiz in quizzes:
        assert isinstance(quiz, Quiz)
        assert quiz(...).ok is None
        assert quiz(quiz.expected).ok is True
        wrong = quiz("z" if isinstance(quiz.expected, str) else -1)
        assert wrong.ok is False and quiz.why not in wrong.message  # explained once answered


def test_00_a_classmates_key_is_their_prefix_then_the_seeds_name() -> None:
    prefix = lesson_prefix("bob:", "00_start_here", "server")
    assert f"{prefix}ticket:7" == lesson00.check_quiz.expected


def test_01_the_hit_rate_of_the_quiz_reads(open_lesson: Callable[..., Lesson]) -> None:
    lesson = open_lesson("01_cache_aside", users=20, tickets=50)
    app = lesson.make_app()
    with capture_logs():
        for ticket_id in lesson01.QUIZ_READS:
            app.get_ticket(ticket_id)
    assert app.cache.total_stats().hit_rate == lesson01.check_quiz.expected  # type: ignore[union-attr]


def test_02_a_read_does_not_move_the_expiry(open_lesson: Callable[..., Lesson]) -> None:
    lesson = open_lesson("02_keys_ttl_serialisation", users=20, tickets=50)
    key = lesson.keys.ticket(1)
    lesson.client.set(key, "{}", ex=lesson02.check_quiz.expected)
    before = lesson.client.pttl(key)
    lesson.client.get(key)
    assert lesson.client.pttl(key) <= before


def test_03_the_guard_compares_the_generation(open_lesson: Callable[..., Lesson]) -> None:
    from helpdesk_kit.cache import Cache

    lesson = open_lesson("03_invalidation", users=20, tickets=50)
    generation = lesson.keys.generation("ticket", 13)
    _, served = stale_read_race(lesson.store, Cache(lesson.client, lesson.keys), 13,
                                new_status="closed")
    assert served == "closed" and lesson.client.get(generation) == "1"
    assert lesson03.check_quiz.expected == "c"


def test_04_a_cold_start_hits_on_repeats_and_pipelines_count_one_trip_each(
        open_lesson: Callable[..., Lesson]) -> None:
    lesson = open_lesson("04_cache_warming", users=20, tickets=300)
    reads = recent_first_reads(lesson, 100)
    app = lesson.make_app()
    with capture_logs():
        for ticket_id in reads:
            app.get_ticket(ticket_id)
    hits = app.cache.total_stats().hits  # type: ignore[union-attr]
    assert hits == len(reads) - len(set(reads)) > 0  # only repeats hit: quiz answer b
    assert lesson04.check_quiz.expected == "b"
    counted, trips = counting_client(lesson.client)
    for start in range(0, 2000, 500):
        pipe = counted.pipeline(transaction=False)
        for user_id in range(start, start + 500):
            pipe.set(lesson.keys.user(user_id), "{}", ex=300)
        pipe.execute()
    counted.close()
    assert trips.count == lesson04.check_quiz_2.expected


def test_12_a_listener_away_hears_nothing_and_drops_a_repeat(
        open_lesson: Callable[..., Lesson]) -> None:
    from helpdesk_kit.app import Listener

    lesson = open_lesson("12_pubsub", users=20, tickets=20)
    channel = lesson.keys.notifications_channel

    def note(task: str) -> str:
        return json.dumps({"taskId": task, "ticketId": 1, "usuarioId": 1, "tipo": "t",
                           "createdAt": ""})

    handed: list[str] = []
    listener = Listener(lesson.client, lesson.keys).start()
    lesson.client.publish(channel, note("A"))
    lesson.client.publish(channel, note("A"))  # the retry
    handed += [n.task_id for n in listener.listen(count=2, seconds=0.5)]
    listener.close()  # the connection drops
    away = [lesson.client.publish(channel, note(task)) for task in ("B", "C")]
    listener = Listener(lesson.client, lesson.keys).start()  # subscribed again
    lesson.client.publish(channel, note("D"))
    handed += [n.task_id for n in listener.listen(count=1, seconds=2)]
    listener.close()
    assert away == [0, 0] and handed == ["A", "D"]
    assert len(handed) == lesson12.check_quiz.expected


def test_12_a_subscribed_resp2_connection_refuses_a_get(redis_server: RedisServer) -> None:
    with redis.Redis(unix_socket_path=str(redis_server.socket)) as client:  # the lessons' way
        assert b"resp=3" in client.execute_command("CLIENT", "INFO")  # redis-py 8: RESP3
    connection = redis.UnixDomainSocketConnection(path=str(redis_server.socket), protocol=2)
    try:
        connection.send_command("SUBSCRIBE", "quiz12")
        assert connection.read_response()[0] == b"subscribe"
        connection.send_command("GET", "anything")
        with pytest.raises(redis.ResponseError, match=r"only .*SUBSCRIBE"):
            reply = connection.read_response()
            if isinstance(reply, Exception):
                raise reply
    finally:
        connection.disconnect()
    assert lesson12.check_quiz_2.expected == "b"


def test_13_a_fixed_window_lets_a_full_window_through_after_its_edge(
        open_lesson: Callable[..., Lesson]) -> None:
    from helpdesk_kit.lessons.conformance import reference  # noqa: F401 (the kit's is a log)

    lesson = open_lesson("13_lua_functions", users=20, tickets=20)
    allow = _solution("lesson13").allow_ticket
    limit, first_window, after = lesson13.FIXED_WINDOW_QUIZ
    before = [allow(lesson.client, lesson.keys, 1, limit, 60_000) for _ in range(first_window)]
    lesson.client.delete(lesson.keys.rate_limit("tickets", 1))  # 12:01:00: the window ends
    later = [allow(lesson.client, lesson.keys, 1, limit, 60_000) for _ in range(after)]
    assert all(before) and later.count(True) == lesson13.check_quiz.expected


def test_14_a_reread_and_a_claim_each_count_a_delivery(open_lesson: Callable[..., Lesson]
                                                       ) -> None:
    lesson = open_lesson("14_streams", users=20, tickets=20)
    stream = f"{lesson.keys.prefix}quiz"
    lesson.client.xgroup_create(stream, "workers", id="0", mkstream=True)
    lesson.client.xadd(stream, {"n": 1})
    lesson.client.xreadgroup("workers", "A", {stream: ">"})  # delivery 1 ... A crashes
    lesson.client.xreadgroup("workers", "A", {stream: "0"})  # A restarts: delivery 2
    lesson.client.xautoclaim(stream, "workers", "B", 0, "0-0")  # B claims it: delivery 3
    pending = lesson.client.xpending_range(stream, "workers", "-", "+", 10)
    assert pending[0]["times_delivered"] == lesson14.check_quiz.expected
    assert not lesson.client.xreadgroup("workers", "B", {stream: ">"})  # '>' gives no pending
    assert lesson14.check_quiz_2.expected == "b"


def test_15_a_repeat_is_a_new_entry_and_the_fold_skips_it() -> None:
    from helpdesk_kit.app.events import TicketEvent, rebuild
    from helpdesk_kit.vocab import TicketEventKind as Kind

    def event(kind: Kind, version: int) -> TicketEvent:
        data = {"title": "t", "status": "open"} if kind == Kind.CREATED else {}
        return TicketEvent(kind, 7, version, "", data)

    story = [event(Kind.CREATED, 1), event(Kind.UPDATED, 2), event(Kind.COMMENTED, 3),
             event(Kind.COMMENTED, 3), event(Kind.CLOSED, 4)]
    state = rebuild(story)
    assert state is not None and state.version == 4 and state.status == "closed"
    assert state.comments == 1  # the second "commented" (version 3) was skipped
    applied = 1 + sum(1 for before, e in itertools.pairwise(story) if e.version > before.version)
    assert len(story) - applied == lesson15.check_quiz_2.expected
    assert lesson15.check_quiz.expected == "b"
