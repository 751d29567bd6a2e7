"""The "check yourself" answers of the lessons are what the kit and Redis really do.

A quiz's answer lives in the package (``exercises/lessonNN.py``), never in a cell; these tests
hold each answer to the behaviour it explains, on a real redis-server and on fakeredis.
"""

from __future__ import annotations

import importlib.util
import itertools
import json
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import redis
from conftest import until

from helpdesk_kit.backends import ClusterLab, RedisServer
from helpdesk_kit.backends.launch_persistent import PersistentServers
from helpdesk_kit.backends.launchers import wait_for
from helpdesk_kit.keys import KeySchema
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
    lesson12,
    lesson13,
    lesson14,
    lesson15,
    lesson16,
    lesson17,
    lesson18,
    lesson19,
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
               lesson04.check_quiz_2, lesson05.check_quiz, lesson05.check_quiz_2,
               lesson09.check_quiz, lesson10.check_quiz, lesson10.check_quiz_2,
               lesson11.check_quiz, lesson11.check_quiz_2, lesson16.check_quiz,
               lesson16.check_quiz_2, lesson17.check_quiz, lesson18.check_quiz,
               lesson12.check_quiz, lesson12.check_quiz_2, lesson13.check_quiz,
               lesson13.check_quiz_shared, lesson14.check_quiz, lesson14.check_quiz_2,
               lesson15.check_quiz, lesson15.check_quiz_2, lesson19.check_quiz]
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


# --- lessons 17 and 18: what a save point keeps, what volatile-lru refuses ------------------
def _push(client: redis.Redis, key: str, count: int) -> None:
    pipe = client.pipeline(transaction=False)
    for n in range(count):
        pipe.rpush(key, f"task-{n}")
    pipe.execute()


def test_17_a_save_point_needs_its_seconds_and_its_changes(redis_server: RedisServer) -> None:
    """The quiz on real servers of their own (``redis_server`` only makes CI fail without one).

    ``save 3600 1000``: 1,500 changes, as in the quiz, but its seconds have not passed - no
    snapshot, and a SIGKILL takes all 1,500 (the quiz: 0 left). ``save 1 1000``: both hold
    once a second has passed; the snapshot is waited for as a state (the changes since the last
    save drop to 0), and the same kill then loses none."""
    key = "quiz17:tasks:pending"
    with PersistentServers() as servers:
        waiting = servers.add("seconds-not-passed", {"save": "3600 1000", "appendonly": "no"})
        with waiting.client() as client:
            _push(client, key, 1500)
            assert client.info("persistence")["rdb_changes_since_last_save"] == 1500
            assert client.info("persistence")["rdb_bgsave_in_progress"] == 0   # none started
            servers.crash(waiting)
            servers.restart(waiting)
            assert client.llen(key) == lesson17.check_quiz.expected == 0
        both = servers.add("both-hold", {"save": "1 1000", "appendonly": "no"})
        with both.client() as client:
            _push(client, key, 1500)
            wait_for(lambda: client.info("persistence")["rdb_changes_since_last_save"] == 0, 30,
                     "the save point to fire")
            servers.crash(both)
            servers.restart(both)
            assert client.llen(key) == 1500


def test_18_volatile_lru_with_no_ttl_left_refuses_the_push(redis_server: RedisServer) -> None:
    """volatile-lru, memory filled with keys that have no TTL: Redis evicts every key with a
    TTL, never one without, and then refuses the next RPUSH with OOM - the quiz's b."""
    with RedisServer() as server:
        client = server.client()
        client.set("quiz18:ticket:7", "{}", ex=300)
        client.set("quiz18:session:ab12", "{}", ex=1800)
        client.rpush("quiz18:tasks:pending", "a task")
        used = client.info("memory")["used_memory"]
        client.config_set("maxmemory-policy", "volatile-lru")
        client.config_set("maxmemory", used + 200_000)
        with pytest.raises(redis.OutOfMemoryError):
            for n in range(10_000):
                client.set(f"filler:{n}", "x" * 200)             # no TTL: never evicted
        left = {key.removeprefix("quiz18:") for key in client.scan_iter("quiz18:*")}
        assert left == {"tasks:pending"}                         # every TTL key evicted
        with pytest.raises(redis.OutOfMemoryError):                 # the quiz's next enqueue
            client.rpush("quiz18:tasks:pending", "one more task")
        assert client.llen("quiz18:tasks:pending") == 1              # refused, nothing lost
        assert client.info("stats")["evicted_keys"] >= 2
        client.close()
    assert lesson18.check_quiz.expected == "b"


