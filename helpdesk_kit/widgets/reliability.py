"""Lesson 07: what a crash costs each queue mode, retries with backoff, and several workers.

The crash itself is :mod:`.crash` (a real Worker, killed mid-batch); this module adds the
crash lab widget, and the helpers that run the real Worker through failures and load:
:func:`flaky_registry` makes a handler fail on purpose (retries, backoff, dead letters) and
:func:`drain_timeline` samples the queue length while 1, 2 or 4 worker threads drain it.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

import ipywidgets as widgets
import redis
from matplotlib.figure import Figure

from ..app import REGISTRY, TaskContext, helpdesk_queue
from ..keys import KeySchema
from ..lessons import Table, capture_logs
from ..queue import Mode, Task, TaskQueue, TaskRegistry, Worker
from . import Shown
from .crash import REPORT_HEADERS, CrashReport, WorkerKilled, counting_registry, crash_and_recover

__all__ = ["REPORT_HEADERS", "CrashLab", "CrashReport", "FlakyService", "WorkerKilled",
           "counting_registry", "crash_and_recover", "drain_timeline", "flaky_registry",
           "plot_timelines", "settle", "with_email_task"]


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


def plot_timelines(timelines: dict[int, list[tuple[float, int]]]) -> Figure:
    """Queue length over time, one line per worker count (show it with ``picture(...)``)."""
    fig = Figure(figsize=(7, 3.2))
    ax = fig.subplots()
    for count, samples in sorted(timelines.items()):
        ax.plot([s for s, _ in samples], [n for _, n in samples],
                label=f"{count} worker{'s' if count > 1 else ''}")
    ax.set_xlabel("seconds (measured)")
    ax.set_ylabel("tasks pending (LLEN)")
    ax.set_title("Draining the same queue with more workers")
    ax.legend()
    fig.tight_layout()
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
        self.when = widgets.ToggleButtons(options=["during its work", "after its work"],
                                          description="dies")
        self.run_button = widgets.Button(description="Run and crash", icon="bolt")
        self.view = widgets.HTML()
        self.run_button.on_click(lambda _: self.run(
            self.mode.value, self.batch.value, self.crash_at.value,
            after_work=self.when.value == "after its work"))
        self.widget = widgets.VBox([widgets.HBox([self.mode, self.run_button]),
                                    widgets.HBox([self.batch, self.crash_at]), self.when,
                                    self.view])
        self.view.value = "<i>Press the button: each run is added as a row.</i>"

    def run(self, mode: Mode, batch: int, crash_at: int, *, after_work: bool = False
            ) -> CrashReport:
        # every run gets an empty queue of its own: lessonNN:crash3:tasks:pending ...
        prefix = f"{self.keys.prefix}crash{len(self.reports)}:"
        queue = helpdesk_queue(self.client, KeySchema(prefix=prefix))
        with capture_logs():  # the workers' log lines stay out of the notebook
            report = crash_and_recover(queue, self.context, mode=mode, batch=batch,
                                       crash_at=crash_at, after_work=after_work)
        self.reports.append(report)
        self.view.value = Table(REPORT_HEADERS, [r.row() for r in self.reports])._repr_html_()
        return report
