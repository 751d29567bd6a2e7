"""Workers as the queue sees them: registration, heartbeats, and recovery after a death.

A worker keeps ``tasks:heartbeat:{worker}`` alive with a TTL. When it dies (SIGKILL, the OOM
killer, a lost machine) the key expires, and :meth:`WorkerOps.requeue_orphans` gives the tasks
left in its processing list back to ``tasks:pending``, counting the death as a failed attempt.
Mixed into :class:`~helpdesk_kit.queue.list_queue.TaskQueue`, like the dead-letter operations.
"""

from __future__ import annotations

from typing import Any

from ..backends.raw import bytes_reply
from ..backends.transaction import watched
from ..errors import TaskValidationError
from ..vocab import Outcome
from .dead_letters import DeadLetterOps
from .task import Task, now_ms

__all__ = ["WorkerOps"]


class WorkerOps(DeadLetterOps):
    """Worker bookkeeping on ``self.client`` under ``self.keys`` (mixed into TaskQueue)."""

    max_task_bytes: int
    retry: Any  # the queue's RetryPolicy (defined beside TaskQueue, which uses this class)

    def register_worker(self, worker_id: str, ttl_s: float) -> None:
        self.client.sadd(self.keys.tasks_workers, worker_id)
        self.heartbeat(worker_id, ttl_s)

    def heartbeat(self, worker_id: str, ttl_s: float) -> None:
        """"I am alive": a key that expires unless refreshed within ``ttl_s``."""
        self.client.set(self.keys.worker_heartbeat(worker_id), now_ms(), px=int(ttl_s * 1000))

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
        self.client.delete(self.keys.worker_heartbeat(worker_id))
        self.client.srem(self.keys.tasks_workers, worker_id)
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
