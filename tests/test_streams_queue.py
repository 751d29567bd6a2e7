"""The streams queue (XADD, XREADGROUP, XACK, XAUTOCLAIM, XTRIM) on real Redis and fakeredis."""

from __future__ import annotations

import time
from typing import Any

import pytest
import redis

from helpdesk_kit.app import REGISTRY, HelpdeskApp
from helpdesk_kit.backends import RedisServer
from helpdesk_kit.cache import Cache
from helpdesk_kit.db import HelpdeskStore
from helpdesk_kit.keys import KeySchema
from helpdesk_kit.queue import RetryPolicy, StreamQueue, StreamTask, TaskQueue, Worker
from helpdesk_kit.queue.stream_entries import GROUP
from helpdesk_kit.vocab import Outcome


def _queue(client: redis.Redis, keys: KeySchema, runs: list[int] | None = None,
           **options: Any) -> StreamQueue:
    registry = REGISTRY.copy()

    def record(_ctx: object, task: StreamTask) -> None:
        if runs is not None:
            runs.append(task.payload["n"])
        if task.payload.get("fail"):
            raise ConnectionError("the provider is down")

    registry.register("record", record, {"n": int})
    return StreamQueue(client, keys, registry=registry, **options)


def _wait_idle(seconds: float) -> None:
    time.sleep(seconds * 1.3)


def test_enqueue_reserve_ack_is_xadd_xreadgroup_xack(redis_client: redis.Redis,
                                                     keys: KeySchema) -> None:
    queue = _queue(redis_client, keys)
    sent = queue.enqueue_many([("record", {"n": n}) for n in range(5)])
    assert redis_client.xlen(keys.tasks_stream) == 5
    assert queue.inspect().pending == 5
    taken = queue.reserve_many("w1", 3)
    assert [t.id for t in taken] == [t.id for t in sent[:3]]  # in order
    assert all(t.entry_id for t in taken)
    stats = queue.inspect()
    assert (stats.pending, stats.processing) == (2, 3)
    queue.ack("w1", taken)
    stats = queue.inspect()
    assert (stats.pending, stats.processing, stats.done) == (2, 0, 3)
    assert redis_client.xpending(keys.tasks_stream, GROUP)["pending"] == 0


def test_a_worker_in_streams_mode_runs_every_task(redis_client: redis.Redis,
                                                  keys: KeySchema) -> None:
    runs: list[int] = []
    queue = _queue(redis_client, keys, runs, trim_every=40)
    queue.enqueue_many([("record", {"n": n}) for n in range(300)])
    assert Worker(queue, None, mode="streams", batch=25).process_all() == {"processed": 300}
    assert sorted(runs) == list(range(300))
    stats = queue.inspect()
    assert (stats.pending, stats.processing, stats.done) == (0, 0, 300)
    assert queue.length() < 300  # acked entries were trimmed along the way
    assert queue.trim() >= 0 and queue.inspect().done == 300


def test_the_worker_and_the_queue_must_agree_on_the_mode(redis_client: redis.Redis,
                                                         keys: KeySchema) -> None:
    with pytest.raises(ValueError, match="StreamQueue"):
        Worker(TaskQueue(redis_client, keys, registry=REGISTRY), None, mode="streams")
    with pytest.raises(ValueError, match="TaskQueue"):
        Worker(_queue(redis_client, keys), None, mode="reliable")


def test_failures_retry_with_backoff_then_become_dead_letters(redis_client: redis.Redis,
                                                              keys: KeySchema) -> None:
    runs: list[int] = []
    queue = _queue(redis_client, keys, runs, retry=RetryPolicy(3, base_delay_s=0.02))
    queue.enqueue("record", {"n": 1, "fail": True})
    worker = Worker(queue, None, mode="streams", worker_id="w")
    deadline = time.monotonic() + 5
    while queue.inspect().dead == 0 and time.monotonic() < deadline:
        worker.process_all()
        time.sleep(0.02)
    assert runs == [1, 1, 1]  # three attempts, each a new entry after its delay
    letters = queue.dead_letters()
    assert [d.error for d in letters] == ["ConnectionError: the provider is down"]
    assert letters[0].task is not None and letters[0].task.attempts == 3
    stats = queue.inspect()
    assert (stats.pending, stats.processing, stats.delayed, stats.failed) == (0, 0, 0, 3)
    assert queue.retry_dead() == 1 and queue.inspect().pending == 1  # back on purpose
    assert queue.purge_dead() == 0


