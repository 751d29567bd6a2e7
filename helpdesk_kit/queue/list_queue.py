"""The task queue: the design's Redis list, and a reliable mode that does not lose work.

Pop mode is exactly the design: ``enqueue`` is ``RPUSH tasks:pending <json>`` and ``dequeue`` is
``LPOP``. Once popped, a task exists only in the worker's memory: kill the worker and it is gone.

Reliable mode keeps every task in Redis until it is done:

1. ``reserve`` moves it atomically (``LMOVE``/``BLMOVE``) from ``tasks:pending`` into the
   worker's own ``tasks:processing:{worker}`` list;
2. ``ack`` removes it from there (``LREM``) once the handler succeeded; one task at a time,
   ``ack_and_reserve`` acks it and moves the next in one round trip (one script, atomic);
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

import time
from collections.abc import Iterable
from typing import Any

import redis

from ..backends.raw import bytes_reply
from ..backends.scripts import Library, ScriptRunner
from ..backends.transaction import watched
from ..config import MAX_TASK_BYTES
from ..errors import TaskValidationError
from ..keys import KeySchema
from ..vocab import Outcome
from .dead_letters import DeadLetter
from .durable import push_and_wait
from .policy import QueueStats, RetryPolicy
from .task import Task, TaskRegistry, now_ms
from .workers import WorkerOps

__all__ = ["ACK_AND_RESERVE", "QUEUE_LIBRARY", "DeadLetter", "QueueStats", "RetryPolicy", "Task",
           "TaskQueue"]

#: KEYS: the worker's processing list, ``tasks:pending``, ``tasks:stats``; ARGV[1]: the done
#: task's JSON ("": none). Ack and LMOVE in one command: a task is always in exactly one list.
ACK_AND_RESERVE = """
if ARGV[1] ~= '' then
  redis.call('LREM', KEYS[1], 1, ARGV[1])
  redis.call('HINCRBY', KEYS[3], 'done', 1)
