"""The "check yourself" answers of lessons 00-04 and 16 are what the kit and Redis really do.

A quiz's answer lives in the package (``exercises/lessonNN.py``), never in a cell; these tests
hold each answer to the behaviour it explains, on a real redis-server and on fakeredis.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

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
    lesson16,
)
from helpdesk_kit.widgets.invalidation import stale_read_race
from helpdesk_kit.widgets.warming import recent_first_reads


def test_every_quiz_waits_for_an_answer_and_hides_its_reason() -> None:
    quizzes = [lesson00.check_quiz, lesson01.check_quiz, lesson01.check_quiz_2,
               lesson02.check_quiz, lesson03.check_quiz, lesson04.check_quiz,
               lesson04.check_quiz_2, lesson16.check_quiz, lesson16.check_quiz_2]
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


# --- lesson 16: tracking, by hand ------------------------------------------------------------
@contextmanager
def _tracked(server: RedisServer, prefix: str) -> Iterator[tuple[Any, redis.Redis]]:
    """Lesson 16's two connections: a listener (also subscribed to a plain channel, whose
    message marks the end of what to read) and a data connection tracking ``prefix`` for it."""
    listener = redis.Redis.from_url(server.url, protocol=2, decode_responses=True).pubsub()
    listener.execute_command("CLIENT ID")
    listener_id = listener.parse_response()
    listener.subscribe(lesson16.CHANNEL, f"{prefix}marker")
    data = redis.Redis.from_url(server.url, protocol=2, decode_responses=True,
                                single_connection_client=True)
    data.client_tracking_on(clientid=listener_id, bcast=True, prefix=[prefix])
    try:
        yield listener, data
    finally:
        listener.close()
        data.close()


def _invalidations_until_the_marker(listener: Any, writer: redis.Redis, prefix: str
                                    ) -> list[Any]:
    """The invalidations heard before the marker, published after the writes: one connection
    delivers in order, so none can come later (no clock decides)."""
    writer.publish(f"{prefix}marker", "end")
    heard = []
    while (message := listener.get_message(timeout=5)) is not None:
        if message["type"] != "message":
            continue  # the confirmations of SUBSCRIBE
        if message["channel"] == f"{prefix}marker":
            return heard
        heard.append(message["data"])
    raise AssertionError("the marker never arrived")


def test_16_invalidations_follow_changes_not_commands(redis_server: RedisServer) -> None:
    base = f"q{uuid.uuid4().hex[:8]}:"  # the quiz's keys, under a prefix of this test's own
    prefix = f"{base}ticket:"
    with _tracked(redis_server, prefix) as (listener, _data), redis_server.client() as writer:
        for command, *args in lesson16.QUIZ_COMMANDS:
            writer.execute_command(command, *(a.replace("lesson16:", base) for a in args))
        heard = _invalidations_until_the_marker(listener, writer, prefix)
    assert heard == [[f"{prefix}1"], [f"{prefix}1"]]  # the SET and the first DEL
    assert len(heard) == lesson16.check_quiz.expected


def test_16_tracking_ends_with_the_connection_that_asked(redis_server: RedisServer) -> None:
    prefix = f"q{uuid.uuid4().hex[:8]}:ticket:"
    with _tracked(redis_server, prefix) as (listener, data), redis_server.client() as writer:
        writer.set(f"{prefix}7", "before")
        assert _invalidations_until_the_marker(listener, writer, prefix) == [[f"{prefix}7"]]
        data.close()  # connection 2, which sent CLIENT TRACKING, is gone
        writer.set(f"{prefix}7", "x")
        assert _invalidations_until_the_marker(listener, writer, prefix) == []  # nothing
    assert lesson16.check_quiz_2.expected == "b"
