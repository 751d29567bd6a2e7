"""Lesson 06: a queue you can drive by hand - enqueue tasks, run a worker a step at a time or
in a burst, and watch each task move from *pending* to *in the worker* to *done*.

A step is split in two on purpose, so the moment between "taken" and "finished" is visible:

1. **take**: the seed's ``dequeueTask`` (``LPOP``) in ``seed`` mode - the task now exists only
   in the worker's memory; or ``LMOVE`` into the worker's processing list in ``reliable`` mode
   (lesson 07) - the task is still in Redis;
2. **run**: the task's handler does its database work, then the task counts as done.

"Burst" hands the rest to a real :class:`~helpdesk_kit.worker.Worker` (``process_all``, the
seed's ``procesarTareas``). Callbacks update HTML widgets only (never ``print``).
"""

from __future__ import annotations

import html
import statistics
import time
from collections.abc import Iterable
from typing import Any

import ipywidgets as widgets
import redis

from ..app import HelpdeskApp, TaskContext, helpdesk_queue
from ..cache import Cache
from ..db import HelpdeskStore
from ..db.sample import SAMPLE_NOW
from ..keys import KeySchema
from ..lab.latency import LOCAL, RoundTrips, wrap_redis, wrap_store
from ..lessons import Table, capture_logs
from ..queue import Mode, Task, TaskQueue, Worker
from . import Shown

__all__ = ["DEFAULT_PAYLOADS", "QueueLab", "create_ticket_round_trips", "database_counts",
           "task_effects", "time_create_ticket"]

#: A sensible payload for each of the seed's three task types (the sample's dates fit them).
DEFAULT_PAYLOADS: dict[str, dict[str, Any]] = {
    "send_notifications": {"ticketId": 1, "usuarioId": 1, "tipo": "ticket_creado"},
    "close_inactive_tickets": {"days": 30},
    "archive_old_interactions": {"days": 90},
}


def time_create_ticket(app: HelpdeskApp, requester_id: int, repeat: int = 5
                       ) -> dict[str, float]:
    """Median seconds of ``create_ticket`` with the notification queued vs run inline.

    The two kinds alternate, so both see the same machine; log lines are kept out of sight.
    """
    samples: dict[str, list[float]] = {"queued": [], "inline": []}
    with capture_logs():
        for i in range(repeat):
            for kind in samples:
                started = time.perf_counter()
                result = app.create_ticket(requester_id, f"Timing {kind} {i}",
                                           inline=kind == "inline")
                samples[kind].append(time.perf_counter() - started)
                if not result["success"]:
                    raise RuntimeError(f"create_ticket failed: {result}")
    return {kind: statistics.median(values) for kind, values in samples.items()}


def create_ticket_round_trips(store: HelpdeskStore, client: redis.Redis, keys: KeySchema,
                              requester_id: int) -> dict[str, tuple[int, int]]:
    """(database, Redis) round trips of one ``create_ticket``, notification queued vs inline.

    Counted, not timed: the same on every machine. The app is warmed first (the requester's
    row cached), as it is in a running app, so the counts are the steady state's.
    """
    counts: dict[str, tuple[int, int]] = {}
    db_trips = RoundTrips()
    redis_trips = RoundTrips()
    counted = wrap_redis(client, LOCAL, counter=redis_trips)
    app = HelpdeskApp(wrap_store(store, LOCAL, counter=db_trips), Cache(counted, keys),
                      helpdesk_queue(counted, keys), clock=lambda: SAMPLE_NOW)
    with capture_logs():
        app.create_ticket(requester_id, "Warm-up")
        for kind in ("queued", "inline"):
            db_trips.count = redis_trips.count = 0
            app.create_ticket(requester_id, f"Counted {kind}", inline=kind == "inline")
            counts[kind] = (db_trips.count, redis_trips.count)
    return counts


def database_counts(store: HelpdeskStore) -> dict[str, int]:
    """What the three tasks change: closed tickets, comments, archived comments, notifications."""
    counts = store.counts()
    closed = store.list_tickets(status="closed", limit=counts["tickets"])
    return {"closed tickets": len(closed), "comments": counts["interactions"],
            "archived comments": counts["interactions_archive"],
            "notifications": counts["notifications"]}


def task_effects(queue: TaskQueue, context: TaskContext,
                 payloads: dict[str, dict[str, Any]] | None = None) -> Table:
    """Run one task of each type through a seed-mode worker; table of what it changed."""
    rows = []
    for kind, payload in (payloads or DEFAULT_PAYLOADS).items():
        before = database_counts(context.store)
        queue.enqueue(kind, payload)
        with capture_logs():
            Worker(queue, context, mode="seed").process_all()
        after = database_counts(context.store)
        changes = ", ".join(f"{name} {after[name] - before[name]:+,}" for name in after
                            if after[name] != before[name])
        rows.append((kind, payload, changes or "nothing"))
    return Table(("task", "payload", "what changed in the database"), rows,
                 caption="One task of each type, run by a worker")


