"""The worker in this process: the design's batch loop, retries, bad input, two workers at once."""

from __future__ import annotations

import logging
import threading
import time

import pytest
import redis

from helpdesk_kit.app import REGISTRY, TaskContext, helpdesk_queue
from helpdesk_kit.db import HelpdeskStore
from helpdesk_kit.db.sample import SAMPLE_NOW
from helpdesk_kit.keys import KeySchema
from helpdesk_kit.queue import RetryPolicy, Task, TaskQueue, Worker
from helpdesk_kit.queue.protocol import PopQueue
from helpdesk_kit.vocab import QueueMode


def _recording_queue(client: redis.Redis, keys: KeySchema, fail_times: int = 0) -> TaskQueue:
    """A queue whose registry adds ``record``: counts each run in a Redis hash by ``n``."""
    registry = REGISTRY.copy()
    failures: dict[int, int] = {}

    def record(ctx: TaskContext, task: Task) -> None:
        n = task.payload["n"]
        if failures.get(n, 0) < fail_times:
            failures[n] = failures.get(n, 0) + 1
            raise RuntimeError(f"flaky {n}")
        client.hincrby(f"{keys.prefix}runs", str(n), 1)

    registry.register("record", record, {"n": int})
    return TaskQueue(client, keys, registry=registry, retry=RetryPolicy(3, base_delay_s=0))


@pytest.mark.parametrize("mode", ["pop", "reliable"])
def test_process_all_runs_the_designs_three_tasks(store: HelpdeskStore, redis_client: redis.Redis,
                                               keys: KeySchema, mode: str,
                                               caplog: pytest.LogCaptureFixture) -> None:
    queue = helpdesk_queue(redis_client, keys)
    queue.enqueue("send_notifications", {"ticketId": 1, "usuarioId": 2, "tipo": "ticket_creado"})
    queue.enqueue("close_inactive_tickets", {"days": 30})
    queue.enqueue("archive_old_interactions", {"days": 60})
    worker = Worker(queue, TaskContext(store, None, redis_client, keys, SAMPLE_NOW), mode=mode)
    with caplog.at_level(logging.INFO, logger="helpdesk_kit.worker"):
        assert worker.process_all() == {"processed": 3}
    assert len([r for r in caplog.records if r.getMessage().startswith("task ")]) == 3
    stats = queue.inspect()
    assert (stats.pending, stats.processing, stats.dead, stats.done) == (0, 0, 0, 3)
    assert store.db.execute("SELECT COUNT(*) FROM notifications").rows[0][0] == 1
    assert queue.worker_ids() == []


def test_flaky_task_is_retried_until_it_succeeds(redis_client: redis.Redis,
                                                 keys: KeySchema, store: HelpdeskStore) -> None:
    queue = _recording_queue(redis_client, keys, fail_times=2)
    queue.enqueue_many([("record", {"n": n}) for n in range(5)])
    Worker(queue, TaskContext(store), batch=3).process_all()
    assert redis_client.hgetall(f"{keys.prefix}runs") == {str(n): "1" for n in range(5)}
    stats = queue.inspect()
    assert (stats.done, stats.failed, stats.dead, stats.delayed) == (5, 10, 0, 0)


def test_always_failing_task_ends_as_a_dead_letter(redis_client: redis.Redis,
                                                   keys: KeySchema, store: HelpdeskStore) -> None:
    queue = _recording_queue(redis_client, keys, fail_times=99)
    queue.enqueue("record", {"n": 1})
    Worker(queue, TaskContext(store)).process_all()
    letters = queue.dead_letters()
    assert len(letters) == 1 and letters[0].error == "RuntimeError: flaky 1"
    assert letters[0].task is not None and letters[0].task.attempts == 3


