"""Lesson 08: a small load on the app - on the learner's pieces where they passed - to watch.

:func:`app_load` drives a :class:`~helpdesk_kit.app.HelpdeskApp` the way its users would, in
phases a dashboard can follow: it warms the user cache, creates tickets (each one queues its
notification), then reads tickets and users and updates a few while a reliable worker drains
the queue in the background. Built with ``lesson.make_app(pieces=lesson.my_helpdesk())``, the
app runs the learner's pieces: ``warm_users`` (04), the user cache (01), ``update_ticket``
(03), ``enqueue_task`` (06), and ``reserve_task`` / ``ack_task`` (07) in the worker.

It is seeded and counted, never timed: every read happens in the calling thread in the same
order on every run, so the app's own hits and misses - and the report - are the same on every
machine, on the kit's pieces and on a learner's that pass their checks.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from dataclasses import dataclass

from ..app import HelpdeskApp
from ..db.sample import SAMPLE_NOW
from ..lessons import Table, capture_logs, quiet_thread
from ..queue import Worker

__all__ = ["PHASES", "LoadReport", "app_load"]


@dataclass(frozen=True)
class LoadReport:
    """What one :func:`app_load` did, counted."""

    warmed: int  # users the warm-up cached
    created: int  # tickets created, each with its notification queued
    ticket_reads: int
    user_reads: int
    updated: int  # tickets updated (write, then invalidate)
    processed: int  # tasks the background worker ran

    def table(self) -> Table:
        return Table(("what the load did", "how many"), [
            ("users warmed (warm_users)", self.warmed),
            ("tickets created, notification queued (enqueue_task)", self.created),
            ("tasks the worker ran (reserve_task, ack_task)", self.processed),
            ("ticket reads (the kit's cache)", self.ticket_reads),
            ("user reads (get_cached_user, cache_user)", self.user_reads),
            ("ticket updates (update_ticket)", self.updated),
        ], caption="The load, counted")

    def __repr__(self) -> str:
        return repr(self.table())

    def _repr_html_(self) -> str:
        return self.table()._repr_html_()


#: The moments :func:`app_load` reports to ``on_phase``, in order.
PHASES = ("warmed", "created", "done")


def app_load(app: HelpdeskApp, *, created: int = 60, ticket_reads: int = 300,
             user_reads: int = 100, updated: int = 10, hot: int = 40, seed: int = 8,
             on_phase: Callable[[str], object] | None = None) -> LoadReport:
    """Warm, create ``created`` tickets, then read and update while a worker drains.

    Nine ticket reads in ten go to the ``hot`` most recent tickets, so the ticket cache warms
    up as the load runs; every tenth read also updates its ticket, ``updated`` times. After
    each phase (:data:`PHASES`) ``on_phase`` is called with its name - a dashboard's
    ``refresh`` there sees the queue full after ``created`` and empty after ``done``.
    """
    def phase(name: str) -> None:
        if on_phase is not None:
            on_phase(name)

    if app.cache is None or app.queue is None:
        raise ValueError("app_load needs an app with a cache and a queue (lesson.make_app)")
    rng = random.Random(seed)
    users = app.store.counts()["users"]
    with capture_logs():
        warmed = app.cache.warm_users(app.store, progress=False)
    phase("warmed")
    with capture_logs():
        for n in range(created):
            result = app.create_ticket(rng.randint(1, users), f"Load ticket {n}")
            if not result["success"]:
                raise RuntimeError(f"create_ticket failed: {result}")
    phase("created")
    worker = Worker(app.queue, app.task_context(SAMPLE_NOW), mode="reliable",
                    worker_id="load-worker")
    processed: list[int] = []
    failed: list[BaseException] = []

    def drain() -> None:
        with quiet_thread():  # its log lines would land in whatever cell runs meanwhile
            try:
                processed.append(worker.process_all()["processed"])
            except Exception as exc:  # a learner's piece raised: say so in the cell
                failed.append(exc)

    draining = threading.Thread(target=drain, daemon=True, name="load-worker")
    draining.start()
    tickets = app.store.counts()["tickets"]
    done_updates = 0
    with capture_logs():
        for n in range(ticket_reads):
            ticket_id = (tickets - rng.randrange(hot) if rng.random() < 0.9
                         else rng.randint(1, tickets))
            if n % 10 == 9 and done_updates < updated:
                app.update_ticket(ticket_id, priority=rng.choice(("low", "medium", "high")))
                done_updates += 1
            app.get_ticket(ticket_id)
        for _ in range(user_reads):
            app.get_user(rng.randint(1, users))
    draining.join()
    if failed:
        raise RuntimeError(f"the worker stopped: {type(failed[0]).__name__}: {failed[0]}")
    phase("done")
    return LoadReport(warmed, created, ticket_reads, user_reads, done_updates, processed[0])
