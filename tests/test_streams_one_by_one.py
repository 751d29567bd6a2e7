"""One task at a time on the stream: the ack and the next read share one round trip.

Counted, not timed: every request this process sends to Redis is recorded (a pipeline is one
request), on real Redis and on fakeredis. ``bench/`` measures what the saved round trip is
worth.
"""

from __future__ import annotations

from typing import Any

import pytest
import redis
from conftest import refuse_scripts
from redis.connection import AbstractConnection

from helpdesk_kit.app import REGISTRY
from helpdesk_kit.backends.scripts import ScriptRunner
from helpdesk_kit.keys import KeySchema
from helpdesk_kit.queue import StreamQueue, StreamTask, Task, Worker
from helpdesk_kit.queue.stream_entries import GROUP
from helpdesk_kit.queue.stream_queue import STREAM_LIBRARY


def _queue(client: redis.Redis, keys: KeySchema, runs: list[int]) -> StreamQueue:
    registry = REGISTRY.copy()

    def record(_ctx: object, task: StreamTask) -> None:
        runs.append(task.payload["n"])

    registry.register("record", record, {"n": int})
    return StreamQueue(client, keys, registry=registry)


def _count_round_trips(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """Every request sent from now on, as the bytes that went out: one item per round trip."""
    sent: list[bytes] = []
    real = AbstractConnection.send_packed_command

    def counting(self: AbstractConnection, command: Any, check_health: bool = True) -> None:
        sent.append(command if isinstance(command, bytes) else b"".join(command))
        real(self, command, check_health)

    monkeypatch.setattr(AbstractConnection, "send_packed_command", counting)
    return sent


def test_ack_and_reserve_is_one_round_trip_that_keeps_one_entry_pending(
        redis_client: redis.Redis, keys: KeySchema, monkeypatch: pytest.MonkeyPatch) -> None:
    queue = _queue(redis_client, keys, [])
    queue.enqueue_many([("record", {"n": n}) for n in (1, 2)])
    first = queue.ack_and_reserve("w1", None)  # nothing to ack yet (and the group is made)
    assert first is not None and first.payload == {"n": 1}
    sent = _count_round_trips(monkeypatch)
    second = queue.ack_and_reserve("w1", first)
    assert len(sent) == 1 and b"FCALL" in sent[0]  # XACK, HINCRBY, XREADGROUP: one function
    assert second is not None and second.payload == {"n": 2}
    pending = redis_client.xpending_range(keys.tasks_stream, GROUP, "-", "+", 10)
    assert [p["message_id"] for p in pending] == [second.entry_id]  # never neither, never both
    assert queue.ack_and_reserve("w1", second) is None  # nothing left: the ack alone
    stats = queue.inspect()
    assert (stats.pending, stats.processing, stats.done) == (0, 0, 2)


def test_ack_and_reserve_buries_garbage_and_takes_the_next(redis_client: redis.Redis,
                                                           keys: KeySchema) -> None:
    queue = _queue(redis_client, keys, [])
    redis_client.xadd(keys.tasks_stream, {"task": b"\xff\xfe"})  # not UTF-8: read as bytes
    good = queue.enqueue("record", {"n": 4})
    taken = queue.ack_and_reserve("w1", None)
    assert taken is not None and taken.id == good.id
    assert ["UTF-8" in d.error for d in queue.dead_letters()] == [True]
    assert queue.inspect().processing == 1  # the good one, pending for w1


def test_a_finished_task_that_is_no_entry_is_counted_and_nothing_acked(
        redis_client: redis.Redis, keys: KeySchema) -> None:
    queue = _queue(redis_client, keys, [])
    held = queue.enqueue("record", {"n": 1})
    taken = queue.ack_and_reserve("w1", None)
    assert taken is not None and taken.id == held.id
    assert queue.ack_and_reserve("w1", Task("record", {"n": 0})) is None  # ran inline, say
    stats = queue.inspect()
    assert (stats.processing, stats.done) == (1, 1)  # the entry is still held: not acked


def test_ack_and_reserve_serves_recovered_entries_first(redis_client: redis.Redis,
                                                        keys: KeySchema) -> None:
    queue = _queue(redis_client, keys, [])
    queue.enqueue_many([("record", {"n": n}) for n in (1, 2)])
    assert queue.reserve("dead") is not None  # a worker takes n=1 and dies
    assert queue.claim_orphans("w1", 0) == 1
    recovered = queue.ack_and_reserve("w1", None)
    assert recovered is not None and recovered.payload == {"n": 1}
    following = queue.ack_and_reserve("w1", recovered)
    assert following is not None and following.payload == {"n": 2}
    assert queue.inspect().done == 1


def test_ack_and_reserve_without_scripts_acks_then_reads(
        redis_client: redis.Redis, keys: KeySchema, monkeypatch: pytest.MonkeyPatch) -> None:
    """A Redis that refuses scripts (a managed service, an ACL): two round trips, same result."""
    queue = _queue(redis_client, keys, [])
    queue.enqueue_many([("record", {"n": n}) for n in (1, 2)])
    first = queue.reserve("w1")
    refuse_scripts(monkeypatch, redis_client)
    second = queue.ack_and_reserve("w1", first)
    assert second is not None and second.payload == {"n": 2}
    pending = redis_client.xpending_range(keys.tasks_stream, GROUP, "-", "+", 10)
    assert [p["message_id"] for p in pending] == [second.entry_id]
    assert queue.inspect().done == 1


def test_ack_and_reserve_after_the_stream_was_deleted_starts_again(redis_client: redis.Redis,
                                                                   keys: KeySchema) -> None:
    queue = _queue(redis_client, keys, [])
    queue.enqueue("record", {"n": 1})
    held = queue.ack_and_reserve("w1", None)
    redis_client.delete(keys.tasks_stream)  # the group goes with it
    queue.enqueue("record", {"n": 2})  # XADD makes the stream again, without the group
    task = queue.ack_and_reserve("w1", held)
    assert task is not None and task.payload == {"n": 2}


def test_a_one_by_one_streams_worker_pays_one_round_trip_per_task(
        redis_client: redis.Redis, keys: KeySchema, monkeypatch: pytest.MonkeyPatch) -> None:
    """Of the requests that read or ack entries, a run of n tasks sends n + 2: the first read,
    one ack-and-read function call per task (the last read finds nothing) and process_all's
    last look.
    The rest (group, heartbeat, maintenance, hand-back) does not grow with n."""
    runs: list[int] = []
    # loaded before counting: FUNCTION LOAD carries the script's text, XREADGROUP and all
    assert ScriptRunner(redis_client, STREAM_LIBRARY).ensure_loaded() == "functions"
    sent = _count_round_trips(monkeypatch)
    for n in (5, 15):
        queue = _queue(redis_client, keys, runs)
        queue.enqueue_many([("record", {"n": i}) for i in range(n)])
        sent.clear()
        # no heartbeat thread request during the run: its first beat is 200 s away
        worker = Worker(queue, None, mode="streams", batch=1, heartbeat_ttl_s=600)
        assert worker.process_all() == {"processed": n}
        on_entries = [r for r in sent if b"FCALL" in r or b"XREADGROUP" in r]
        assert len(on_entries) == n + 2
        assert sum(b"FCALL" in r for r in on_entries) == n  # never an ack alone
    assert sorted(runs) == sorted([*range(5), *range(15)])
    stats = queue.inspect()
    assert (stats.pending, stats.processing, stats.done) == (0, 0, 20)
