"""The worker: takes tasks off the queue and runs their handlers (the design's ``procesarTareas``).

``process_all()`` is the design's batch loop: take tasks until the queue is empty, run each, return
``{"processed": n}``. ``run()`` is the long-running form: it blocks on the queue with a short
timeout (so it notices ``stop()`` within a fraction of a second), and on SIGTERM/SIGINT it
finishes the task in hand, hands the rest back and exits. A Redis error inside ``run()`` is
logged and retried after ``poll_timeout_s``: a blip never ends a long-running worker.

Three modes:

- ``pop``: ``LPOP`` - a task lives only in this process once taken; a crash loses it (the
  design's queue; ``seed``, its old name, still works).
- ``reliable``: ``LMOVE`` into this worker's processing list, ack after the handler, retries
  with backoff, dead letters, and a heartbeat so others can recover our tasks if we die (a
  task that kills ``max_attempts`` workers becomes a dead letter, see ``requeue_orphans``).
- ``streams``: the same guarantees on a stream (:class:`~.stream_queue.StreamQueue`):
  ``XREADGROUP`` + ``XACK``; a dead worker's entries are taken over with ``XAUTOCLAIM``.

The worker never asks which mode it runs in: it talks to the queue through a small protocol
(:class:`~.protocol.WorkerQueue`: take, ack, fail, release, maintenance, heartbeat), and the
pop mode is an adapter behind it (:class:`~.protocol.PopQueue`).

Whatever happens in a handler, the worker goes on: a bad task becomes a dead letter with its
reason, never an exception that stops the loop. Each task gives one log line.
"""

from __future__ import annotations

import contextvars
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Literal

import redis

from ..errors import TaskValidationError
from ..vocab import Outcome, QueueMode
from .list_queue import TaskQueue
from .protocol import WorkerQueue, worker_queue
from .signals import stop_on_signals
from .stream_queue import StreamQueue
from .task import Task

__all__ = ["Mode", "Worker"]

log = logging.getLogger("helpdesk_kit.worker")
#: The three queue modes, as their names or as QueueMode members (a StrEnum is its name);
#: ``"seed"`` is the pop mode's old name, which lessons still use.
Mode = QueueMode | Literal["pop", "reliable", "streams", "seed"]


