"""TaskQueue on real Redis and fakeredis: the design's RPUSH/LPOP, reliable lists, dead letters."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import redis
from conftest import refuse_scripts

from helpdesk_kit.app import helpdesk_queue
from helpdesk_kit.backends import RedisServer
from helpdesk_kit.errors import TaskValidationError
from helpdesk_kit.keys import KeySchema
from helpdesk_kit.queue import DeadLetter, QueueStats, RetryPolicy, Task, TaskQueue

NOTE = {"ticketId": 7, "usuarioId": 3, "tipo": "ticket_creado"}


@pytest.fixture
def queue(redis_client: redis.Redis, keys: KeySchema) -> TaskQueue:
    return helpdesk_queue(redis_client, keys, retry=RetryPolicy(max_attempts=3, base_delay_s=0))


def test_enqueue_is_the_seeds_rpush_of_json(queue: TaskQueue, redis_client: redis.Redis,
                                            keys: KeySchema) -> None:
    task = queue.enqueue("send_notifications", NOTE)
    stored = json.loads(redis_client.lindex(keys.tasks_pending, 0))
    assert stored["type"] == "send_notifications" and stored["payload"] == NOTE
    assert stored["timestamp"] == task.timestamp and stored["id"] == task.id
    assert stored["attempts"] == 0 and keys.tasks_pending.endswith("tasks:pending")


@pytest.mark.parametrize("kind, payload, reason", [
    ("no_such_task", {}, "unknown task type"),
    ("send_notifications", {"ticketId": 7, "usuarioId": 3}, "'tipo' is missing"),
    ("send_notifications", {**NOTE, "ticketId": "7"}, "must be int"),
    ("close_inactive_tickets", {"days": True}, "must be int"),
    ("close_inactive_tickets", {"days": -1}, "0 or more"),
    ("archive_old_interactions", {"days": 30, "extra": object()}, "not JSON"),
])
def test_enqueue_rejects_bad_tasks_before_redis(queue: TaskQueue, redis_client: redis.Redis,
                                                keys: KeySchema, kind: str, payload: dict,
                                                reason: str) -> None:
    with pytest.raises(TaskValidationError, match=reason):
        queue.enqueue(kind, payload)
    assert redis_client.llen(keys.tasks_pending) == 0


def test_enqueue_many_is_all_or_nothing(queue: TaskQueue, redis_client: redis.Redis,
                                        keys: KeySchema) -> None:
    good = [("close_inactive_tickets", {"days": d}) for d in range(5)]
    with pytest.raises(TaskValidationError):
        queue.enqueue_many([*good, ("close_inactive_tickets", {"days": "x"})])
    assert redis_client.llen(keys.tasks_pending) == 0
    tasks = queue.enqueue_many(good, chunk=2)
    assert [queue.dequeue() for _ in tasks] == tasks  # FIFO, same tasks back
    assert queue.dequeue() is None


def test_seed_shaped_json_without_id_still_runs(queue: TaskQueue, redis_client: redis.Redis,
                                                keys: KeySchema) -> None:
    raw = json.dumps({"type": "close_inactive_tickets", "payload": {"days": 3},
                      "timestamp": 1700000000000})
    redis_client.rpush(keys.tasks_pending, raw, raw)
    first, second = queue.dequeue(), queue.dequeue()
    assert first is not None and second is not None
    assert first.payload == {"days": 3} and first.attempts == 0
    assert first.id == second.id  # derived from the text: stable across retries


def test_malformed_entries_become_dead_letters_not_errors(queue: TaskQueue,
                                                          redis_client: redis.Redis,
                                                          keys: KeySchema) -> None:
    redis_client.rpush(keys.tasks_pending, "{not json", "[1, 2]", '{"payload": {}}')
    good = queue.enqueue("close_inactive_tickets", {"days": 1})
    assert queue.dequeue() == good
    letters = queue.dead_letters()
    assert [d.raw for d in letters] == ["{not json", "[1, 2]", '{"payload": {}}']
    assert all(d.task is None and d.error for d in letters)
    assert "not JSON" in letters[0].error and "'type'" in letters[2].error


def test_reserve_ack_and_inspect(queue: TaskQueue, keys: KeySchema) -> None:
    assert queue.inspect() == QueueStats(0, 0, 0, 0, None, 0, 0)
    for days in (1, 2, 3):
        queue.enqueue("close_inactive_tickets", {"days": days})
    stats = queue.inspect()
    assert stats.pending == 3 and stats.oldest_pending_age_s is not None
    held = queue.reserve_many("w1", 2)
    assert [t.payload["days"] for t in held] == [1, 2]
    assert queue.inspect().processing == 2 and queue.inspect().pending == 1
    queue.ack("w1", held)
    last = queue.reserve("w1", timeout=0.1)
    assert last is not None and last.payload == {"days": 3}
    queue.ack("w1", last)
    assert queue.reserve("w1") is None
    stats = queue.inspect()
    assert (stats.pending, stats.processing, stats.done) == (0, 0, 3)


def test_failures_retry_with_backoff_then_dead_letter(redis_client: redis.Redis,
                                                      keys: KeySchema) -> None:
    queue = helpdesk_queue(redis_client, keys, retry=RetryPolicy(max_attempts=3, base_delay_s=10))
    assert [queue.retry.delay_s(n) for n in (1, 2, 3)] == [10, 20, 40]
    queue.enqueue("close_inactive_tickets", {"days": 1})
    for attempt in (1, 2):
        task = queue.reserve("w1")
        assert task is not None and task.attempts == attempt - 1
        assert queue.fail("w1", task, "boom") == "retry"
        assert queue.promote_due() == 0  # not due yet: backoff of 10 s and more
        assert queue.inspect().delayed == 1
        far_future = 10**15
        assert queue.promote_due(now=far_future) == 1
    task = queue.reserve("w1")
    assert task is not None and queue.fail("w1", task, "boom for good") == "dead"
    stats = queue.inspect()
    assert (stats.pending, stats.processing, stats.delayed, stats.dead) == (0, 0, 0, 1)
    assert stats.failed == 3
    letter = queue.dead_letters()[0]
    assert letter.error == "boom for good" and letter.task is not None
    assert letter.task.attempts == 3 and letter.task.id == task.id
    assert queue.retry_dead() == 1
    revived = queue.dequeue()
    assert revived is not None and revived.id == task.id and revived.attempts == 0


def test_retry_dead_keeps_unparsable_letters_and_purge_empties(queue: TaskQueue,
                                                               redis_client: redis.Redis,
                                                               keys: KeySchema) -> None:
    redis_client.rpush(keys.tasks_pending, "garbage")
    queue.dequeue()
    task = queue.enqueue("close_inactive_tickets", {"days": 1})
    queue.bury(task.to_json(), task, "manual")
    assert queue.retry_dead() == 1
    assert [d.raw for d in queue.dead_letters()] == ["garbage"]
    assert queue.purge_dead() == 1 and queue.inspect().dead == 0


def test_dead_letter_json_round_trip() -> None:
    task = Task("close_inactive_tickets", {"days": 2}, attempts=2)
    letter = DeadLetter(task.to_json(), task, "why", 123)
    assert DeadLetter.from_json(letter.to_json()) == letter


def test_orphans_of_a_dead_worker_go_back_to_pending(queue: TaskQueue,
                                                     redis_client: redis.Redis,
                                                     keys: KeySchema) -> None:
    queue.enqueue_many([("close_inactive_tickets", {"days": d}) for d in range(4)])
    queue.register_worker("alive", ttl_s=30)
    queue.register_worker("dead", ttl_s=30)
    queue.reserve_many("alive", 1)
    queue.reserve_many("dead", 2)
    queue.reserve_many("never-registered", 1)
    redis_client.delete(keys.worker_heartbeat("dead"))  # as if its TTL ran out
    assert queue.requeue_orphans() == 3
    stats = queue.inspect()
    assert (stats.pending, stats.processing) == (3, 1)
    assert queue.worker_ids() == ["alive"]
    assert sorted(queue.dequeue().payload["days"] for _ in range(3)) == [1, 2, 3]
    assert redis_client.hget(keys.tasks_stats, "recovered") == "3"


def test_unregister_hands_back_in_order(queue: TaskQueue) -> None:
    queue.enqueue_many([("close_inactive_tickets", {"days": d}) for d in range(3)])
    queue.register_worker("w", ttl_s=5)
    queue.reserve_many("w", 2)
    assert queue.unregister_worker("w") == 2
    assert [queue.dequeue().payload["days"] for _ in range(3)] == [0, 1, 2]


def test_cluster_keys_share_one_hash_tag(redis_client: redis.Redis, key_prefix: str) -> None:
    keys = KeySchema(prefix=key_prefix, cluster=True)
    names = [keys.tasks_pending, keys.tasks_processing("w"), keys.tasks_delayed,
             keys.tasks_dead, keys.tasks_stats]
    assert all("{tasks}" in name for name in names)
    queue = helpdesk_queue(redis_client, keys, retry=RetryPolicy(base_delay_s=0))
    queue.enqueue("close_inactive_tickets", {"days": 1})
    task = queue.reserve("w")
    assert task is not None and queue.fail("w", task, "x") == "retry"
    assert queue.promote_due() == 1 and queue.inspect().pending == 1


def test_a_task_that_kills_its_workers_becomes_a_dead_letter(queue: TaskQueue,
                                                             redis_client: redis.Redis,
                                                             keys: KeySchema) -> None:
    poison = queue.enqueue("close_inactive_tickets", {"days": 1})
    queue.enqueue("close_inactive_tickets", {"days": 2})
    for death in range(1, queue.retry.max_attempts + 1):
        worker = f"doomed-{death}"
        queue.register_worker(worker, ttl_s=30)
        held = queue.reserve(worker)  # taken, never acked: the worker dies in the handler
        assert held is not None and held.id == poison.id and held.crashes == death - 1
        redis_client.delete(keys.worker_heartbeat(worker))  # as if its TTL ran out
        back = queue.requeue_orphans()
        assert back == (1 if death < queue.retry.max_attempts else 0)
    stats = queue.inspect()
    assert (stats.pending, stats.processing, stats.dead) == (1, 0, 1)
    letter = queue.dead_letters()[0]
    assert letter.error == "worker died 3 times while processing it"
    assert letter.task is not None and letter.task.id == poison.id
    assert (letter.task.attempts, letter.task.crashes) == (3, 3)
    assert queue.dequeue().payload == {"days": 2}  # the healthy task was never charged
    assert queue.worker_ids() == []
    assert queue.retry_dead() == 1  # a person decided to try again: counts start over
    revived = queue.dequeue()
    assert revived is not None and (revived.attempts, revived.crashes) == (0, 0)


def test_handler_failures_and_deaths_share_the_attempt_budget(queue: TaskQueue,
                                                              redis_client: redis.Redis,
                                                              keys: KeySchema) -> None:
    queue.enqueue("close_inactive_tickets", {"days": 1})
    task = queue.reserve("w1")
    assert task is not None and queue.fail("w1", task, "boom") == "retry"
    assert queue.promote_due() == 1
    queue.register_worker("w2", ttl_s=30)
    assert queue.reserve("w2") is not None
    redis_client.delete(keys.worker_heartbeat("w2"))
    assert queue.requeue_orphans() == 1
    again = queue.reserve("w3")
    assert again is not None and (again.attempts, again.crashes) == (2, 1)
    assert queue.fail("w3", again, "boom again") == "dead"  # 3 attempts: 2 errors, 1 death


def test_graceful_hand_back_is_not_an_attempt(queue: TaskQueue, redis_client: redis.Redis,
                                              keys: KeySchema) -> None:
    queue.enqueue("close_inactive_tickets", {"days": 1})
    redis_client.rpush(keys.tasks_processing("ghost"), "{not a task")  # died mid-reserve
    queue.register_worker("w", ttl_s=30)
    queue.reserve_many("w", 1)
    assert queue.unregister_worker("w") == 1  # SIGTERM path: release, no death counted
    assert queue.requeue_orphans() == 1  # the ghost's garbage goes back unchanged...
    first, second = queue.dequeue(), queue.dequeue()  # ...and is buried when taken again
    assert first is not None and (first.attempts, first.crashes) == (0, 0)
    assert second is None and [d.raw for d in queue.dead_letters()] == ["{not a task"]
    assert "crashes" not in first.to_dict()  # the design's shape until a worker dies


# --- one task at a time: the ack and the next reserve in one round trip -----------------
def _count_commands(monkeypatch: pytest.MonkeyPatch, client: redis.Redis) -> list[str]:
    """The name of every command the client sends from now on (pipelines excepted)."""
    sent: list[str] = []
    real = client.execute_command

    def counting(*args: object, **options: object) -> object:
        sent.append(str(args[0]).upper())
        return real(*args, **options)

    monkeypatch.setattr(client, "execute_command", counting)
    return sent


def test_ack_and_reserve_is_one_command_that_keeps_one_task_held(
        queue: TaskQueue, redis_client: redis.Redis, keys: KeySchema,
        monkeypatch: pytest.MonkeyPatch) -> None:
    queue.enqueue_many([("close_inactive_tickets", {"days": d}) for d in (1, 2)])
    first = queue.ack_and_reserve("w1", None)  # nothing to ack yet (and the server learns it)
    assert first is not None and first.payload == {"days": 1}
    sent = _count_commands(monkeypatch, redis_client)
    second = queue.ack_and_reserve("w1", first)
    assert sent == ["FCALL"]  # one round trip: the ack and the LMOVE ran in one script
    assert second is not None and second.payload == {"days": 2}
    held = redis_client.lrange(keys.tasks_processing("w1"), 0, -1)
    assert held == [second.raw]  # the acked one is gone, the next one is held: never neither
    assert queue.ack_and_reserve("w1", second) is None  # nothing left: ack alone
    stats = queue.inspect()
    assert (stats.pending, stats.processing, stats.done) == (0, 0, 2)


def test_ack_and_reserve_buries_garbage_and_takes_the_next(queue: TaskQueue,
                                                           redis_client: redis.Redis,
                                                           keys: KeySchema) -> None:
    redis_client.rpush(keys.tasks_pending, "{not json")
    good = queue.enqueue("close_inactive_tickets", {"days": 4})
    assert queue.ack_and_reserve("w1", None) == good
    assert [d.raw for d in queue.dead_letters()] == ["{not json"]
    assert redis_client.lrange(keys.tasks_processing("w1"), 0, -1) == [good.raw]


def test_ack_and_reserve_without_scripts_acks_then_reserves(
        queue: TaskQueue, redis_client: redis.Redis, keys: KeySchema,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A Redis that refuses scripts (a managed service, an ACL): two round trips, same result."""
    queue.enqueue_many([("close_inactive_tickets", {"days": d}) for d in (1, 2)])
    first = queue.reserve("w1")
    refuse_scripts(monkeypatch, redis_client)
    second = queue.ack_and_reserve("w1", first)
    assert second is not None and second.payload == {"days": 2}
    assert redis_client.lrange(keys.tasks_processing("w1"), 0, -1) == [second.raw]
    assert queue.inspect().done == 1


