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
   tasks of a worker whose heartbeat expired back to ``tasks:pending``.

So a task is processed *at least once*; handlers must be idempotent (see :mod:`.tasks`).
Keys of one command share a hash tag with ``KeySchema(cluster=True)``, for Redis Cluster.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import redis

from .errors import TaskValidationError
from .keys import KeySchema
from .task_types import Task, TaskRegistry, now_ms
from .tasks import REGISTRY

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


@dataclass(frozen=True)
class DeadLetter:
    """A task that will not run again by itself: the raw text, the task if it parsed, why."""

    raw: str
    task: Task | None
    error: str
    failed_at: int  # ms

    def to_json(self) -> str:
        task = self.task.to_dict() if self.task else None
        return json.dumps({"raw": self.raw, "task": task, "error": self.error,
                           "failed_at": self.failed_at})

    @classmethod
    def from_json(cls, text: str) -> DeadLetter:
        data = json.loads(text)
        task = Task.from_json(json.dumps(data["task"])) if data.get("task") else None
        return cls(data["raw"], task, data["error"], int(data["failed_at"]))


class TaskQueue:
    """The queue on one Redis. ``registry`` decides which task types ``enqueue`` accepts."""

    def __init__(self, client: redis.Redis, keys: KeySchema | None = None, *,
                 registry: TaskRegistry | None = None, retry: RetryPolicy | None = None) -> None:
        self.client = client
        self.keys = keys or KeySchema()
        self.registry = registry or REGISTRY
        self.retry = retry or RetryPolicy()

    def __repr__(self) -> str:
        return f"TaskQueue({self.keys.tasks_pending!r})"

    # --- producing ----------------------------------------------------------------------
    def make_task(self, type: str, payload: dict[str, Any]) -> Task:
        """A validated :class:`Task` (raises :class:`TaskValidationError`); touches no Redis."""
        self.registry.validate(type, payload)
        task = Task(type, dict(payload))
        try:
            task.to_json()
        except (TypeError, ValueError) as exc:
            raise TaskValidationError(f"{type}: the payload is not JSON-serialisable: {exc}"
                                      ) from None
        return task

    def enqueue(self, type: str, payload: dict[str, Any]) -> Task:
        """The seed's ``enqueueTask``: validate, then ``RPUSH tasks:pending <json>``."""
        task = self.make_task(type, payload)
        self.client.rpush(self.keys.tasks_pending, task.to_json())
        return task

    def enqueue_many(self, items: Iterable[tuple[str, dict[str, Any]]], chunk: int = 1000
                     ) -> list[Task]:
        """Validate every item first (all or nothing), then push them with few RPUSH calls."""
        tasks = [self.make_task(kind, payload) for kind, payload in items]
        for start in range(0, len(tasks), chunk):
            self.client.rpush(self.keys.tasks_pending,
                              *(t.to_json() for t in tasks[start:start + chunk]))
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

    def parse_or_bury(self, raw: str) -> list[Task]:
        """``[task]``, or ``[]`` after making an unparsable ``raw`` a dead letter."""
        try:
            return [Task.from_json(raw)]
        except TaskValidationError as exc:
            self.bury(raw, None, str(exc))
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
            task = self._parse_held(worker_id, raw)  # type: ignore[arg-type]
            if task is not None:
                return task
            timeout = 0  # after a malformed entry, do not block again

    def reserve_many(self, worker_id: str, count: int) -> list[Task]:
        """Up to ``count`` tasks at once: one pipeline of LMOVEs (each atomic on its own)."""
        processing = self.keys.tasks_processing(worker_id)
        pipe = self.client.pipeline(transaction=False)
        for _ in range(count):
            pipe.lmove(self.keys.tasks_pending, processing, "LEFT", "RIGHT")
        tasks = []
        for raw in pipe.execute():
            if raw is None:
                break
            task = self._parse_held(worker_id, raw)
            if task is not None:
                tasks.append(task)
        return tasks

    def _parse_held(self, worker_id: str, raw: str) -> Task | None:
        try:
            task = Task.from_json(raw)
        except TaskValidationError as exc:
            self.bury(raw, None, str(exc), worker_id)
            return None
        return task

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

    def fail(self, worker_id: str, task: Task, error: str, *, retry: bool = True) -> str:
        """A handler failed: delay the task for a retry, or bury it. Returns "retry"/"dead"."""
        task.attempts += 1
        held = self.keys.tasks_processing(worker_id)
        if not retry or task.attempts >= self.retry.max_attempts:
            self.bury(_raw(task), task, error, worker_id)
            return "dead"
        due = now_ms() + int(self.retry.delay_s(task.attempts) * 1000)
        pipe = self.client.pipeline(transaction=True)  # MULTI: both or neither
        pipe.zadd(self.keys.tasks_delayed, {task.to_json(): due})
        pipe.lrem(held, 1, _raw(task))
        pipe.hincrby(self.keys.tasks_stats, "failed", 1)
        pipe.execute()
        return "retry"

    def bury(self, raw: str, task: Task | None, error: str, worker_id: str | None = None
             ) -> None:
        """Make ``raw`` a dead letter (and drop it from ``worker_id``'s list), atomically."""
        letter = DeadLetter(raw, task, error, now_ms())
        pipe = self.client.pipeline(transaction=True)
        pipe.rpush(self.keys.tasks_dead, letter.to_json())
        if worker_id is not None:
            pipe.lrem(self.keys.tasks_processing(worker_id), 1, raw)
        pipe.hincrby(self.keys.tasks_stats, "failed", 1)
        pipe.hincrby(self.keys.tasks_stats, "dead", 1)
        pipe.execute()

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
        """Give back the tasks of workers whose heartbeat expired (they died). Returns count."""
        moved = 0
        for worker_id in self.worker_ids():
            if not self.client.exists(self.keys.worker_heartbeat(worker_id)):
                recovered = self.unregister_worker(worker_id)
                if recovered:
                    self.client.hincrby(self.keys.tasks_stats, "recovered", recovered)
                moved += recovered
        return moved

    # --- inspection and dead letters ----------------------------------------------------
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

    def dead_letters(self, limit: int = 100) -> list[DeadLetter]:
        return [DeadLetter.from_json(t)
                for t in self.client.lrange(self.keys.tasks_dead, 0, limit - 1)]  # type: ignore[union-attr]

    def retry_dead(self, limit: int = 100) -> int:
        """Put up to ``limit`` dead letters back in the queue with attempts reset.

        Letters whose text never parsed as a task stay dead (fix and push them by hand).
        One WATCH/MULTI transaction: a crash halfway cannot lose or double a letter.
        """
        dead = self.keys.tasks_dead

        def move(pipe: Any) -> int:
            texts = pipe.lrange(dead, 0, limit - 1)
            letters = [DeadLetter.from_json(t) for t in texts]
            revived = [letter.task for letter in letters if letter.task is not None]
            kept = [t for t, letter in zip(texts, letters, strict=True) if letter.task is None]
            pipe.multi()
            pipe.ltrim(dead, len(texts), -1)
            for task in revived:
                task.attempts = 0
            if revived:
                pipe.rpush(self.keys.tasks_pending, *(t.to_json() for t in revived))
            if kept:
                pipe.lpush(dead, *reversed(kept))
            return len(revived)

        return int(self.client.transaction(move, dead, value_from_callable=True))

    def purge_dead(self) -> int:
        """Delete every dead letter; returns how many there were."""
        pipe = self.client.pipeline(transaction=True)
        pipe.llen(self.keys.tasks_dead)
        pipe.delete(self.keys.tasks_dead)
        return int(pipe.execute()[0])


def _raw(task: Task) -> str:
    """The text to LREM: what was read from Redis (a re-encoding could differ by a space)."""
    return task.raw if task.raw is not None else task.to_json()
