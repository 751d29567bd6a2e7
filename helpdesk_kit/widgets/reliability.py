"""Lesson 07: what a crash costs each queue mode, retries with backoff, and several workers.

A notebook cannot ``kill -9`` a worker that lives in its own process (and fakeredis lives in
this one), so the crash is simulated faithfully instead: :func:`crash_and_recover` runs a
worker loop that takes a batch of tasks and, while running one of them, simply *stops* - no
ack, no hand-back, no clean-up, exactly what SIGKILL leaves behind. Its heartbeat then expires.
A second, healthy :class:`~helpdesk_kit.worker.Worker` finishes the job (and, in reliable mode,
recovers the dead worker's tasks first). Counting every handler run says what was lost (seed
mode) or done twice (reliable mode: *at least once*).

The other helpers run the real Worker: :func:`flaky_registry` makes a handler fail on purpose
(retries, backoff, dead letters) and :func:`drain_timeline` samples the queue length while
1, 2 or 4 worker threads drain it.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import ipywidgets as widgets
import redis

from ..app import REGISTRY, TaskContext, helpdesk_queue
from ..keys import KeySchema
from ..lessons import Table, capture_logs
from ..queue import Mode, Task, TaskQueue, TaskRegistry, Worker
from . import Shown

__all__ = ["CrashLab", "CrashReport", "FlakyService", "counting_registry",
           "crash_and_recover", "drain_timeline", "flaky_registry", "plot_timelines", "settle",
           "with_email_task"]


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


@dataclass
class FlakyService:
    """A stand-in for the notification provider: it fails its next ``fail_next`` calls.

    ``fail_next = 2`` is a hiccup (retries fix it); a big number is an outage (the task ends
    in the dead letters); ``0`` means it is back up. ``calls`` keeps the time of every call.
    """

    fail_next: int = 0
    calls: list[float] = field(default_factory=list)
    outcomes: list[str] = field(default_factory=list)  # "unavailable" or "delivered", per call

    def call(self) -> None:
        self.calls.append(time.monotonic())
        if self.fail_next > 0:
            self.fail_next -= 1
            self.outcomes.append("unavailable")
            raise ConnectionError("notification service unavailable")
        self.outcomes.append("delivered")


def flaky_registry(service: FlakyService, base: TaskRegistry = REGISTRY,
                   task_type: str = "send_notifications") -> TaskRegistry:
    """A copy of ``base`` where ``task_type``, after its own work, calls ``service``."""
    original = base.get(task_type)

    def flaky(ctx: Any, task: Task) -> Any:
        result = original.handler(ctx, task)  # record the notification (idempotent)...
        service.call()  # ...then hand it to the provider, which may fail
        return result

    registry = base.copy()
    registry.register(task_type, flaky, original.fields, original.check)
    return registry


def settle(queue: TaskQueue, context: TaskContext, *, timeout_s: float = 5.0,
           poll_s: float = 0.01) -> int:
    """Run a reliable worker until nothing is pending or waiting for a retry; tasks run.

    ``Worker.process_all`` stops when the queue is empty, even if retries are still waiting
    in ``tasks:delayed``; this waits for them (up to ``timeout_s``) and runs them too.
    """
    worker = Worker(queue, context, mode="reliable", worker_id="settle")
    deadline = time.monotonic() + timeout_s
    ran = worker.process_all()["processed"]
    while queue.inspect().delayed and time.monotonic() < deadline:
        time.sleep(poll_s)
        ran += worker.process_all()["processed"]
    return ran


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


def _victim(queue: TaskQueue, context: TaskContext, mode: Mode, worker_id: str, batch: int,
            crash_at: int, heartbeat_ttl_s: float) -> tuple[int, int]:
    """A worker that dies while running its ``crash_at``-th task (after the work, before the
    ack). Returns (tasks it took, tasks it finished). Nothing is cleaned up: that is the crash.
    """
    if mode == "reliable":
        queue.register_worker(worker_id, heartbeat_ttl_s)
    taken = finished = 0
    while True:
        if mode == "seed":
            tasks = [t for t in (queue.dequeue() for _ in range(batch)) if t is not None]
        else:
            tasks = queue.reserve_many(worker_id, batch)
        if not tasks:
            return taken, finished
        taken += len(tasks)
        for task in tasks:
            queue.registry.get(task.type).handler(context, task)
            if finished + 1 == crash_at:
                return taken, finished  # killed here: the ack below never happens
            if mode == "reliable":
                queue.ack(worker_id, task)
            finished += 1


def crash_and_recover(queue: TaskQueue, context: TaskContext, *, mode: Mode, tasks: int = 20,
                      batch: int = 5, crash_at: int = 7, heartbeat_ttl_s: float = 0.2
                      ) -> CrashReport:
    """Enqueue ``tasks`` notifications, kill a worker mid-batch, let a healthy one finish.

    The run uses a local queue on the same keys with a counting copy of ``queue.registry``,
    so the caller's queue is left as it was. The healthy worker starts after the victim's
    heartbeat has expired, as it would in production.
    """
    registry, runs = counting_registry(queue.registry)
    queue = TaskQueue(queue.client, queue.keys, registry=registry, retry=queue.retry)
    before = context.store.counts()["notifications"]
    for ticket_id in range(1, tasks + 1):
        queue.enqueue("send_notifications",
                      {"ticketId": ticket_id, "usuarioId": 1, "tipo": "ticket_creado"})
    taken, finished = _victim(queue, context, mode, f"victim-{mode}", batch, crash_at,
                              heartbeat_ttl_s)
    time.sleep(heartbeat_ttl_s * 1.5)  # the dead worker's heartbeat key expires
    recovered = queue.requeue_orphans() if mode == "reliable" else 0
    Worker(queue, context, mode=mode, worker_id=f"healthy-{mode}").process_all()
    return CrashReport(mode, tasks, taken, finished, recovered, sum(runs.values()), len(runs),
                       context.store.counts()["notifications"] - before)


def with_email_task(delay_s: float, base: TaskRegistry = REGISTRY) -> TaskRegistry:
    """A copy of ``base`` plus ``send_email``: a task that only waits ``delay_s`` on a mail
    provider (the seed's slow "worker: 2-5 s" part, scaled down). Waiting is what threads can
    overlap; a database with one writer is not (see the lesson).
    """

    def send_email(_ctx: Any, task: Task) -> dict[str, Any]:
        time.sleep(delay_s)  # the provider's API call
        return {"sent_to": task.payload["usuarioId"]}

    registry = base.copy()
    registry.register("send_email", send_email, {"ticketId": int, "usuarioId": int})
    return registry


def _payload(task_type: str, i: int) -> dict[str, Any]:
    if task_type == "send_email":
        return {"ticketId": 1 + i % 50, "usuarioId": 1 + i % 7}
    return {"ticketId": 1 + i % 50, "usuarioId": 1, "tipo": "ticket_creado"}


def drain_timeline(queue: TaskQueue, context: TaskContext, *, workers: int, tasks: int = 40,
                   task_type: str = "send_email", sample_every_s: float = 0.01
                   ) -> list[tuple[float, int]]:
    """Enqueue ``tasks`` of ``task_type``, drain them with ``workers`` threads (reliable mode).

    Returns ``(seconds since start, pending)`` samples, ending with the queue empty.
    """
    queue.enqueue_many((task_type, _payload(task_type, i)) for i in range(tasks))
    crew = [Worker(queue, context, mode="reliable", worker_id=f"drain-{workers}-{i}")
            for i in range(workers)]
    threads = [threading.Thread(target=w.process_all, daemon=True) for w in crew]
    start = time.monotonic()
    samples = [(0.0, int(queue.client.llen(queue.keys.tasks_pending)))]
    for thread in threads:
        thread.start()
    while any(t.is_alive() for t in threads):
        time.sleep(sample_every_s)
        pending = int(queue.client.llen(queue.keys.tasks_pending))
        samples.append((time.monotonic() - start, pending))
    for thread in threads:
        thread.join()
    return samples


def plot_timelines(timelines: dict[int, list[tuple[float, int]]]) -> Any:
    """Queue length over time, one line per worker count; returns the matplotlib Figure."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.2))
    for count, samples in sorted(timelines.items()):
        ax.plot([s for s, _ in samples], [n for _, n in samples],
                label=f"{count} worker{'s' if count > 1 else ''}")
    ax.set_xlabel("seconds")
    ax.set_ylabel("tasks pending (LLEN)")
    ax.set_title("Draining the same queue with more workers")
    ax.legend()
    fig.tight_layout()
    plt.close(fig)  # the notebook shows the returned figure once
    return fig


class CrashLab(Shown):
    """Pick a mode, a batch size and when the worker dies; see what was lost or repeated."""

    def __init__(self, client: redis.Redis, keys: KeySchema, context: TaskContext) -> None:
        self.client = client
        self.keys = keys
        self.context = context
        self.reports: list[CrashReport] = []
        self.mode = widgets.ToggleButtons(options=["seed", "reliable"], description="mode")
        self.batch = widgets.IntSlider(value=5, min=1, max=10, description="batch size")
        self.crash_at = widgets.IntSlider(value=7, min=1, max=20, description="dies at task")
        self.run_button = widgets.Button(description="Run and crash", icon="bolt")
        self.view = widgets.HTML()
        self.run_button.on_click(lambda _: self.run(self.mode.value, self.batch.value,
                                                    self.crash_at.value))
        self.widget = widgets.VBox([widgets.HBox([self.mode, self.run_button]),
                                    widgets.HBox([self.batch, self.crash_at]), self.view])
        self.view.value = "<i>Press the button: each run is added as a row.</i>"

    def run(self, mode: Mode, batch: int, crash_at: int) -> CrashReport:
        # every run gets an empty queue of its own: lessonNN:crash3:tasks:pending ...
        prefix = f"{self.keys.prefix}crash{len(self.reports)}:"
        queue = helpdesk_queue(self.client, KeySchema(prefix=prefix))
        with capture_logs():  # the workers' log lines stay out of the notebook
            report = crash_and_recover(queue, self.context, mode=mode, batch=batch,
                                       crash_at=crash_at)
        self.reports.append(report)
        self.view.value = Table(REPORT_HEADERS, [r.row() for r in self.reports])._repr_html_()
        return report
