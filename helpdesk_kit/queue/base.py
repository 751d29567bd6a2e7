"""What a task queue is, whatever stores it: one base for the list queue and the streams queue.

The list queue (:mod:`.list_queue`) keeps tasks in Redis lists, the streams queue
(:mod:`.stream_queue`) as entries of one stream; they accept, retry and bury tasks the same way.
:class:`BaseQueue` holds that life cycle once (the shape of saq's ``queue/base.py``):

- **validation** before anything reaches Redis: the registry knows the task types and their
  payloads (:meth:`~BaseQueue.make_task`), and a task too large is refused;
- **enqueueing** one task, many (validated all first, then pushed a chunk per round trip) or an
  existing one keeping its id; ``durable`` waits for replicas (``WAIT``, :mod:`.durable`);
- **failing**: a failed task waits in the delayed set (a ZSET scored by when it may run
  again, with exponential backoff) or, after ``max_attempts``, becomes a dead letter;
- **promoting** the delayed tasks whose time has come back to the queue (WATCH/MULTI: with
  several workers, a task is never pushed twice);
- **dead letters** (:mod:`.dead_letters`): filing, reading, reviving, purging;
- **parse or bury**: whatever bytes a worker reads, a task or a dead letter with the reason,
  never an exception that stops the worker.

Each queue fills in two storage steps - :meth:`~BaseQueue._add` (the commands that add tasks'
texts: an ``RPUSH``; an ``XADD`` each) and :meth:`~BaseQueue._drop_held` (the commands that
forget a task a worker held: ``LREM`` from its processing list; ``XACK`` of its entry) - and
the worker protocol (:mod:`.protocol`): taking, acking, releasing, maintenance, heartbeats.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import redis

from ..backends.raw import bytes_reply
from ..backends.transaction import watched
from ..errors import TaskValidationError
from ..keys import KeySchema
from ..vocab import Outcome
from .dead_letters import DeadLetter, file_letter, purge_letters, read_letters, revive_letters
from .durable import push_and_wait
from .policy import RetryPolicy
from .task import Task, TaskRegistry, now_ms

__all__ = ["BaseQueue", "QueueKeys"]

T = TypeVar("T")


@dataclass(frozen=True)
class QueueKeys:
    """The keys one queue's life cycle uses."""

    #: where tasks wait for a worker: ``tasks:pending`` (a LIST), ``tasks:stream`` (a STREAM)
    pending: str
    #: failed tasks waiting for their retry: a ZSET scored by when (ms) they may run again
    delayed: str
    #: the dead letters: a LIST of :class:`~.dead_letters.DeadLetter` JSON
    dead: str
    #: the counters (``done``, ``failed``, ``dead``, ``recovered``...): a HASH
    stats: str