def test_a_one_by_one_worker_acks_and_reserves_together(
        queue: TaskQueue, redis_client: redis.Redis, monkeypatch: pytest.MonkeyPatch) -> None:
    from helpdesk_kit.queue import Worker

    queue.enqueue_many([("close_inactive_tickets", {"days": d}) for d in range(5)])
    registry = queue.registry.copy()
    registry.register("close_inactive_tickets", lambda ctx, task: None, {"days": int})
    queue.registry = registry
    sent = _count_commands(monkeypatch, redis_client)
    assert Worker(queue, None, batch=1).process_all() == {"processed": 5}
    # a plain LMOVE takes the first task, one more finds the queue empty, and the last one
    # (at exit: hand back what we hold) finds nothing held; every other step - ack task n,
    # reserve task n+1 - is one FCALL of the queue's library
    assert sent.count("FCALL") == 5 and sent.count("LMOVE") == 3
    stats = queue.inspect()
    assert (stats.pending, stats.processing, stats.done) == (0, 0, 5)


@pytest.mark.slow
def test_sigkill_of_a_one_by_one_worker_loses_nothing(tmp_path: Path, redis_server: RedisServer,
                                                     real_redis: redis.Redis, keys: KeySchema,
                                                     key_prefix: str) -> None:
    """The SIGKILL test of test_worker_crash, on the ack_and_reserve path (``--batch 1``)."""
    from test_worker_crash import (
        _kill_mid_task,
        _queue,
        _start_worker,
        _wait_for_heartbeats_to_expire,
    )

    queue = _queue(real_redis, keys)
    queue.enqueue_many([("record", {"n": n}) for n in range(500)])
    victim = _start_worker(tmp_path, redis_server, key_prefix, "--burst", "--batch", "1")
    _kill_mid_task(victim, real_redis, key_prefix)
    assert queue.inspect().processing == 1  # one by one: it held exactly the task in hand
    _wait_for_heartbeats_to_expire(queue)
    rescuer = _start_worker(tmp_path, redis_server, key_prefix, "--burst", "--batch", "1")
    _out, err = rescuer.communicate(timeout=60)
    assert rescuer.returncode == 0, err.decode()[-2000:]
    runs = {int(n): int(c) for n, c in real_redis.hgetall(key_prefix + "done").items()}
    assert set(runs) == set(range(500))  # lost: 0
    assert sum(runs.values()) - len(runs) <= 1  # at most the task it was running, again
    stats = queue.inspect()
    assert (stats.pending, stats.processing, stats.dead, stats.done) == (0, 0, 0, 500)
