"""What a worker asks of a queue: a small protocol, and the pop mode as an adapter.

A :class:`~helpdesk_kit.queue.Worker` never asks which mode it runs in. It talks to a
:class:`WorkerQueue`: take tasks, ack them (or ack one and take the next in one round trip),
fail one, release what it holds, run maintenance, and keep a heartbeat. The reliable list
queue (:class:`~.list_queue.TaskQueue`) and the streams queue
(:class:`~.stream_queue.StreamQueue`) are such queues themselves. The pop mode - the design's
``LPOP`` queue - is :class:`PopQueue`, an adapter in front of the list queue: it takes with
``LPOP``, and has nothing to ack, release, recover or beat for.

:func:`worker_queue` picks the one a mode needs: the only place the mode matters.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from ..vocab import Outcome, QueueMode
from .base import BaseQueue
from .list_queue import TaskQueue
from .stream_queue import StreamQueue
from .task import Task

__all__ = ["PopQueue", "WorkerQueue", "worker_queue"]


class WorkerQueue(Protocol):
    """A queue as one worker (``worker_id``) talks to it."""

    def take(self, worker_id: str, count: int, timeout: float) -> list[Task]:
        """Up to ``count`` tasks; waits up to ``timeout`` s for the first (0: no wait)."""

    def ack(self, worker_id: str, tasks: Task | Iterable[Task]) -> None:
        """These tasks are done."""

    def ack_and_reserve(self, worker_id: str, done: Task | None) -> Task | None:
        """``done`` (if any) is done; the next task, taken in the same round trip."""

    def fail(self, worker_id: str, task: Task, error: str, *, retry: bool = True) -> Outcome:
        """A handler failed: retry the task later, or bury it."""

    def release(self, worker_id: str) -> int:
        """Hand back what this worker holds (after an outage); returns how many."""

    def maintain(self, worker_id: str, heartbeat_ttl_s: float) -> int:
        """Recover dead workers' tasks and promote due retries; returns how many moved."""

    def promote_due(self, now: int | None = None, limit: int = 100) -> int:
        """Move retries whose time has come back to the queue; returns how many."""

    def register_worker(self, worker_id: str, ttl_s: float) -> None:
        """A worker starts: its first heartbeat."""

    def heartbeat(self, worker_id: str, ttl_s: float) -> None:
        """"I am alive", for the next ``ttl_s`` seconds."""

    def unregister_worker(self, worker_id: str) -> int:
        """A worker stops: hand back what it holds; returns how many."""


class PopQueue:
    """The pop mode behind the worker protocol: the list queue's ``LPOP``, and nothing else.

    A task taken with ``LPOP`` lives only in this worker, so there is nothing to ack, release
    or recover, no heartbeat, and no retries: a failed task is buried at once (it must not
    vanish). The ``done`` counter is counted here and written at each maintenance and at
    the end (one ``HINCRBY``, not one per task).
    """

    def __init__(self, queue: TaskQueue) -> None:
        self.queue = queue
        self._done = 0  # tasks done since the counter was last written

    def take(self, worker_id: str, count: int, timeout: float) -> list[Task]:
        task = self.queue.dequeue(timeout=timeout)  # one at a time, whatever the batch
        return [task] if task else []

    def ack(self, worker_id: str, tasks: Task | Iterable[Task]) -> None:
        if isinstance(tasks, Task):
            self._done += 1
        else:
            self._done += len(list(tasks))

    def ack_and_reserve(self, worker_id: str, done: Task | None) -> Task | None:
        if done is not None:
            self.ack(worker_id, done)
        return None  # the next take pops it

    def fail(self, worker_id: str, task: Task, error: str, *, retry: bool = True) -> Outcome:
        self.queue.bury(task.raw_text(), task, error)  # no retries in the design's queue
        return Outcome.DEAD

    def release(self, worker_id: str) -> int:
        return 0  # a popped task is held by nobody

    def maintain(self, worker_id: str, heartbeat_ttl_s: float) -> int:
        self._write_done()
        return 0

    def promote_due(self, now: int | None = None, limit: int = 100) -> int:
        return 0  # nothing is ever delayed

    def register_worker(self, worker_id: str, ttl_s: float) -> None:
        """Nobody recovers a pop worker's tasks: no registration."""

    def heartbeat(self, worker_id: str, ttl_s: float) -> None:
        """No heartbeat: nobody would read it."""

    def unregister_worker(self, worker_id: str) -> int:
        self._write_done()
        return 0

    def _write_done(self) -> None:
        if self._done:
            self.queue.client.hincrby(self.queue.keys.tasks_stats, "done", self._done)
            self._done = 0


def worker_queue(queue: BaseQueue, mode: QueueMode) -> WorkerQueue:
    """The queue a worker in ``mode`` talks to: the queue itself, or the pop adapter.
    ValueError if the queue cannot serve that mode (streams needs a StreamQueue)."""
    if (mode is QueueMode.STREAMS) != isinstance(queue, StreamQueue):
        wanted = "StreamQueue" if mode is QueueMode.STREAMS else "TaskQueue"
        raise ValueError(f"mode {mode!s} needs a {wanted}, got {type(queue).__name__}")
    if mode is QueueMode.POP and isinstance(queue, TaskQueue):
        return PopQueue(queue)
    if isinstance(queue, TaskQueue | StreamQueue):
        return queue
    raise ValueError(f"a worker needs a TaskQueue or a StreamQueue, got {type(queue).__name__}")