# --- lessons 06-08: the queue and the monitor ------------------------------------------------
def test_06_07_08_quizzes_wait_for_an_answer_and_hide_their_reason() -> None:
    from helpdesk_kit.lessons.exercises import lesson06, lesson07, lesson08

    for quiz in (lesson06.check_quiz, lesson06.check_quiz_2, lesson07.check_quiz,
                 lesson07.check_quiz_2, lesson08.check_quiz, lesson08.check_quiz_2):
        assert isinstance(quiz, Quiz)
        assert quiz(...).ok is None and quiz(quiz.expected).ok is True
        wrong = quiz("z" if isinstance(quiz.expected, str) else -1)
        assert wrong.ok is False and quiz.why not in wrong.message


def test_06_the_client_that_waited_longest_gets_the_task(redis_server: RedisServer) -> None:
    from helpdesk_kit.lessons.exercises import lesson06

    key = f"quiz06:{uuid.uuid4().hex}"
    watcher = redis_server.client()
    got: dict[str, object] = {}

    def wait(name: str) -> None:
        with redis_server.client() as own:
            got[name] = own.blpop([key], timeout=1)

    first = threading.Thread(target=wait, args=("A",))
    first.start()
    until(lambda: watcher.info("clients")["blocked_clients"] == 1, what="A blocks")
    second = threading.Thread(target=wait, args=("B",))
    second.start()
    until(lambda: watcher.info("clients")["blocked_clients"] == 2, what="B blocks")
    watcher.rpush(key, "task")
    first.join(5)
    second.join(5)
    watcher.close()
    assert got == {"A": (key, "task"), "B": None}  # B's BLPOP ran out: nil
    assert lesson06.check_quiz.expected == "a"


def test_06_rpush_with_rpop_is_a_stack(redis_client: redis.Redis, keys: KeySchema) -> None:
    from helpdesk_kit.lessons.exercises import lesson06

    for ticket in (5, 6, 7):
        redis_client.rpush(keys.tasks_pending, ticket)
    taken = [redis_client.rpop(keys.tasks_pending) for _ in range(3)]
    assert ", ".join(taken) == lesson06.check_quiz_2.giveaways[0]
    assert lesson06.check_quiz_2.expected == "c"


def test_07_a_batch_killed_in_its_last_task_runs_its_done_tasks_again(
        open_lesson: Callable[..., Lesson]) -> None:
    from helpdesk_kit.app import TaskContext, helpdesk_queue
    from helpdesk_kit.lessons.exercises import lesson07
    from helpdesk_kit.widgets.crash import crash_and_recover

    lesson = open_lesson("07_reliable_queue", users=20, tickets=50)
    context = TaskContext(lesson.store, None, lesson.client, lesson.keys)
    batch = lesson07.QUIZ_BATCH
    with capture_logs():
        report = crash_and_recover(helpdesk_queue(lesson.client, lesson.keys), context,
                                   mode="reliable", tasks=batch, batch=batch, crash_at=batch,
                                   heartbeat_ttl_s=0.05)
    assert report.lost == 0 and report.recovered == batch
    assert report.handler_runs == lesson07.check_quiz.expected


def test_07_lrem_with_a_count_of_0_removes_every_copy(redis_client: redis.Redis,
                                                     keys: KeySchema) -> None:
    from helpdesk_kit.lessons.exercises import lesson07

    held = keys.tasks_processing("w1")
    redis_client.rpush(held, "task", "task")
    assert redis_client.lrem(held, 0, "task") == 2 and not redis_client.exists(held)
    assert lesson07.check_quiz_2.expected == "b"


def test_08_the_keyspace_line_and_the_monitors_own_reads() -> None:
    from helpdesk_kit.lessons.exercises import lesson08

    fields = dict(part.split("=") for part in lesson08.QUIZ_LINE.split(":")[1].split(","))
    assert (int(fields["keys"]) - int(fields["expires"]),
            int(fields["avg_ttl"]) // 1000) == lesson08.check_quiz.expected
    with RedisServer() as server, server.client() as client:  # nobody else reads here
        for n in range(lesson08.QUIZ_POLL_KEYS):
            client.set(f"ticket:{n}", "{}", ex=300)
        for _ in range(3):  # the dashboard polls; nobody reads the cache
            for n in range(lesson08.QUIZ_POLL_KEYS):
                client.pttl(f"ticket:{n}")
            client.llen("tasks:pending")
            client.dbsize()
            stats = client.info("stats")
    rate = stats["keyspace_hits"] / (stats["keyspace_hits"] + stats["keyspace_misses"])
    assert f"{rate:.0%}" == lesson08.check_quiz_2.giveaways[0]
    assert lesson08.check_quiz_2.expected == "b"
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