@pytest.mark.parametrize("mode", ["pop", "reliable"])
def test_bad_input_never_stops_the_worker(redis_client: redis.Redis, keys: KeySchema,
                                          store: HelpdeskStore, mode: str) -> None:
    queue = _recording_queue(redis_client, keys)
    bad = ['{"broken', Task("no_such_type", {}).to_json(), Task("record", {}).to_json(),
           Task("record", {"n": "one"}).to_json()]
    redis_client.rpush(keys.tasks_pending, *bad)
    queue.enqueue("record", {"n": 1})
    Worker(queue, TaskContext(store), mode=mode).process_all()
    assert redis_client.hgetall(f"{keys.prefix}runs") == {"1": "1"}
    reasons = [d.error for d in queue.dead_letters()]
    assert len(reasons) == 4
    assert "not JSON" in reasons[0] and "unknown task type" in reasons[1]
    assert "missing" in reasons[2] and "must be int" in reasons[3]
    assert queue.inspect().pending == 0


def test_two_workers_share_a_queue_without_doing_a_task_twice(
        redis_client: redis.Redis, keys: KeySchema, store: HelpdeskStore) -> None:
    queue = _recording_queue(redis_client, keys)
    queue.enqueue_many([("record", {"n": n}) for n in range(300)])
    workers = [Worker(queue, TaskContext(store), batch=b) for b in (1, 7)]
    results: list[dict[str, int]] = []
    threads = [threading.Thread(target=lambda w=w: results.append(
        w.run(burst=True, handle_signals=False))) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    runs = redis_client.hgetall(f"{keys.prefix}runs")
    assert runs == {str(n): "1" for n in range(300)}
    assert sum(r["processed"] for r in results) == 300
    assert queue.inspect().processing == 0


def test_stop_hands_back_the_rest_of_a_batch(redis_client: redis.Redis, keys: KeySchema,
                                            store: HelpdeskStore) -> None:
    queue = _recording_queue(redis_client, keys)
    worker = Worker(queue, TaskContext(store), batch=10)
    ran: list[int] = []

    def stop_after_three(ctx: TaskContext, task: Task) -> None:
        ran.append(task.payload["n"])
        if len(ran) == 3:
            worker.stop()

    queue.registry.register("record", stop_after_three, {"n": int})
    queue.enqueue_many([("record", {"n": n}) for n in range(10)])
    assert worker.process_all() == {"processed": 3}
    assert ran == [0, 1, 2]
    stats = queue.inspect()
    assert (stats.pending, stats.processing, stats.done) == (7, 0, 3)
    assert queue.dequeue().payload == {"n": 3}  # handed back in order, at the front


def test_a_batch_worker_waits_on_an_empty_queue_instead_of_spinning(
        redis_client: redis.Redis, keys: KeySchema, store: HelpdeskStore) -> None:
    queue = _recording_queue(redis_client, keys)
    worker = Worker(queue, TaskContext(store), batch=10, poll_timeout_s=0.2)
    calls = {"reserve_many": 0}
    reserve_many = queue.reserve_many

    def counted(*args: object, **kwargs: object) -> list[Task]:
        calls["reserve_many"] += 1
        return reserve_many(*args, **kwargs)  # type: ignore[arg-type]

    queue.reserve_many = counted  # type: ignore[method-assign]
    thread = threading.Thread(target=lambda: worker.run(handle_signals=False))
    thread.start()
    time.sleep(0.7)  # an empty queue: a spinning loop would call reserve_many thousands of times
    queue.enqueue("record", {"n": 1})
    deadline = time.monotonic() + 5
    while not redis_client.hget(f"{keys.prefix}runs", "1") and time.monotonic() < deadline:
        time.sleep(0.02)
    worker.stop()
    thread.join(timeout=5)
    assert redis_client.hget(f"{keys.prefix}runs", "1") == "1"  # the task that came ran
    # A count, not a time: a spinning loop calls reserve_many thousands of times in 0.7 s, a
    # waiting one about four (one per 0.2 s poll). A slow machine only makes it fewer; 50 is
    # more than 10x the expected count.
    assert calls["reserve_many"] < 50, calls


def test_a_stop_before_the_run_is_not_lost(redis_client: redis.Redis, keys: KeySchema,
                                           store: HelpdeskStore) -> None:
    queue = _recording_queue(redis_client, keys)
    queue.enqueue_many([("record", {"n": n}) for n in range(3)])
    worker = Worker(queue, TaskContext(store), poll_timeout_s=0.05)
    worker.stop()
    results: list[dict[str, int]] = []
    # without burst, run() would work forever if the early stop() were forgotten
    runner = threading.Thread(target=lambda: results.append(worker.run(handle_signals=False)))
    runner.start()
    runner.join(timeout=10)
    forgotten = runner.is_alive()
    worker.stop()  # let a buggy run() end, so the test fails instead of hanging
    runner.join()
    assert not forgotten
    assert results == [{"processed": 0}]
    assert worker.process_all() == {"processed": 0}
    assert worker.stopping
    assert queue.inspect().pending == 3  # nothing taken, nothing lost


def _wait_for(condition, timeout: float = 10.0) -> bool:  # type: ignore[no-untyped-def]
    """Poll ``condition`` until it is true or ``timeout`` passes; returns the last answer."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def _run_in_thread(worker: Worker, results: list[dict[str, int]]) -> threading.Thread:
    runner = threading.Thread(target=lambda: results.append(worker.run(handle_signals=False)),
                              daemon=True)
    runner.start()
    return runner


def test_a_redis_outage_does_not_end_run(redis_client: redis.Redis, keys: KeySchema,
                                         store: HelpdeskStore, dead_redis: redis.Redis,
                                         caplog: pytest.LogCaptureFixture) -> None:
    queue = _recording_queue(redis_client, keys)
    worker = Worker(queue, TaskContext(store), poll_timeout_s=0.05)
    runs = f"{keys.prefix}runs"
    results: list[dict[str, int]] = []
    with caplog.at_level(logging.ERROR, logger="helpdesk_kit.worker"):
        runner = _run_in_thread(worker, results)
        queue.enqueue("record", {"n": 1})
        assert _wait_for(lambda: redis_client.hget(runs, "1") == "1")
        queue.client = dead_redis  # Redis goes away under the running worker...
        assert _wait_for(lambda: "Redis error" in caplog.text)
        assert runner.is_alive()
        queue.client = redis_client  # ...and comes back
        queue.enqueue("record", {"n": 2})
        came_back = _wait_for(lambda: redis_client.hget(runs, "2") == "1")
        worker.stop()
        runner.join(timeout=10)
    assert came_back
    assert results == [{"processed": 2}]
    assert queue.inspect().processing == 0


class _OutageLog(logging.Handler):
    """Sets ``seen`` when the worker logs a Redis error: the failed ack, as an event."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.seen = threading.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if "Redis error" in record.getMessage():
            self.seen.set()


def test_an_ack_lost_in_an_outage_hands_the_task_back(
        redis_client: redis.Redis, keys: KeySchema, store: HelpdeskStore,
        dead_redis: redis.Redis) -> None:
    queue = _recording_queue(redis_client, keys)
    worker = Worker(queue, TaskContext(store), poll_timeout_s=0.05)

    cut: list[bool] = []

    def cut_redis_then_record(ctx: TaskContext, task: Task) -> None:
        redis_client.hincrby(f"{keys.prefix}runs", str(task.payload["n"]), 1)
        if not cut:
            cut.append(True)
            queue.client = dead_redis  # the ack after this first run fails

    queue.registry.register("record", cut_redis_then_record, {"n": int})
    queue.enqueue("record", {"n": 1})
    outages = _OutageLog()  # the worker says when a Redis call failed: wait for that event
    logging.getLogger("helpdesk_kit.worker").addHandler(outages)
    results: list[dict[str, int]] = []
    try:
        runner = _run_in_thread(worker, results)
        assert outages.seen.wait(10), "the ack against the dead server never failed"
    finally:
        logging.getLogger("helpdesk_kit.worker").removeHandler(outages)
    assert queue.client is dead_redis
    queue.client = redis_client
    # at least once: the unacknowledged task was handed back and ran again
    ran_again = _wait_for(lambda: redis_client.hget(f"{keys.prefix}runs", "1") == "2")
    worker.stop()
    runner.join(timeout=10)
    assert ran_again
    stats = queue.inspect()
    assert (stats.pending, stats.processing, stats.dead, stats.done) == (0, 0, 0, 1)


def test_run_promotes_a_due_retry_without_waiting_for_maintenance(
        redis_client: redis.Redis, keys: KeySchema, store: HelpdeskStore) -> None:
    queue = _recording_queue(redis_client, keys, fail_times=1)
    queue.retry = RetryPolicy(3, base_delay_s=0.1)
    # maintenance (which also promotes) would come only after a minute
    worker = Worker(queue, TaskContext(store), poll_timeout_s=0.05, heartbeat_ttl_s=60)
    queue.enqueue("record", {"n": 7})
    results: list[dict[str, int]] = []
    runner = _run_in_thread(worker, results)
    retried = _wait_for(lambda: redis_client.hget(f"{keys.prefix}runs", "7") == "1")
    worker.stop()
    runner.join(timeout=10)
    assert retried
    assert queue.inspect().failed == 1


def test_after_burying_garbage_reserve_waits_on_for_the_rest_of_its_timeout(
        real_redis: redis.Redis, keys: KeySchema) -> None:
    """A malformed entry ends no wait: the good task pushed a moment later is still taken by
    the same reserve(), which never takes longer than its timeout in all."""
    queue = _recording_queue(real_redis, keys)
    real_redis.rpush(keys.tasks_pending, b"\xff not a task")
    threading.Timer(0.3, lambda: queue.enqueue("record", {"n": 1})).start()
    task = queue.reserve("w1", timeout=2)
    assert task is not None and task.payload == {"n": 1}  # pushed after the garbage: waited on
    assert len(queue.dead_letters()) == 1  # the garbage was buried, with its reason
    started = time.monotonic()
    assert queue.reserve("w1", timeout=0.3) is None  # nothing more: the full wait, no more
    # The timeout is the behaviour under test: it waited (a slow machine only waits longer),
    # and it returned (3 s is 10x the 0.3 s timeout; a reserve that hung would not).
    assert 0.25 < time.monotonic() - started < 3.0


def test_the_worker_talks_to_its_queue_through_the_protocol_and_pop_is_an_adapter(
        redis_client: redis.Redis, keys: KeySchema, store: HelpdeskStore) -> None:
    """Which mode a worker runs in is decided once, when it is built: the reliable queue is
    its own WorkerQueue, the pop mode an adapter that buries a failure at once (no retries)
    and counts "done" without a round trip per task."""
    queue = _recording_queue(redis_client, keys, fail_times=1)
    assert Worker(queue, TaskContext(store), mode="reliable").source is queue
    worker = Worker(queue, TaskContext(store), mode="seed")  # the old name: still pop
    assert worker.mode is QueueMode.POP and isinstance(worker.source, PopQueue)
    queue.enqueue_many([("record", {"n": n}) for n in range(3)])
    assert worker.process_all() == {"processed": 3}  # each fails its first run...
    stats = queue.inspect()
    assert (stats.pending, stats.delayed, stats.dead, stats.done) == (0, 0, 3, 0)  # ...buried
    queue.enqueue_many([("record", {"n": n}) for n in range(2)])
    assert worker.process_all() == {"processed": 2}  # their second runs succeed
    assert queue.inspect().done == 2  # counted in the worker, written at the end
    with pytest.raises(ValueError, match="mode must be one of 'pop', 'reliable', 'streams'"):
        Worker(queue, None, mode="lpop")  # type: ignore[arg-type]