def new_worker_id() -> str:
    """``host:pid:random`` - unique, and says which process held a task."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class Worker:
    """Runs tasks from ``queue`` with handlers from ``queue.registry``, given ``context``.

    ``context`` is handed to every handler as it is (the helpdesk's is
    :class:`helpdesk_kit.app.TaskContext`); the worker never looks inside it.
    """

    def __init__(self, queue: TaskQueue | StreamQueue, context: object, *,
                 mode: Mode = "reliable", worker_id: str | None = None, batch: int = 1,
                 heartbeat_ttl_s: float = 10.0, poll_timeout_s: float = 0.5) -> None:
        try:
            mode = QueueMode(mode)
        except ValueError:
            names = ", ".join(repr(str(member)) for member in QueueMode)
            raise ValueError(f"mode must be one of {names}, got {mode!r}") from None
        self.queue = queue
        #: The queue as this worker talks to it: the queue itself, or the pop mode's adapter.
        self.source: WorkerQueue = worker_queue(queue, mode)
        self.context = context
        self.mode = mode
        self.worker_id = worker_id or new_worker_id()
        self.batch = max(1, batch)
        self.heartbeat_ttl_s = heartbeat_ttl_s
        self.poll_timeout_s = poll_timeout_s
        self._stop = threading.Event()
        self._next: Task | None = None  # one by one: reserved with the last ack

    def __repr__(self) -> str:
        return f"Worker({self.worker_id!r}, mode={str(self.mode)!r})"

    def stop(self) -> None:
        """Ask the worker to stop after the task in hand (safe from a signal handler).

        A stopped Worker stays stopped: a ``stop()`` that comes before ``run()`` or
        ``process_all()`` makes them return at once. Build a new Worker to work again.
        """
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    # --- the design's batch loop ----------------------------------------------------------
    def process_all(self) -> dict[str, int]:
        """Take and run tasks until the queue is empty (or ``stop()``); ``{"processed": n}``."""
        processed = 0
        with self._session():
            while not self.stopping:
                tasks = self._take(block=False)
                if not tasks and self.source.promote_due() == 0:
                    break
                processed += self._run_batch(tasks)
        return {"processed": processed}

    # --- the long-running loop ----------------------------------------------------------
    def run(self, *, burst: bool = False, handle_signals: bool = True) -> dict[str, int]:
        """Work until ``stop()`` (or SIGTERM/SIGINT), or with ``burst`` until the queue is empty.

        Burst mode exits as soon as nothing is pending, delayed-and-due or recoverable *now*: it
        does not wait for another worker's heartbeat to expire. Tasks held by a worker that died
        a moment ago are recovered by the next worker that starts (or runs maintenance) after
        its heartbeat TTL has passed.
        """
        processed = 0
        with stop_on_signals(handle_signals, self.stop, self.worker_id), self._session():
            log.info("worker %s started (%s mode%s)", self.worker_id, self.mode,
                     ", burst" if burst else "")
            last_maintenance = time.monotonic()
            outage = False
            while not self.stopping:
                try:
                    if outage:  # Redis is back: say we are alive, hand back what we held
                        self._after_outage()
                        outage = False
                    if time.monotonic() - last_maintenance > self.heartbeat_ttl_s:
                        self._maintain()
                        last_maintenance = time.monotonic()
                    tasks = self._take(block=not burst)
                    if tasks:
                        processed += self._run_batch(tasks)
                    elif self.source.promote_due():
                        continue  # due retries are pending again: take them now, not later
                    elif burst and self._maintain() == 0:
                        break
                except redis.RedisError as exc:
                    # A blip must not end the worker. Nothing is lost in reliable mode: what
                    # we took stays in our processing list until _after_outage hands it back.
                    log.error("worker %s: Redis error (%s: %s); trying again in %.1f s",
                              self.worker_id, type(exc).__name__, exc, self.poll_timeout_s)
                    outage = True
                    self._stop.wait(self.poll_timeout_s)
        log.info("worker %s stopped after %d task(s)", self.worker_id, processed)
        return {"processed": processed}

    # --- one task -----------------------------------------------------------------------
    def _take(self, *, block: bool) -> list[Task]:
        started = time.monotonic()
        tasks = self._take_now(block)
        if block and not tasks:  # a Redis that did not block (fakeredis): wait out the rest
            self._stop.wait(self.poll_timeout_s - (time.monotonic() - started))
        return tasks

    def _take_now(self, block: bool) -> list[Task]:
        task = self._next  # ack_and_reserve took it: no round trip now
        self._next = None
        if task is not None:
            return [task]
        timeout = self.poll_timeout_s if block else 0
        return self.source.take(self.worker_id, self.batch, timeout)

    def _run_batch(self, tasks: list[Task]) -> int:
        """Run tasks in order; ack the successful ones together. Returns how many ran."""
        done: list[Task] = []
        ran = 0
        for task in tasks:
            if self.stopping and ran:
                break  # graceful stop: the rest stay in our processing list, released below
            if self._handle(task):
                done.append(task)
            ran += 1
        if self.batch == 1:  # one by one: ack it and take the next in one round trip
            finished = done[0] if done else None
            self._next = self.source.ack_and_reserve(self.worker_id, finished)
        else:
            self.source.ack(self.worker_id, done)
        return ran

    def _handle(self, task: Task) -> bool:
        """Run one task's handler; on failure retry or bury it. True if it succeeded."""
        logged = log.isEnabledFor(logging.INFO)  # time and describe it only if it is logged
        start = time.perf_counter() if logged else 0.0
        outcome = Outcome.DONE
        detail = ""
        try:
            task_type = self.queue.registry.validate(task.type, task.payload)
            result: Any = task_type.handler(self.context, task)
            detail = "" if result is None or not logged else str(result)
        except TaskValidationError as exc:  # bad input: retrying cannot help
            outcome = self._failed(task, str(exc), retry=False)
            detail = str(exc)
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
            outcome = self._failed(task, error, retry=True)
            detail = error
        done = outcome == Outcome.DONE
        if logged:
            attempt = task.attempts + 1 if done else task.attempts  # a failure counted it already
            log.info("task %s %s attempt=%d %s in %.1f ms %s", task.type, task.id, attempt,
                     outcome, (time.perf_counter() - start) * 1000, detail)
        return done

    def _failed(self, task: Task, error: str, *, retry: bool) -> Outcome:
        return self.source.fail(self.worker_id, task, error, retry=retry)

    # --- lifecycle ----------------------------------------------------------------------
    def _maintain(self) -> int:
        """Due retries back to the queue, dead workers' tasks recovered. Returns tasks moved."""
        moved = self.source.maintain(self.worker_id, self.heartbeat_ttl_s)
        if moved:
            log.info("worker %s moved %d task(s) back to pending", self.worker_id, moved)
        return moved

    def _after_outage(self) -> None:
        """After a Redis error: heartbeat again, and hand back the tasks we still hold.

        A task whose handler ran but whose ack failed runs again: at least once, as after a
        crash (the handlers are idempotent, see :mod:`helpdesk_kit.app.handlers`).
        """
        self.source.register_worker(self.worker_id, self.heartbeat_ttl_s)
        self._next = None  # it is in our processing list: handed back below with the rest
        released = self.source.release(self.worker_id)
        if released:
            log.info("worker %s handed back %d task(s) after a Redis error", self.worker_id,
                     released)

    @contextmanager
    def _session(self) -> Iterator[None]:
        """Register and keep a heartbeat; on exit hand back what we hold."""
        self.source.register_worker(self.worker_id, self.heartbeat_ttl_s)
        self._maintain()
        beating = threading.Event()
        # The heartbeat runs in a copy of this thread's context, so whatever the caller set
        # there (a notebook keeps a background worker's log lines out of cells this way)
        # holds for its heartbeat thread too.
        context = contextvars.copy_context()
        beat = threading.Thread(target=context.run, args=(self._beat, beating), daemon=True,
                                name=f"heartbeat-{self.worker_id}")
        beat.start()
        try:
            yield
        finally:
            beating.set()
            beat.join()
            try:
                released = self.source.unregister_worker(self.worker_id)
            except redis.RedisError as exc:  # our heartbeat expires; others recover our tasks
                log.error("worker %s could not hand back its tasks (%s); another worker will "
                          "recover them after %.0f s", self.worker_id, exc, self.heartbeat_ttl_s)
                released = 0
            if released:
                log.info("worker %s handed back %d task(s)", self.worker_id, released)

    def _beat(self, beating: threading.Event) -> None:
        while not beating.wait(self.heartbeat_ttl_s / 3):
            try:
                self.source.heartbeat(self.worker_id, self.heartbeat_ttl_s)
            except Exception as exc:  # Redis hiccup: try again next beat
                log.warning("heartbeat failed: %s", exc)