end
return redis.call('LMOVE', KEYS[2], KEYS[1], 'LEFT', 'RIGHT')
"""

#: The queue's Lua scripts, one Functions library (:mod:`helpdesk_kit.backends.scripts`).
QUEUE_LIBRARY = Library("helpdesk_kit_queue", {"ack_and_reserve": ACK_AND_RESERVE})


class TaskQueue(WorkerOps):
    """The queue on one Redis. ``registry`` decides which task types ``enqueue`` accepts.

    The queue is generic: it is given its registry (the helpdesk's is
    :data:`helpdesk_kit.app.REGISTRY`; :func:`helpdesk_kit.app.helpdesk_queue` builds a queue
    with it), so nothing here knows which tasks exist or what they touch.
    """

    def __init__(self, client: redis.Redis, keys: KeySchema | None = None, *,
                 registry: TaskRegistry, retry: RetryPolicy | None = None,
                 max_task_bytes: int = MAX_TASK_BYTES, durable: bool = False,
                 replica_timeout_ms: int = 1000, replicas: int | None = None) -> None:
        self.client = client
        self.keys = keys or KeySchema()
        self.registry = registry
        self.retry = retry or RetryPolicy()
        #: The largest task ``enqueue`` accepts and a worker parses (HELPDESK_MAX_TASK_BYTES).
        self.max_task_bytes = max_task_bytes
        #: ``durable``: a push counts as done only once ``replicas`` replicas have it (None:
        #: every one connected now), within ``replica_timeout_ms`` (see :mod:`.durable`).
        self.durable = durable
        self.replica_timeout_ms = replica_timeout_ms
        self.replicas = replicas
        #: The queue's scripts: FCALL of its library, or EVALSHA.
        self.scripts = ScriptRunner(client, QUEUE_LIBRARY)

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
        return self.registry.prepare(task, self.max_task_bytes)

    def enqueue(self, type: str, payload: dict[str, Any]) -> Task:
        """The design's ``enqueueTask``: validate, then ``RPUSH tasks:pending <json>``."""
        return self.enqueue_task(Task(type, dict(payload)))

    def enqueue_task(self, task: Task) -> Task:
        """Validate and push an existing task, keeping its id.

        For a task that already ran in part elsewhere (inline, then failed): with the same id,
        the handler's idempotence (``task_id`` UNIQUE) holds across the two runs.
        """
        self._prepared(task)
        self._push([task.raw])  # type: ignore[list-item]  # _prepared set it
        return task

    def enqueue_many(self, items: Iterable[tuple[str, dict[str, Any]]], chunk: int = 1000
                     ) -> list[Task]:
        """Validate every item first (all or nothing), then push them with few RPUSH calls."""
        tasks = [self.make_task(kind, payload) for kind, payload in items]
        for start in range(0, len(tasks), chunk):
            self._push([_raw(t) for t in tasks[start:start + chunk]])
        return tasks

    def _push(self, raws: list[str]) -> None:
        """``RPUSH tasks:pending``; with ``durable``, ``WAIT`` on the same connection too.

        Replication is asynchronous: without it, a primary that dies right after answering
        takes the task with it (the producer was told it is queued). With it, the push is
        acknowledged only once the replicas have it (every connected one by default: whichever
        a failover promotes) - or raises TaskError (retry it: with the same task id the
        handler's work is done once). See :mod:`.durable` for what that does not promise.
        """
        key = self.keys.tasks_pending
        if not self.durable:
            self.client.rpush(key, *raws)
            return
        push_and_wait(self.client, key, lambda pipe: pipe.rpush(key, *raws), len(raws),
                      self.replicas, self.replica_timeout_ms)

    # --- pop mode ----------------------------------------------------------------------
    def dequeue(self, timeout: float = 0) -> Task | None:
        """The design's ``dequeueTask``: ``LPOP`` (``BLPOP`` waiting up to ``timeout`` s, if
        given). A malformed entry becomes a dead letter."""
        while True:
            if timeout > 0:
                popped = bytes_reply(self.client, "BLPOP", self.keys.tasks_pending, timeout)
                raw = None if popped is None else popped[1]  # [key, value]
            else:
                raw = bytes_reply(self.client, "LPOP", self.keys.tasks_pending)
            if raw is None:
                return None
            parsed = self.parse_or_bury(raw)
            if parsed:
                return parsed[0]
            timeout = 0  # after a malformed entry, do not block again

    def parse_or_bury(self, raw: str | bytes, worker_id: str | None = None) -> list[Task]:
        """``[task]``, or ``[]`` after making an unparsable ``raw`` a dead letter (taken out
        of ``worker_id``'s processing list if it was held there).

        Whatever ``raw`` is (any bytes at all), this never raises for it: a decoding bug
        becomes a dead letter with the exception's type and message, not a dead worker.
        """
        try:
            return [Task.from_json(raw, self.max_task_bytes)]
        except TaskValidationError as exc:
            reason = str(exc)
        except Exception as exc:  # a bug in parsing must not stop the queue: bury, go on
            reason = f"{type(exc).__name__}: {exc}"
        self.bury(raw, None, reason, worker_id)
        return []

    # --- reliable mode ------------------------------------------------------------------
    def reserve(self, worker_id: str, timeout: float = 0) -> Task | None:
        """Move the next task into the worker's processing list (``BLMOVE`` if ``timeout``).

        A malformed entry is buried and the wait goes on for what is left of ``timeout``
        (never longer in all), so a good task queued behind it is still waited for."""
        processing = self.keys.tasks_processing(worker_id)
        deadline = time.monotonic() + timeout
        while True:
            if timeout >= 0.01:  # BLMOVE's 0 would mean "forever"
                raw = bytes_reply(self.client, "BLMOVE", self.keys.tasks_pending, processing,
                                  "LEFT", "RIGHT", timeout)
            else:
                raw = bytes_reply(self.client, "LMOVE", self.keys.tasks_pending, processing,
                                  "LEFT", "RIGHT")
            if raw is None:
                return None
            parsed = self.parse_or_bury(raw, worker_id)
            if parsed:
                return parsed[0]
            timeout = deadline - time.monotonic() if timeout > 0 else 0

    def reserve_many(self, worker_id: str, count: int) -> list[Task]:
        """Up to ``count`` tasks at once: one pipeline of LMOVEs (each atomic on its own)."""
        processing = self.keys.tasks_processing(worker_id)
        pipe = self.client.pipeline(transaction=False)
        for _ in range(count):
            bytes_reply(pipe, "LMOVE", self.keys.tasks_pending, processing, "LEFT", "RIGHT")
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

    def ack_and_reserve(self, worker_id: str, done: Task | None) -> Task | None:
        """Ack ``done`` (if any) and reserve the next task in one round trip (two if no Lua)."""
        keys = (self.keys.tasks_processing(worker_id), self.keys.tasks_pending,
                self.keys.tasks_stats)
        arg = "" if done is None else _raw(done)
        try:  # as bytes: a task that is not UTF-8 must reach parse_or_bury, not a decoder
            raw = self.scripts.run("ack_and_reserve", keys, [arg], raw=True, client=self.client)
        except (redis.ResponseError, ImportError):  # ImportError: fakeredis without lupa
            if done is not None:
                self.ack(worker_id, done)
            return self.reserve(worker_id)
        if raw is None:
            return None
        parsed = self.parse_or_bury(raw, worker_id)  # a malformed one is buried: take another
        return parsed[0] if parsed else self.reserve(worker_id)

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
            due = bytes_reply(pipe, "ZRANGEBYSCORE", self.keys.tasks_delayed, "-inf", moment,
                              "LIMIT", 0, limit)
            if not due:
                return 0
            pipe.multi()
            pipe.zrem(self.keys.tasks_delayed, *due)
            pipe.rpush(self.keys.tasks_pending, *due)
            return len(due)

        return watched(self.client, move, self.keys.tasks_delayed)

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