class BaseQueue(ABC):
    """A task queue on one Redis: the life cycle both storages share (see the module).

    ``registry`` decides which task types ``enqueue`` accepts: the queue is generic, and
    knows nothing of the tasks (the helpdesk's registry is :data:`helpdesk_kit.app.REGISTRY`).
    ``retry``: how often a failing task is tried, and how long it waits in between.
    ``max_task_bytes``: the largest task ``enqueue`` accepts and a worker parses
    (``HELPDESK_MAX_TASK_BYTES``). ``durable``: a push counts as done only once ``replicas``
    replicas have it (None: every one connected now), within ``replica_timeout_ms``.
    """

    def __init__(self, client: redis.Redis, keys: KeySchema, where: QueueKeys, *,
                 registry: TaskRegistry, retry: RetryPolicy | None, max_task_bytes: int,
                 durable: bool, replica_timeout_ms: int, replicas: int | None) -> None:
        self.client = client
        self.keys = keys
        #: The keys of this queue's life cycle (pending, delayed, dead, stats).
        self.where = where
        self.registry = registry
        self.retry = retry or RetryPolicy()
        self.max_task_bytes = max_task_bytes
        self.durable = durable
        self.replica_timeout_ms = replica_timeout_ms
        self.replicas = replicas

    # --- the storage steps each queue fills in -------------------------------------------
    @abstractmethod
    def _add(self, pipe: Any, raws: Sequence[str | bytes]) -> None:
        """Queue on ``pipe`` (a pipeline, or the client itself) the commands that add these
        tasks' texts to the queue, in order."""

    @abstractmethod
    def _drop_held(self, pipe: Any, worker_id: str | None, raw: str | bytes,
                   task: Task | None, entry_id: str | None) -> None:
        """Queue on ``pipe`` the commands that forget a task a worker held: ``raw`` is its
        text as Redis held it, ``entry_id`` its stream entry (when known)."""

    def _beat(self, pipe: Any, worker_id: str, ttl_s: float) -> None:
        """Queue a worker's heartbeat on ``pipe`` (a client or a pipeline): ``SET
        tasks:heartbeat:{worker} <now ms> PX <ttl>``, a key that is gone once the worker
        stopped refreshing it."""
        pipe.set(self.keys.worker_heartbeat(worker_id), now_ms(), px=int(ttl_s * 1000))

    # --- producing -----------------------------------------------------------------------
    def make_task(self, type: str, payload: dict[str, Any]) -> Task:
        """A validated :class:`Task` (raises :class:`TaskValidationError`); touches no Redis.

        Its JSON is built once, here, and kept in ``task.raw``: that is the text pushed.
        """
        return self.registry.prepare(Task(type, dict(payload)), self.max_task_bytes)

    def enqueue(self, type: str, payload: dict[str, Any]) -> Task:
        """The design's ``enqueueTask``: validate, then add the task to the queue."""
        return self.enqueue_task(Task(type, dict(payload)))

    def enqueue_task(self, task: Task) -> Task:
        """Validate and push an existing task, keeping its id.

        For a task that already ran in part elsewhere (inline, then failed): with the same id,
        the handler's idempotence (``task_id`` UNIQUE) holds across the two runs.
        """
        self.registry.prepare(task, self.max_task_bytes)
        self._push([task.raw_text()])
        return task

    def enqueue_many(self, items: Iterable[tuple[str, dict[str, Any]]], chunk: int = 1000
                     ) -> list[Task]:
        """Validate every item first (all or nothing), then push them, a chunk per round
        trip."""
        tasks = [self.make_task(kind, payload) for kind, payload in items]
        for start in range(0, len(tasks), chunk):
            self._push([task.raw_text() for task in tasks[start:start + chunk]])
        return tasks

    def _push(self, raws: list[str]) -> None:
        """Add the texts; with ``durable``, ``WAIT`` for the replicas on the same connection.

        Replication is asynchronous: without it, a primary that dies right after answering
        takes the task with it (the producer was told it is queued). With it, the push is
        acknowledged only once the replicas have it - or raises TaskError (push it again: with
        the same task id the handler's work is done once). See :mod:`.durable` for what that
        does not promise.
        """
        if self.durable:
            push_and_wait(self.client, self.where.pending, lambda pipe: self._add(pipe, raws),
                          len(raws), self.replicas, self.replica_timeout_ms)
        elif len(raws) == 1:  # one task: one command, no pipeline to build
            self._add(self.client, raws)
        else:
            pipe = self.client.pipeline(transaction=False)
            self._add(pipe, raws)
            pipe.execute()

    # --- failing, retrying, promoting ------------------------------------------------------
    def fail(self, worker_id: str, task: Task, error: str, *, retry: bool = True) -> Outcome:
        """A handler failed: delay the task for a retry, or bury it (``RETRY`` / ``DEAD``)."""
        task.attempts += 1
        if not retry or task.attempts >= self.retry.max_attempts:
            self.bury(task.raw_text(), task, error, worker_id)
            return Outcome.DEAD
        due = now_ms() + int(self.retry.delay_s(task.attempts) * 1000)
        pipe = self.client.pipeline(transaction=True)  # MULTI: both or neither
        pipe.zadd(self.where.delayed, {task.to_json(): due})
        self._drop_held(pipe, worker_id, task.raw_text(), task, None)
        pipe.hincrby(self.where.stats, "failed", 1)
        pipe.execute()
        return Outcome.RETRY

    def promote_due(self, now: int | None = None, limit: int = 100) -> int:
        """Move delayed tasks whose time has come back to the queue; returns how many.

        WATCH/MULTI makes it safe with several workers: if another one moved them first, the
        transaction is retried on fresh data, so a task is never pushed twice.
        """
        moment = now_ms() if now is None else now
        delayed = self.where.delayed
        # The usual answer is "nothing is due": one plain ZCOUNT says so, without the three
        # round trips of a transaction (WATCH, read, MULTI/EXEC) that only a move needs.
        if self.client.zcount(delayed, "-inf", moment) == 0:
            return 0

        def move(pipe: Any) -> int:
            due = bytes_reply(pipe, "ZRANGEBYSCORE", delayed, "-inf", moment, "LIMIT", 0, limit)
            if not due:
                return 0
            pipe.multi()
            pipe.zrem(delayed, *due)
            self._add(pipe, due)
            return len(due)

        return watched(self.client, move, delayed)

    # --- dead letters ----------------------------------------------------------------------
    def bury(self, raw: str | bytes, task: Task | None, error: str,
             worker_id: str | None = None, *, entry_id: str | None = None) -> None:
        """Make ``raw`` a dead letter and forget the held copy (of ``worker_id``, or the
        stream entry ``entry_id``), atomically (one MULTI).

        ``raw`` is what Redis held, bytes and all: the list's ``LREM`` must name it exactly.
        """
        pipe = self.client.pipeline(transaction=True)
        self.add_burial(pipe, raw, task, error)
        self._drop_held(pipe, worker_id, raw, task, entry_id)
        pipe.execute()

    def add_burial(self, pipe: Any, raw: str | bytes, task: Task | None, error: str) -> None:
        """Add the commands that file a dead letter to ``pipe`` (a MULTI the caller runs).

        Bytes that are not UTF-8 are kept with backslash escapes (``\\xff``): the letter is
        JSON text, and nothing of the original is dropped.
        """
        file_letter(pipe, self.where.dead, self.where.stats, raw, task, error)

    def dead_letters(self, limit: int = 100) -> list[DeadLetter]:
        """The oldest ``limit`` dead letters (read only)."""
        return read_letters(self.client, self.where.dead, limit)

    def retry_dead(self, limit: int = 100) -> int:
        """Put up to ``limit`` dead letters back in the queue with attempts reset.

        Letters whose text never parsed as a task stay dead (fix and push them by hand).
        One WATCH/MULTI transaction: a crash halfway cannot lose or double a letter.
        """
        def requeue(pipe: Any, tasks: list[Task]) -> None:
            self._add(pipe, [task.to_json() for task in tasks])

        return revive_letters(self.client, self.where.dead, limit, requeue)

    def purge_dead(self) -> int:
        """Delete every dead letter; returns how many there were."""
        return purge_letters(self.client, self.where.dead)

    def _parsed_or_buried(self, parse: Callable[[], T], raw: Callable[[], str | bytes], *,
                          worker_id: str | None = None, entry_id: str | None = None
                          ) -> list[T]:
        """``[parse()]``, or ``[]`` after making ``raw()`` (what Redis held) a dead letter.

        Whatever the text is (any bytes at all), this never raises for it: a decoding bug
        becomes a dead letter with the exception's type and message, not a dead worker.
        """
        try:
            return [parse()]
        except TaskValidationError as exc:
            reason = str(exc)
        except Exception as exc:  # a bug in parsing must not stop the queue: bury, go on
            reason = f"{type(exc).__name__}: {exc}"
        self.bury(raw(), None, reason, worker_id, entry_id=entry_id)
        return []
