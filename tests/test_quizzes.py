"""The "check yourself" answers of the lessons are what the kit and Redis really do.

A quiz's answer lives in the package (``exercises/lessonNN.py``), never in a cell; these tests
hold each answer to the behaviour it explains, on a real redis-server and on fakeredis.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import redis

from helpdesk_kit.backends import ClusterLab, RedisServer
from helpdesk_kit.lessons import Lesson, capture_logs, counting_client, lesson_prefix
from helpdesk_kit.lessons.checks import Quiz
from helpdesk_kit.lessons.exercises import (
    lesson00,
    lesson01,
    lesson02,
    lesson03,
    lesson04,
    lesson05,
    lesson09,
    lesson10,
    lesson11,
    lesson16,
    lesson19,
)
from helpdesk_kit.widgets.invalidation import stale_read_race
from helpdesk_kit.widgets.warming import recent_first_reads


def test_every_quiz_waits_for_an_answer_and_hides_its_reason() -> None:
    quizzes = [lesson00.check_quiz, lesson01.check_quiz, lesson01.check_quiz_2,
               lesson02.check_quiz, lesson03.check_quiz, lesson04.check_quiz,
               lesson04.check_quiz_2, lesson05.check_quiz, lesson05.check_quiz_2,
               lesson09.check_quiz, lesson10.check_quiz, lesson10.check_quiz_2,
               lesson11.check_quiz, lesson11.check_quiz_2, lesson16.check_quiz,
               lesson16.check_quiz_2, lesson19.check_quiz]
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


def test_05_under_uniform_reads_only_memory_raises_the_hit_rate() -> None:
    from dataclasses import replace

    from helpdesk_kit.lab.simulate import SimConfig, simulate

    base = SimConfig(pattern="uniform", capacity=int(2000 * lesson05.QUIZ_CAPACITY_SHARE))
    changes = {"a": replace(base, ttl=3600), "b": replace(base, capacity=1200),
               "c": replace(base, policy="allkeys-lfu")}
    rates = {option: simulate(config).hit_rate for option, config in changes.items()}
    assert max(rates, key=lambda option: rates[option]) == lesson05.check_quiz.expected
    unchanged = simulate(base).hit_rate
    assert rates["a"] < unchanged + 0.01 and rates["c"] < unchanged + 0.01  # no real gain


def test_05_volatile_lru_evicts_only_keys_with_a_ttl(redis_server: RedisServer) -> None:
    """On a server of its own (CONFIG SET is server-wide; the session's ``redis_server`` is
    asked for only so that a missing redis-server fails in CI): sessions with EX, settings
    without, memory full under volatile-lru; only sessions go."""
    server = RedisServer().start()
    try:
        client = server.client()
        for n in range(100):
            client.set(f"setting:{n}", "x" * 1024)
        for n in range(100):
            client.set(f"session:{n}", "x" * 1024, ex=1800)
        client.config_set("maxmemory-policy", "volatile-lru")
        client.config_set("maxmemory", client.info("memory")["used_memory"] + 32 * 1024)
        for n in range(100, 200):
            client.set(f"session:{n}", "x" * 1024, ex=1800)  # a new session: room is made
        settings_left = client.exists(*(f"setting:{n}" for n in range(100)))
        sessions_left = client.exists(*(f"session:{n}" for n in range(200)))
        assert client.info("stats")["evicted_keys"] > 0
        assert settings_left == 100 and sessions_left < 200
        assert lesson05.check_quiz_2.expected == "b"
        client.close()
    finally:
        server.stop()


def test_09_below_the_break_even_the_average_read_is_slower_but_a_hit_is_not() -> None:
    from helpdesk_kit.lab.compare import break_even_hit_rate, expected_read_ms

    db_ms, cache_ms, hit_rate = 3.0, 1.0, 0.45  # the quiz's numbers
    assert hit_rate < break_even_hit_rate(db_ms, cache_ms)
    assert expected_read_ms(hit_rate, db_ms, cache_ms) > db_ms > cache_ms
    assert (expected_read_ms(hit_rate, db_ms, cache_ms) < db_ms) is lesson09.check_quiz.expected


def test_10_wait_1_answers_1_while_the_other_replica_lacks_the_write(
        redis_server: RedisServer) -> None:
    """Quiz 1's premise on real servers (``redis_server`` only makes CI fail without one): with
    one of two replicas paused, WAIT 1 answers 1 and the paused replica has not acknowledged
    the write - it is the one a failover could promote."""
    import signal

    lab = lesson10.practice_set()
    primary = lab.primary()
    paused = next(node for node in lab.data if node.alive and node is not primary)
    assert paused.process is not None
    with primary.client() as client:
        paused.process.send_signal(signal.SIGSTOP)
        try:
            client.set("quiz10:task", "pushed")
            offset = int(client.role()[1])
            assert client.wait(1, 1000) == 1
            acked = {f"{ip}:{port}": int(at) for ip, port, at in client.role()[2]}
        finally:
            paused.process.send_signal(signal.SIGCONT)
        client.delete("quiz10:task")
    assert acked[paused.address] < offset <= max(acked.values())
    assert lesson10.check_quiz.expected == "b"


def test_10_min_replicas_max_lag_refuses_a_write_when_no_replica_was_heard_from(
        redis_server: RedisServer) -> None:
    """Quiz 2 on real servers: both replicas silent for longer than min-replicas-max-lag (they
    are paused, their connections stay open); the SET is refused and not applied."""
    import signal
    import time

    lab = lesson10.practice_set()
    primary = lab.primary()
    replicas = [node for node in lab.data if node.alive and node is not primary]
    with primary.client() as client:
        client.config_set("min-replicas-max-lag", 1)
        client.config_set("min-replicas-to-write", 1)
        for node in replicas:
            assert node.process is not None
            node.process.send_signal(signal.SIGSTOP)
        try:
            deadline = time.monotonic() + 10  # bounds the wait; nothing asserts a duration
            refused = None
            while refused is None and time.monotonic() < deadline:
                try:
                    client.set("quiz10:guarded", "x")
                    client.delete("quiz10:guarded")
                    time.sleep(0.2)
                except redis.ResponseError as exc:
                    refused = str(exc)
        finally:
            for node in replicas:
                node.process.send_signal(signal.SIGCONT)
            client.config_set("min-replicas-to-write", 0)
            client.config_set("min-replicas-max-lag", 10)
        assert refused is not None and refused.startswith("NOREPLICAS")
        assert client.get("quiz10:guarded") is None  # refused before it was applied
    assert lesson10.check_quiz_2.expected == "b"


def test_11_only_a_shared_tag_shares_a_slot() -> None:
    from helpdesk_kit.backends.cluster import hash_slot

    pairs = {"a": ("{user:7}.name", "{user:7}.email"), "b": ("user:7.name", "user:7.email"),
             "c": ("{user}:7", "{user:7}")}
    same = [option for option, (one, other) in pairs.items()
            if hash_slot(one) == hash_slot(other)]
    assert same == [lesson11.check_quiz.expected]


def test_11_two_slots_on_one_primary_are_still_crossslot(cluster_lab: ClusterLab) -> None:
    """Quiz 2 on the session cluster: the node serving slots 2648 and 2780 refuses the MGET."""
    from helpdesk_kit.backends.cluster import hash_slot
    from helpdesk_kit.lessons.exercises.lesson11 import shard_of

    one, other = "{user:3}.name", "{user:7}.name"
    assert (hash_slot(one), hash_slot(other)) == (2648, 2780)
    primary, _ = shard_of(cluster_lab, one)
    assert shard_of(cluster_lab, other)[0] == primary  # one node serves both slots
    node = next(n for n in cluster_lab.nodes if n.address == primary)
    with node.client() as client:
        client.set(one, "Ana")
        client.set(other, "Noa")
        try:
            client.mget(one, other)
        except redis.exceptions.ClusterCrossSlotError:
            refused = True
        else:
            refused = False
        client.delete(one)
        client.delete(other)
    assert refused and lesson11.check_quiz_2.expected == "b"


def test_19_a_worker_killed_after_its_work_and_before_the_ack_did_it_twice(
        redis_server: RedisServer) -> None:
    """Drill 2 with the kill moved after the handler: the reference solution's recovery runs
    that task again, so its work is done twice - the quiz's answer."""
    from test_solutions import SOLUTIONS, load_solution

    from helpdesk_kit.keys import KeySchema
    from helpdesk_kit.lessons.capstone import KillPoint, Verdict, crash_drill
    from helpdesk_kit.lessons.capstone.crash import VICTIM

    keys = KeySchema(prefix=f"test:{uuid.uuid4().hex[:8]}:")
    namespace = load_solution(SOLUTIONS / "lesson19.py").answer
    finding = crash_drill(redis_server.url, keys, namespace, kill=KillPoint.AFTER_WORK)
    client = redis_server.client()
    for key in client.scan_iter(match=f"{keys.prefix}*"):
        client.delete(key)
    client.close()
    assert finding.verdict == Verdict.HELD, finding.detail
    assert f"{VICTIM} {lesson19.check_quiz.expected}x" in finding.steps[-1]
    assert "ran to the end twice" in finding.detail