def test_fail_with_retry_acks_and_delays(redis_client: redis.Redis, keys: KeySchema) -> None:
    queue = _queue(redis_client, keys, retry=RetryPolicy(3, base_delay_s=60))
    queue.enqueue("record", {"n": 1})
    task = queue.reserve("w")
    assert task is not None
    assert queue.fail("w", task, "boom") == Outcome.RETRY
    stats = queue.inspect()
    assert (stats.processing, stats.delayed) == (0, 1)
    assert queue.promote_due() == 0  # not due for a minute
    assert queue.promote_due(now=int(time.time() * 1000) + 120_000) == 1
    again = queue.reserve("w")
    assert again is not None and again.id == task.id and again.attempts == 1
    assert again.entry_id != task.entry_id  # a new entry of the log


def test_a_dead_workers_entries_are_claimed_and_counted(redis_client: redis.Redis,
                                                        keys: KeySchema) -> None:
    runs: list[int] = []
    queue = _queue(redis_client, keys, runs)
    queue.enqueue_many([("record", {"n": n}) for n in range(10)])
    queue.register_worker("victim", 0.1)
    held = queue.reserve_many("victim", 4)  # ...and then it dies: no ack, no heartbeat
    _wait_idle(0.1)
    assert queue.claim_orphans("healthy", 0.1) == 4
    worker = Worker(queue, None, mode="streams", worker_id="healthy", heartbeat_ttl_s=0.1)
    worker.run(burst=True, handle_signals=False)
    assert sorted(runs) == list(range(10))
    recovered = [t for t in held if t.entry_id]
    assert len(recovered) == 4 and queue.inspect().processing == 0
    assert redis_client.hget(keys.tasks_stream_stats, "recovered") == "4"
    assert "victim" not in queue.worker_ids()  # its name was forgotten once it held nothing


def test_a_live_worker_keeps_its_entries_with_its_heartbeat(redis_client: redis.Redis,
                                                            keys: KeySchema) -> None:
    queue = _queue(redis_client, keys)
    queue.enqueue_many([("record", {"n": n}) for n in range(3)])
    queue.register_worker("slow", 0.2)
    queue.reserve_many("slow", 3)
    for _ in range(4):  # a long task: the heartbeat runs beside it
        time.sleep(0.08)
        queue.heartbeat("slow", 0.2)
    assert queue.claim_orphans("other", 0.2) == 0  # idle never reached the TTL
    assert queue.held_ids("slow") and queue.inspect().processing == 3


def test_a_task_that_kills_every_worker_is_buried_after_n_deliveries(
        redis_client: redis.Redis, keys: KeySchema) -> None:
    queue = _queue(redis_client, keys, retry=RetryPolicy(max_attempts=3))
    queue.enqueue("record", {"n": 0})
    queue.reserve("w0")  # delivery 1: w0 dies holding it
    claimed = []
    for n in range(1, 4):  # each claim is a delivery, XPENDING counts them
        _wait_idle(0.05)
        claimed.append(queue.claim_orphans(f"w{n}", 0.05))  # ...and w{n} dies too
    assert claimed == [1, 1, 0]  # the 3rd death: a dead letter instead of a 4th run
    assert [d.error for d in queue.dead_letters()] == ["worker died 3 times while processing it"]
    assert queue.inspect().processing == 0


def test_release_hands_everything_back_to_the_stream(redis_client: redis.Redis,
                                                     keys: KeySchema) -> None:
    queue = _queue(redis_client, keys)
    queue.enqueue_many([("record", {"n": n}) for n in range(5)])
    queue.register_worker("w", 10)
    taken = queue.reserve_many("w", 5)
    assert queue.unregister_worker("w") == 5
    stats = queue.inspect()
    assert (stats.pending, stats.processing) == (5, 0) and "w" not in queue.worker_ids()
    again = queue.reserve_many("x", 5)
    assert [t.id for t in again] == [t.id for t in taken]  # the same tasks, new entries


def test_trim_never_drops_pending_or_undelivered_entries(redis_client: redis.Redis,
                                                         keys: KeySchema) -> None:
    queue = _queue(redis_client, keys, trim_every=10_000)
    queue.enqueue_many([("record", {"n": n}) for n in range(600)])
    first = queue.reserve_many("w", 300)
    queue.ack("w", first[1:])  # the first one stays pending
    queue.trim()
    assert queue.length() == 600  # nothing before the oldest pending entry may go
    queue.ack("w", first[:1])
    queue.trim()
    remaining = queue.length()
    assert 300 <= remaining < 600  # approximate (~): whole nodes only, never unread ones
    assert len(queue.reserve_many("w", 1000)) == 300


