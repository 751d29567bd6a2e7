"""Lesson 07's crash: a real :class:`~helpdesk_kit.queue.Worker`, killed mid-batch, and what
it cost - every number counted, none assumed.

A notebook cannot ``kill -9`` a worker that lives in its own process (and fakeredis lives in
this one), so the kill happens inside: the victim is the kit's own Worker with its own Redis
connection, and one of its handlers raises :class:`WorkerKilled` (not an ``Exception``, so the
worker's error handling never sees it) and cuts that connection at the same moment. The loop
ends mid-batch, no ack is sent, nothing on the way out reaches Redis, the heartbeat stops: what
SIGKILL leaves behind. A healthy Worker then finishes the job (in reliable mode after
``requeue_orphans``). A worker that acked before running its handler would lose tasks here.

The queue given may be the app's on the learner's pieces (lesson 07's
:class:`~helpdesk_kit.lessons.assembly.PieceQueue`): the victim and the healthy worker then
take, ack and recover with the learner's own ``dequeue_task`` or ``reserve_task``,
``ack_task`` and ``recover_tasks``.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

import redis

from ..app import REGISTRY, TaskContext
from ..lessons.assembly import PieceQueue
from ..queue import Mode, Task, TaskQueue, TaskRegistry, Worker

__all__ = ["REPORT_HEADERS", "CrashReport", "WorkerKilled", "counting_registry",
           "crash_and_recover"]


def counting_registry(base: TaskRegistry = REGISTRY) -> tuple[TaskRegistry, Counter[str]]:
    """A copy of ``base`` whose handlers count their runs per task id (same checks)."""
    runs: Counter[str] = Counter()
    lock = threading.Lock()
    registry = base.copy()
    for name in base:
        original = base.get(name)

        def counted(ctx: Any, task: Task, _handler: Any = original.handler) -> Any:
            result = _handler(ctx, task)
            with lock:
                runs[task.id] += 1
            return result

        registry.register(name, counted, original.fields, original.check)
    return registry, runs


@dataclass(frozen=True)
class CrashReport:
    """What one crash cost: every number is counted, none is assumed."""

    mode: str
    enqueued: int
    taken_by_victim: int
    done_before_crash: int
    recovered: int      # tasks the healthy worker took back from the dead one's list
    handler_runs: int   # every handler execution, counting repeats
    distinct_done: int  # tasks whose handler ran at least once
    notifications: int  # rows in the database (the handler is idempotent: one per task)

    @property
    def lost(self) -> int:
        """Tasks that never ran: gone with the dead worker's memory."""
        return self.enqueued - self.distinct_done

    @property
    def duplicates(self) -> int:
        """Extra runs of tasks that had already run (at-least-once delivery)."""
        return self.handler_runs - self.distinct_done

    def row(self) -> tuple[object, ...]:
        return (self.mode, self.enqueued, self.taken_by_victim, self.done_before_crash,
                self.recovered, self.lost, self.duplicates, self.notifications)


REPORT_HEADERS = ("mode", "enqueued", "taken by victim", "done before crash", "recovered",
                  "lost", "duplicate runs", "notification rows")


class WorkerKilled(BaseException):
    """Raised inside a handler to stop a real :class:`Worker` dead, as ``kill -9`` would.

    It is not an ``Exception``, so the worker's ``except Exception`` (retry, dead letter)
    never sees it: the worker's loop ends mid-batch, its ack never happens.
    """


class _KillablePool(redis.ConnectionPool):
    """A connection pool that refuses every connection once ``killed``: a dead process's
    Redis connections are gone, so nothing it would do on the way out reaches Redis."""

    killed = False

    def get_connection(self, *args: Any, **kwargs: Any) -> Any:
        if self.killed:
            raise redis.ConnectionError("this worker was killed")
        return super().get_connection(*args, **kwargs)


