"""The task queue on Redis lists: the design's list, and a reliable mode that does not lose work.

Pop mode is exactly the design: ``enqueue`` is ``RPUSH tasks:pending <json>`` and ``dequeue`` is
``LPOP``. Once popped, a task exists only in the worker's memory: kill the worker and it is gone.

Reliable mode keeps every task in Redis until it is done:

1. ``reserve`` moves it atomically (``LMOVE``/``BLMOVE``) from ``tasks:pending`` into the
   worker's own ``tasks:processing:{worker}`` list;
2. ``ack`` removes it from there (``LREM``) once the handler succeeded; one task at a time,
   ``ack_and_reserve`` acks it and moves the next in one round trip (one script, atomic);
3. ``fail`` puts it in ``tasks:delayed`` (a ZSET scored by when it may run again, with
   exponential backoff) or, after ``max_attempts``, in ``tasks:dead`` with its error;
4. a worker keeps ``tasks:heartbeat:{worker}`` alive with a TTL (and is listed in
   ``tasks:workers``). When it dies (SIGKILL, the OOM killer, a lost machine) the key expires,
   and ``requeue_orphans`` gives the tasks left in its processing list back to
   ``tasks:pending``, counting the death as a failed attempt: a "poison" task that kills every
   worker becomes a dead letter too.

So a task is processed *at least once*; handlers must be idempotent (the helpdesk's are, see
:mod:`helpdesk_kit.app.handlers`). Validation, enqueueing, failing, promotion of due retries
and the dead letters (``dead_letters``, ``retry_dead``, ``purge_dead``) are the queues' common
life cycle (:class:`~helpdesk_kit.queue.base.BaseQueue`); this module holds the lists.
Keys of one command share a hash tag with ``KeySchema(cluster=True)``, for Redis Cluster.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from typing import Any

import redis

from ..backends.raw import bytes_reply
from ..backends.scripts import Library, ScriptRunner
from ..backends.transaction import watched
from ..config import MAX_TASK_BYTES
from ..errors import TaskValidationError
from ..keys import KeySchema
from ..vocab import Outcome
from .base import BaseQueue, QueueKeys
from .dead_letters import DeadLetter
from .policy import QueueStats, RetryPolicy
from .task import Task, TaskRegistry, now_ms

__all__ = ["ACK_AND_RESERVE", "LIST_LIBRARY", "DeadLetter", "QueueStats", "RetryPolicy", "Task",
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

#: The list queue's Lua scripts, one Functions library (:mod:`helpdesk_kit.backends.scripts`).
LIST_LIBRARY = Library("helpdesk_kit_list_queue", {"ack_and_reserve": ACK_AND_RESERVE})


class TaskQueue(BaseQueue):
    """The queue on Redis lists. ``registry`` decides which task types ``enqueue`` accepts.

    The queue is generic: it is given its registry (the helpdesk's is
    :data:`helpdesk_kit.app.REGISTRY`; :func:`helpdesk_kit.app.helpdesk_queue` builds a queue
    with it), so nothing here knows which tasks exist or what they touch. The other options
    are :class:`~helpdesk_kit.queue.base.BaseQueue`'s.
    """

    def __init__(self, client: redis.Redis, keys: KeySchema | None = None, *,
                 registry: TaskRegistry, retry: RetryPolicy | None = None,
                 max_task_bytes: int = MAX_TASK_BYTES, durable: bool = False,
                 replica_timeout_ms: int = 1000, replicas: int | None = None) -> None:
        keys = keys or KeySchema()
        where = QueueKeys(pending=keys.tasks_pending, delayed=keys.tasks_delayed,
                          dead=keys.tasks_dead, stats=keys.tasks_stats)
        super().__init__(client, keys, where, registry=registry, retry=retry,
                         max_task_bytes=max_task_bytes, durable=durable,
                         replica_timeout_ms=replica_timeout_ms, replicas=replicas)
        #: The queue's scripts: FCALL of its library, or EVALSHA.
        self.scripts = ScriptRunner(client, LIST_LIBRARY)

    def __repr__(self) -> str:
        return f"TaskQueue({self.keys.tasks_pending!r})"

    # --- the storage steps ---------------------------------------------------------------
    def _add(self, pipe: Any, raws: Sequence[str | bytes]) -> None:
        pipe.rpush(self.keys.tasks_pending, *raws)  # the design's RPUSH tasks:pending

    def _drop_held(self, pipe: Any, worker_id: str | None, raw: str | bytes,
                   task: Task | None, entry_id: str | None) -> None:
        if worker_id is not None:
            # LREM by hand: redis-py types the value as str, and bytes must go as they are
            pipe.execute_command("LREM", self.keys.tasks_processing(worker_id), 1, raw)

    def parse_or_bury(self, raw: str | bytes, worker_id: str | None = None) -> list[Task]:
        """``[task]``, or ``[]`` after making an unparsable ``raw`` a dead letter (taken out
        of ``worker_id``'s processing list if it was held there). Never raises for ``raw``."""
        return self._parsed_or_buried(lambda: Task.from_json(raw, self.max_task_bytes),
                                      lambda: raw, worker_id=worker_id)

    # --- pop mode --------------------------------------------------------------------------
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

    # --- reliable mode: taking and acking ------------------------------------------------
    def take(self, worker_id: str, count: int, timeout: float) -> list[Task]:
        """Up to ``count`` tasks into the worker's processing list, waiting up to
        ``timeout`` s for the first (the worker protocol's step)."""
        if count > 1:  # empty: wait on the blocking reserve below, never spin on this
            tasks = self.reserve_many(worker_id, count)
            if tasks or timeout <= 0:
                return tasks
        task = self.reserve(worker_id, timeout)
        return [task] if task else []

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
            if timeout > 0:
                timeout = deadline - time.monotonic()
            else:
                timeout = 0

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
            pipe.lrem(self.keys.tasks_processing(worker_id), 1, task.raw_text())
        pipe.hincrby(self.keys.tasks_stats, "done", len(batch))
        pipe.execute()

    def ack_and_reserve(self, worker_id: str, done: Task | None) -> Task | None:
        """Ack ``done`` (if any) and reserve the next task in one round trip (two if no Lua)."""
        keys = (self.keys.tasks_processing(worker_id), self.keys.tasks_pending,
                self.keys.tasks_stats)
        arg = "" if done is None else done.raw_text()
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

    # --- workers: registration, heartbeats, recovery after a death ------------------------
    def maintain(self, worker_id: str, heartbeat_ttl_s: float) -> int:
        """A worker's maintenance: dead workers' tasks recovered, due retries promoted.
        Returns how many tasks went back to ``tasks:pending``."""
        orphans = self.requeue_orphans()
        return self.promote_due() + orphans

    def register_worker(self, worker_id: str, ttl_s: float) -> None:
        """A worker starts: named in ``tasks:workers``, its first heartbeat, in one trip."""
        pipe = self.client.pipeline(transaction=False)
        pipe.sadd(self.keys.tasks_workers, worker_id)
        self._beat(pipe, worker_id, ttl_s)
        pipe.execute()

    def heartbeat(self, worker_id: str, ttl_s: float) -> None:
        """"I am alive": a key that expires unless refreshed within ``ttl_s``."""
        self._beat(self.client, worker_id, ttl_s)

    def release(self, worker_id: str) -> int:
        """Hand back every task this worker holds (front of the queue, same order)."""
        held = self.keys.tasks_processing(worker_id)
        moved = 0
        # as bytes: an entry that is not UTF-8 moves like any other (the next reserve buries it)
        while bytes_reply(self.client, "LMOVE", held, self.keys.tasks_pending, "RIGHT",
                          "LEFT") is not None:
            moved += 1
        return moved

    def unregister_worker(self, worker_id: str) -> int:
        """Graceful exit: release what it holds, drop its heartbeat. Returns tasks released."""
        moved = self.release(worker_id)
        pipe = self.client.pipeline(transaction=False)
        pipe.delete(self.keys.worker_heartbeat(worker_id))
        pipe.srem(self.keys.tasks_workers, worker_id)
        pipe.execute()
        return moved

    def worker_ids(self) -> list[str]:
        """Registered workers, plus any that left a processing list without registering."""
        ids = {str(member) for member in self.client.smembers(self.keys.tasks_workers)}
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
            raw = bytes_reply(pipe, "LINDEX", held, -1)
            if raw is None:
                return None
            try:
                task: Task | None = Task.from_json(raw, self.max_task_bytes)
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
                self.add_burial(pipe, raw, task,
                                f"worker died {task.crashes} times while processing it")
                return Outcome.DEAD
            pipe.lpush(self.keys.tasks_pending, task.to_json())
            return Outcome.PENDING

        return watched(self.client, move, held)

    # --- inspection ------------------------------------------------------------------------
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
