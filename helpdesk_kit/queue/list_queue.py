"""The task queue: the seed's Redis list, and a reliable mode that does not lose work.

Seed mode is exactly the seed: ``enqueue`` is ``RPUSH tasks:pending <json>`` and ``dequeue`` is
``LPOP``. Once popped, a task exists only in the worker's memory: kill the worker and it is gone.

Reliable mode keeps every task in Redis until it is done:

1. ``reserve`` moves it atomically (``LMOVE``/``BLMOVE``) from ``tasks:pending`` into the
   worker's own ``tasks:processing:{worker}`` list;
2. ``ack`` removes it from there (``LREM``) once the handler succeeded;
3. ``fail`` puts it in ``tasks:delayed`` (a ZSET scored by when it may run again, with
   exponential backoff) or, after ``max_attempts``, in ``tasks:dead`` with its error;
4. a worker keeps ``tasks:heartbeat:{worker}`` alive with a TTL; ``requeue_orphans`` gives the
   tasks of a worker whose heartbeat expired back to ``tasks:pending``, counting the death as a
   failed attempt: a "poison" task that kills every worker becomes a dead letter too.

So a task is processed *at least once*; handlers must be idempotent (the helpdesk's are, see
:mod:`helpdesk_kit.app.handlers`). Dead letters (``dead_letters``, ``retry_dead``,
``purge_dead``) are in :mod:`.dead_letters`.
Keys of one command share a hash tag with ``KeySchema(cluster=True)``, for Redis Cluster.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import redis

from ..errors import TaskValidationError
from ..keys import KeySchema
from ..vocab import Outcome
from .dead_letters import DeadLetter, DeadLetterOps
from .task import Task, TaskRegistry, now_ms

__all__ = ["DeadLetter", "QueueStats", "RetryPolicy", "Task", "TaskQueue"]


@dataclass(frozen=True)
class QueueStats:
    """A snapshot of the queue (``inspect()``); ``done``/``failed`` count since the start."""

    pending: int
    processing: int
    delayed: int
    dead: int
    oldest_pending_age_s: float | None
    done: int
    failed: int


@dataclass(frozen=True)
class RetryPolicy:
    """How often a failing task is tried, and how long it waits in between."""

    max_attempts: int = 3
    base_delay_s: float = 1.0  # wait after the 1st failure; doubles each time
    max_delay_s: float = 300.0

    def delay_s(self, attempts: int) -> float:
        """Seconds to wait after ``attempts`` failures (1, 2, 4, ... capped)."""
        return min(self.max_delay_s, self.base_delay_s * 2 ** max(0, attempts - 1))


class TaskQueue(DeadLetterOps):
    """The queue on one Redis. ``registry`` decides which task types ``enqueue`` accepts.

    The queue is generic: it is given its registry (the helpdesk's is
    :data:`helpdesk_kit.app.REGISTRY`; :func:`helpdesk_kit.app.helpdesk_queue` builds a queue
    with it), so nothing here knows which tasks exist or what they touch.
    """

    def __init__(self, client: redis.Redis, keys: KeySchema | None = None, *,
                 registry: TaskRegistry, retry: RetryPolicy | None = None) -> None:
        self.client = client
        self.keys = keys or KeySchema()
        self.registry = registry
        self.retry = retry or RetryPolicy()

    def __repr__(self) -> str:
        return f"TaskQueue({self.keys.tasks_pending!r})"

    # --- producing ----------------------------------------------------------------------
    def make_task(self, type: str, payload: dict[str, Any]) -> Task:
        """A validated :class:`Task` (raises :class:`TaskValidationError`); touches no Redis.

        Its JSON is built once, here, and kept in ``task.raw``: that is the text pushed.
        """
        return self._prepared(Task(type, dict(payload)))

    def _prepared(self, task: Task) -> Task:
        """Validate ``task`` and keep its JSON in ``task.raw``."""
        self.registry.validate(task.type, task.payload)
        try:
            task.raw = task.to_json()
        except (TypeError, ValueError) as exc:
            raise TaskValidationError(f"{task.type}: the payload is not JSON-serialisable: "
                                      f"{exc}") from None
        return task

    def enqueue(self, type: str, payload: dict[str, Any]) -> Task:
        """The seed's ``enqueueTask``: validate, then ``RPUSH tasks:pending <json>``."""
        return self.enqueue_task(Task(type, dict(payload)))

    def enqueue_task(self, task: Task) -> Task:
        """Validate and push an existing task, keeping its id.

        For a task that already ran in part elsewhere (inline, then failed): with the same id,
        the handler's idempotence (``task_id`` UNIQUE) holds across the two runs.
        """
        self._prepared(task)
        self.client.rpush(self.keys.tasks_pending, task.raw)  # type: ignore[arg-type]
        return task

    def enqueue_many(self, items: Iterable[tuple[str, dict[str, Any]]], chunk: int = 1000
                     ) -> list[Task]:
        """Validate every item first (all or nothing), then push them with few RPUSH calls."""
        tasks = [self.make_task(kind, payload) for kind, payload in items]
        for start in range(0, len(tasks), chunk):
            self.client.rpush(self.keys.tasks_pending,
                              *(_raw(t) for t in tasks[start:start + chunk]))
        return tasks

    # --- seed mode ----------------------------------------------------------------------
    def dequeue(self) -> Task | None:
        """The seed's ``dequeueTask``: ``LPOP``. A malformed entry becomes a dead letter."""
        while True:
            raw = self.client.lpop(self.keys.tasks_pending)
            if raw is None:
                return None
            parsed = self.parse_or_bury(raw)  # type: ignore[arg-type]
            if parsed:
                return parsed[0]

    def parse_or_bury(self, raw: str, worker_id: str | None = None) -> list[Task]:
        """``[task]``, or ``[]`` after making an unparsable ``raw`` a dead letter (taken out
        of ``worker_id``'s processing list if it was held there)."""
        try:
            return [Task.from_json(raw)]
        except TaskValidationError as exc:
            self.bury(raw, None, str(exc), worker_id)
            return []

    # --- reliable mode ------------------------------------------------------------------
    def reserve(self, worker_id: str, timeout: float = 0) -> Task | None:
        """Move the next task into the worker's processing list (``BLMOVE`` if ``timeout``)."""
        processing = self.keys.tasks_processing(worker_id)
        while True:
            if timeout > 0:
                raw = self.client.blmove(self.keys.tasks_pending, processing, timeout,
                                         "LEFT", "RIGHT")
            else:
                raw = self.client.lmove(self.keys.tasks_pending, processing, "LEFT", "RIGHT")
            if raw is None:
                return None
            parsed = self.parse_or_bury(raw, worker_id)  # type: ignore[arg-type]
            if parsed:
                return parsed[0]
            timeout = 0  # after a malformed entry, do not block again

    def reserve_many(self, worker_id: str, count: int) -> list[Task]:
        """Up to ``count`` tasks at once: one pipeline of LMOVEs (each atomic on its own)."""
        processing = self.keys.tasks_processing(worker_id)
        pipe = self.client.pipeline(transaction=False)
        for _ in range(count):
            pipe.lmove(self.keys.tasks_pending, processing, "LEFT", "RIGHT")
        tasks: list[Task] = []
        for raw in pipe.execute():
            if raw is None:
                break
            tasks.extend(self.parse_or_bury(raw, worker_id))
        return tasks

    def ack(self, worker_id: str, tasks: Task | Iterable[Task]) -> None:
        """Done: remove the task(s) from the processing list and count them (one round trip)."""
        batch = [tasks] if isinstance(tasks, Task) else list(tasks)
        if not batch:
            return
        pipe = self.client.pipeline(transaction=False)
        for task in batch:
            pipe.lrem(self.keys.tasks_processing(worker_id), 1, _raw(task))
        pipe.hincrby(self.keys.tasks_stats, "done", len(batch))
        pipe.execute()

    def fail(self, worker_id: str, task: Task, error: str, *, retry: bool = True) -> Outcome:
        """A handler failed: delay the task for a retry, or bury it (``RETRY`` / ``DEAD``)."""
        task.attempts += 1
        held = self.keys.tasks_processing(worker_id)
        if not retry or task.attempts >= self.retry.max_attempts:
            self.bury(_raw(task), task, error, worker_id)
            return Outcome.DEAD
        due = now_ms() + int(self.retry.delay_s(task.attempts) * 1000)
        pipe = self.client.pipeline(transaction=True)  # MULTI: both or neither
        pipe.zadd(self.keys.tasks_delayed, {task.to_json(): due})
        pipe.lrem(held, 1, _raw(task))
        pipe.hincrby(self.keys.tasks_stats, "failed", 1)
        pipe.execute()
        return Outcome.RETRY

    def promote_due(self, now: int | None = None, limit: int = 100) -> int:
        """Move delayed tasks whose time has come back to ``tasks:pending``; returns how many.

        WATCH/MULTI makes it safe with several workers: if another one moved them first, the
        transaction is retried on fresh data, so a task is never pushed twice.
        """
        moment = now_ms() if now is None else now

        def move(pipe: Any) -> int:
            due = pipe.zrangebyscore(self.keys.tasks_delayed, "-inf", moment, 0, limit)
            if not due:
                return 0
            pipe.multi()
            pipe.zrem(self.keys.tasks_delayed, *due)
            pipe.rpush(self.keys.tasks_pending, *due)
            return len(due)

        return int(self.client.transaction(move, self.keys.tasks_delayed, value_from_callable=True))

    # --- workers: registration, heartbeat, recovery ------------------------------------
    def register_worker(self, worker_id: str, ttl_s: float) -> None:
        self.client.sadd(self.keys.tasks_workers, worker_id)
        self.heartbeat(worker_id, ttl_s)

    def heartbeat(self, worker_id: str, ttl_s: float) -> None:
        """"I am alive": a key that expires unless refreshed within ``ttl_s``."""
        self.client.set(self.keys.worker_heartbeat(worker_id), now_ms(), px=int(ttl_s * 1000))

    def release(self, worker_id: str) -> int:
        """Hand back every task this worker holds (front of the queue, same order)."""
        held, moved = self.keys.tasks_processing(worker_id), 0
        while self.client.lmove(held, self.keys.tasks_pending, "RIGHT", "LEFT") is not None:
            moved += 1
        return moved

    def unregister_worker(self, worker_id: str) -> int:
        """Graceful exit: release what it holds, drop its heartbeat. Returns tasks released."""
        moved = self.release(worker_id)
        self.client.delete(self.keys.worker_heartbeat(worker_id))
        self.client.srem(self.keys.tasks_workers, worker_id)
        return moved

    def worker_ids(self) -> list[str]:
        """Registered workers, plus any that left a processing list without registering."""
        ids = set(self.client.smembers(self.keys.tasks_workers))  # type: ignore[arg-type]
        head = self.keys.tasks_processing("")
        for key in self.client.scan_iter(match=self.keys.tasks_processing("*"), count=500):
            ids.add(key[len(head):])
        return sorted(ids)

    def requeue_orphans(self) -> int:
        """Recover the tasks of workers whose heartbeat expired (they died); returns how many
        went back to ``tasks:pending``.

        A death counts as a failed attempt of every task the worker held: after
        ``retry.max_attempts`` a task becomes a dead letter ("worker died N times while
        processing it") instead of killing workers forever. With ``batch > 1`` the tasks of the
        batch that never started are counted too: the queue cannot tell which one was running.
        """
        moved = 0
        for worker_id in self.worker_ids():
            if self.client.exists(self.keys.worker_heartbeat(worker_id)):
                continue
            while (outcome := self._recover_one(worker_id)) is not None:
                if outcome == Outcome.PENDING:
                    moved += 1
            self.unregister_worker(worker_id)  # its list is empty now: drops its registration
        if moved:
            self.client.hincrby(self.keys.tasks_stats, "recovered", moved)
        return moved

    def _recover_one(self, worker_id: str) -> Outcome | None:
        """A dead worker's newest task to the front of pending with one more attempt, or to
        the dead letters: "pending", "dead", or None if it held nothing. WATCH/MULTI: two
        recovering workers never move a task twice."""
        held = self.keys.tasks_processing(worker_id)

        def move(pipe: Any) -> Outcome | None:
            raw = pipe.lindex(held, -1)
            if raw is None:
                return None
            try:
                task: Task | None = Task.from_json(raw)
            except TaskValidationError:
                task = None  # not a task: back as it was, the next reserve buries it
            pipe.multi()
            pipe.rpop(held)
            if task is None:
                pipe.lpush(self.keys.tasks_pending, raw)
                return Outcome.PENDING
            task.attempts += 1
            task.crashes += 1
            if task.attempts >= self.retry.max_attempts:
                self._queue_burial(pipe, raw, task,
                                   f"worker died {task.crashes} times while processing it")
                return Outcome.DEAD
            pipe.lpush(self.keys.tasks_pending, task.to_json())
            return Outcome.PENDING

        outcome: Outcome | None = self.client.transaction(  # type: ignore[arg-type]  # redis-py types the callable as returning None; value_from_callable returns its value
            move, held, value_from_callable=True)
        return outcome

    # --- inspection ----------------------------------------------------------------
    def inspect(self) -> QueueStats:
        """Lengths of every list, the oldest pending task's age, and the counters."""
        workers = self.worker_ids()
        pipe = self.client.pipeline(transaction=False)
        pipe.llen(self.keys.tasks_pending)
        pipe.zcard(self.keys.tasks_delayed)
        pipe.llen(self.keys.tasks_dead)
        pipe.lindex(self.keys.tasks_pending, 0)
        pipe.hgetall(self.keys.tasks_stats)
        for worker_id in workers:
            pipe.llen(self.keys.tasks_processing(worker_id))
        pending, delayed, dead, oldest, stats, *held = pipe.execute()
        age: float | None = None
        if oldest is not None:
            try:
                age = max(0.0, (now_ms() - Task.from_json(oldest).timestamp) / 1000)
            except TaskValidationError:
                age = None
        return QueueStats(pending, sum(held), delayed, dead, age,
                          int(stats.get("done", 0)), int(stats.get("failed", 0)))


def _raw(task: Task) -> str:
    """The text to LREM: what was read from Redis (a re-encoding could differ by a space)."""
    return task.raw if task.raw is not None else task.to_json()