def _same_queue(queue: TaskQueue, client: redis.Redis, registry: TaskRegistry) -> TaskQueue:
    """``queue`` on another client or registry: the kit's, or the same learner's pieces."""
    if isinstance(queue, PieceQueue):
        return queue.copy(client=client, registry=registry)
    return TaskQueue(client, queue.keys, registry=registry, retry=queue.retry)


def _own_connection(client: redis.Redis) -> tuple[redis.Redis, _KillablePool]:
    """A client of its own on the same server (real or fake), and its killable pool."""
    shared = client.connection_pool
    pool = _KillablePool(connection_class=shared.connection_class, **shared.connection_kwargs)
    return redis.Redis(connection_pool=pool), pool


def _victim(queue: TaskQueue, context: TaskContext, *, mode: Mode, batch: int, crash_at: int,
            after_work: bool, heartbeat_ttl_s: float) -> tuple[int, int]:
    """Run a real :class:`Worker` that is killed during its ``crash_at``-th task.

    ``after_work``: killed after the task's database work, before the ack; otherwise during
    the work (before it was written). Returns (tasks it had taken, tasks it finished).
    """
    client, pool = _own_connection(queue.client)
    waiting = int(queue.client.llen(queue.keys.tasks_pending))
    started = finished = 0
    taken: int | None = None  # measured at the moment of the kill
    registry = queue.registry.copy()
    for name in queue.registry:
        original = queue.registry.get(name)

        def mortal(ctx: Any, task: Task, _handler: Any = original.handler) -> Any:
            nonlocal started, finished, taken
            started += 1
            result = None
            if started < crash_at or after_work:
                result = _handler(ctx, task)
            if started == crash_at:  # kill -9, now: what it holds stays where it is
                taken = waiting - int(queue.client.llen(queue.keys.tasks_pending))
                pool.killed = True
                raise WorkerKilled
            finished += 1
            return result

        registry.register(name, mortal, original.fields, original.check)
    victim = Worker(_same_queue(queue, client, registry), context, mode=mode,
                    worker_id=f"victim-{mode}", batch=batch, heartbeat_ttl_s=heartbeat_ttl_s)
    try:
        victim.process_all()
    except (WorkerKilled, redis.ConnectionError):
        if not pool.killed:
            raise  # a real Redis error, not our kill
    finally:
        pool.disconnect()
    return (started if taken is None else taken), finished


def crash_and_recover(queue: TaskQueue, context: TaskContext, *, mode: Mode, tasks: int = 20,
                      batch: int = 5, crash_at: int = 7, after_work: bool = False,
                      heartbeat_ttl_s: float = 0.2) -> CrashReport:
    """Enqueue ``tasks`` notifications, kill a real worker mid-batch, let a healthy one finish.

    The victim is the kit's own :class:`Worker` (``batch`` tasks per take in reliable mode;
    the seed's loop takes one at a time), killed during its ``crash_at``-th task - during the
    work, or with ``after_work`` after it and before the ack. Its Redis connection dies with
    it, so no clean-up runs. The run uses a counting copy of ``queue.registry`` on the same
    keys, so the caller's queue is left as it was. The healthy worker starts after the
    victim's heartbeat has expired, as it would in production.
    """
    registry, runs = counting_registry(queue.registry)
    counted = _same_queue(queue, queue.client, registry)
    before = context.store.counts()["notifications"]
    for ticket_id in range(1, tasks + 1):
        counted.enqueue("send_notifications",
                        {"ticketId": ticket_id, "usuarioId": 1, "tipo": "ticket_creado"})
    taken, finished = _victim(counted, context, mode=mode, batch=batch, crash_at=crash_at,
                              after_work=after_work, heartbeat_ttl_s=heartbeat_ttl_s)
    time.sleep(heartbeat_ttl_s * 1.5)  # the dead worker's heartbeat key expires
    recovered = counted.requeue_orphans() if mode == "reliable" else 0
    Worker(counted, context, mode=mode, worker_id=f"healthy-{mode}").process_all()
    return CrashReport(mode, tasks, taken, finished, recovered, sum(runs.values()), len(runs),
                       context.store.counts()["notifications"] - before)