class QueueLab(Shown):
    """Enqueue N tasks of chosen types; step or burst a worker; see pending / held / done."""

    def __init__(self, queue: TaskQueue, context: TaskContext, *, mode: Mode = "seed",
                 worker_id: str = "lab-worker",
                 payloads: dict[str, dict[str, Any]] | None = None) -> None:
        self.queue = queue
        self.context = context
        self.mode: Mode = mode
        self.worker_id = worker_id
        self.payloads = dict(payloads or DEFAULT_PAYLOADS)
        self.in_hand: Task | None = None  # taken, not yet run
        self.done_here = 0  # tasks this lab ran by hand (a burst's show in the queue's stats)
        self.last = "Nothing happened yet."

        self.count = widgets.IntSlider(value=3, min=1, max=20, description="tasks each")
        self.types = widgets.SelectMultiple(options=list(self.payloads),
                                            value=("send_notifications",),
                                            description="types", rows=3)
        self.enqueue_button = widgets.Button(description="Enqueue", icon="plus")
        self.step_button = widgets.Button(description="Step (take / run)", icon="step-forward")
        self.burst_button = widgets.Button(description="Burst (process all)", icon="forward")
        self.status = widgets.HTML()
        self.enqueue_button.on_click(lambda _: self.enqueue(self.count.value, self.types.value))
        self.step_button.on_click(lambda _: self.step())
        self.burst_button.on_click(lambda _: self.burst())
        self.widget = widgets.VBox([
            widgets.HBox([self.count, self.types]),
            widgets.HBox([self.enqueue_button, self.step_button, self.burst_button]),
            self.status,
        ])
        self.refresh()

    # --- the actions (plain methods: the buttons call them, so do the tests) -------------
    def enqueue(self, n: int, types: Iterable[str]) -> list[Task]:
        """Enqueue ``n`` tasks of each type in ``types`` (validated first: all or nothing)."""
        items = [(kind, self.payloads[kind]) for kind in types for _ in range(n)]
        tasks = self.queue.enqueue_many(items)
        self.last = f"Enqueued {len(tasks)} task(s) with RPUSH."
        self.refresh()
        return tasks

    def take(self) -> Task | None:
        """The first half of a step: LPOP (seed) or LMOVE to processing (reliable)."""
        if self.mode == "seed":
            self.in_hand = self.queue.dequeue()
        else:
            self.in_hand = self.queue.reserve(self.worker_id)
        if self.in_hand is None:
            self.last = "The queue is empty: nothing to take."
        else:
            where = ("only in the worker's memory" if self.mode == "seed"
                     else "in the worker's processing list in Redis")
            self.last = f"Took {self.in_hand.type} {self.in_hand.id[:8]}: it is now {where}."
        self.refresh()
        return self.in_hand

    def run(self) -> Any:
        """The second half: run the task in hand; reliable mode acks it (LREM) afterwards."""
        task = self.in_hand
        if task is None:
            self.last = "No task in hand: take one first."
            self.refresh()
            return None
        handler = self.queue.registry.validate(task.type, task.payload).handler
        with capture_logs():  # a button's work must not print into some cell's output
            result = handler(self.context, task)
        if self.mode == "reliable":
            self.queue.ack(self.worker_id, task)
        self.in_hand = None
        self.done_here += 1
        self.last = f"Ran {task.type} {task.id[:8]}: {html.escape(str(result))}"
        self.refresh()
        return result

    def step(self) -> str:
        """Take a task if the worker holds none, else run the one it holds. Returns which."""
        if self.in_hand is None:
            self.take()
            return "take"
        self.run()
        return "run"

    def burst(self) -> int:
        """Finish the task in hand, then let a real Worker empty the queue. Returns tasks run."""
        ran = 0
        if self.in_hand is not None:
            self.run()
            ran = 1
        worker = Worker(self.queue, self.context, mode=self.mode,
                        worker_id=f"{self.worker_id}-burst")
        with capture_logs():  # one log line per task: keep them out of the notebook
            ran += worker.process_all()["processed"]
        self.last = f"Burst: the worker processed {ran} task(s) and found the queue empty."
        self.refresh()
        return ran

    # --- the view ------------------------------------------------------------------------
    def counts(self) -> dict[str, int]:
        """pending (in Redis), in_worker (taken, not finished), done, dead."""
        stats = self.queue.inspect()
        held = stats.processing if self.mode == "reliable" else int(self.in_hand is not None)
        done = stats.done + (self.done_here if self.mode == "seed" else 0)
        return {"pending": stats.pending, "in_worker": held, "done": done, "dead": stats.dead}

    def refresh(self) -> str:
        c = self.counts()
        bar = "".join(
            f"<span style='display:inline-block;min-width:9em'><b>{c[name]}</b> {label}</span>"
            for name, label in (("pending", "pending"), ("in_worker", "in the worker"),
                                ("done", "done"), ("dead", "dead letters"))
        )
        self.status.value = f"<div>{bar}</div><div>{self.last}</div>"
        return self.status.value