def test_maxlen_is_a_memory_cap_that_drops_unprocessed_work(redis_client: redis.Redis,
                                                            keys: KeySchema) -> None:
    """The trap the lesson measures: MAXLEN trims whether or not a worker read the entry."""
    queue = _queue(redis_client, keys, max_len=50)
    queue.enqueue_many([("record", {"n": n}) for n in range(1000)])
    assert queue.length() < 300
    assert Worker(queue, None, mode="streams", batch=100).process_all()["processed"] < 300


def test_with_no_cap_a_full_redis_refuses_a_task_instead_of_dropping_one(keys: KeySchema
                                                                          ) -> None:
    """The default stream has no MAXLEN: when memory is full, ``XADD`` fails (the producer
    is told, as with the list queue) and every task accepted before stays, to be run."""
    with RedisServer() as server:
        client = server.client()
        queue = _queue(client, keys)
        assert queue.max_len is None
        client.config_set("maxmemory-policy", "noeviction")
        client.config_set("maxmemory", client.info("memory")["used_memory"] + 200_000)
        accepted = 0
        with pytest.raises(redis.OutOfMemoryError):
            for n in range(100_000):
                queue.enqueue("record", {"n": n})
                accepted += 1
        assert accepted > 100
        assert queue.length() == accepted  # nothing dropped to make room
        client.config_set("maxmemory", 0)  # the operator makes room
        runs: list[int] = []
        worker = Worker(_queue(client, keys, runs), None, mode="streams")
        assert worker.process_all()["processed"] == accepted
        assert runs == list(range(accepted))
        client.close()


def test_entries_trimmed_while_pending_are_counted(redis_client: redis.Redis,
                                                   keys: KeySchema) -> None:
    queue = _queue(redis_client, keys)
    queue.enqueue_many([("record", {"n": n}) for n in range(3)])
    queue.reserve_many("victim", 3)
    redis_client.xtrim(keys.tasks_stream, maxlen=0, approximate=False)
    _wait_idle(0.05)
    assert queue.claim_orphans("healthy", 0.05) == 0
    assert redis_client.hget(keys.tasks_stream_stats, "trimmed") == "3"
    assert queue.inspect().processing == 0


def test_a_deleted_stream_starts_again(redis_client: redis.Redis, keys: KeySchema) -> None:
    queue = _queue(redis_client, keys)
    queue.enqueue("record", {"n": 1})
    assert queue.reserve("w") is not None
    redis_client.delete(keys.tasks_stream)  # the group goes with it
    queue.enqueue("record", {"n": 2})
    task = queue.reserve("w")
    assert task is not None and task.payload["n"] == 2


def test_malformed_entries_are_buried_with_their_reason(redis_client: redis.Redis,
                                                        keys: KeySchema) -> None:
    queue = _queue(redis_client, keys)
    redis_client.xadd(keys.tasks_stream, {"hello": "world"})
    redis_client.xadd(keys.tasks_stream, {"task": b"\xff\xfe"})
    redis_client.xadd(keys.tasks_stream, {"task": '{"type": "nope", "payload": {}}'})
    queue.enqueue("record", {"n": 7})
    runs: list[int] = []
    queue = _queue(redis_client, keys, runs)
    assert Worker(queue, None, mode="streams").process_all() == {"processed": 2}
    assert runs == [7]  # the good task behind the garbage ran
    reasons = [d.error for d in queue.dead_letters()]
    assert len(reasons) == 3 and "'task' field" in reasons[0] and "UTF-8" in reasons[1]
    assert "unknown task type 'nope'" in reasons[2]  # parsed, then rejected by the worker
    stats = queue.inspect()
    assert (stats.pending, stats.processing, stats.dead) == (0, 0, 3)


def test_the_app_enqueues_on_the_stream_and_a_streams_worker_runs_it(
        redis_client: redis.Redis, keys: KeySchema, store: HelpdeskStore) -> None:
    queue = StreamQueue(redis_client, keys, registry=REGISTRY)
    app = HelpdeskApp(store, Cache(redis_client, keys), queue)
    result = app.create_ticket(3, "On the stream")
    assert result["success"] and result["notification"] == "queued"
    assert redis_client.xlen(keys.tasks_stream) == 1
    before = store.notification_count()
    assert Worker(queue, app.task_context(), mode="streams").process_all() == {"processed": 1}
    assert store.notification_count() == before + 1  # the same handler, run from the stream
