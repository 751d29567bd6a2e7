"""Lesson 03: stale reads, immediate invalidation, selective vs FLUSHDB, the stale-read race.

Everything here is deterministic: the race is staged by a loader that lets the writer act at
the worst moment, and the hit-rate experiment replays a seeded sequence of reads.
"""

from __future__ import annotations

import html
import random
import time
from dataclasses import dataclass

import ipywidgets as widgets
from matplotlib.figure import Figure

from ..app import HelpdeskApp
from ..cache import Cache
from ..db import HelpdeskStore
from ..db.sample import SAMPLE_NOW
from ..lab.simulate import zipf_sample
from ..lessons import (
    Lesson,
    Table,
    capture_logs,
    clean_prefix,
    fmt_seconds,
    replay_hit_rates,
)
from ..models import STATUSES, Ticket
from . import Shown, seed_thresholds

__all__ = [
    "InvalidationPlayground",
    "collapse_plot",
    "flush_everything",
    "hit_rate_windows",
    "measured_table",
    "naive_update",
    "stale_read_race",
    "zipf_reads",
]


def naive_update(store: HelpdeskStore, ticket_id: int, **changes: object) -> Ticket | None:
    """Write the database and forget the cache: the mistake invalidation exists to prevent."""
    return store.update_ticket(ticket_id, now=SAMPLE_NOW, **changes)


def cached_status(app: HelpdeskApp, ticket_id: int) -> str:
    with capture_logs():
        ticket = app.get_ticket(ticket_id)["ticket"]
    return ticket.status if ticket else "(none)"


def flush_everything(cache: Cache, *, shared: bool) -> str:
    """FLUSHDB on a private Redis; on a ``shared`` one delete only this cache's keys.

    A class may share one server: FLUSHDB there would wipe everybody's cache and queues.
    The effect on *this* lesson's hit rate is the same either way. A lesson passes
    ``shared=lesson.shared_redis`` (True for a ``REDIS_URL`` server).
    """
    if shared:
        clean_prefix(cache.client, cache.keys.prefix)
        return "shared Redis: deleted this lesson's keys (SCAN + DEL) instead of FLUSHDB"
    with capture_logs():
        cache.flush_all()
    return "FLUSHDB: every key in the database is gone"


def zipf_reads(n: int, ticket_count: int, seed: int = 3, s: float = 1.1) -> list[int]:
    """``n`` ticket ids, a few hot and many rare (Zipf), the same for the same seed."""
    return zipf_sample(range(1, ticket_count + 1), n, random.Random(seed), s)


@dataclass(frozen=True)
class Windows:
    """Hit rate per window of reads, and how long the invalidation itself took."""

    hit_rates: list[float]
    invalidation_seconds: float
    note: str


def hit_rate_windows(lesson: Lesson, app: HelpdeskApp, reads: list[int], window: int,
                     invalidate_at: int, how: str, *, shared: bool | None = None) -> Windows:
    """Replay ``reads`` through ``app``; before window ``invalidate_at`` invalidate one ticket
    (``how="selective"``) or everything (``how="flushdb"``; on a ``shared`` Redis - default:
    ``lesson.shared_redis`` - only this lesson's keys)."""
    if how not in ("selective", "flushdb"):
        raise ValueError(f"how must be 'selective' or 'flushdb', got {how!r}")
    cache = app.cache
    if cache is None:
        raise ValueError("the app has no cache to invalidate")
    seconds = 0.0
    note = ""

    def invalidate(number: int, first_read: int) -> None:
        nonlocal seconds, note
        if number != invalidate_at:
            return
        started = time.perf_counter()
        if how == "selective":
            cache.invalidate_ticket(first_read)
            note = f"DEL {cache.keys.ticket(first_read)} (+ its generation)"
        else:
            note = flush_everything(
                cache, shared=lesson.shared_redis if shared is None else shared)
        seconds = time.perf_counter() - started

    rates = replay_hit_rates(app, reads, window, before_window=invalidate)
    return Windows(rates, seconds, note)


def collapse_plot(selective: Windows, flushed: Windows, invalidate_at: int) -> Figure:
    fig = Figure(figsize=(7, 3.2))
    ax = fig.subplots()
    x = range(1, len(selective.hit_rates) + 1)
    ax.plot(x, selective.hit_rates, marker="o", label="invalidate one ticket (selective)")
    ax.plot(x, flushed.hit_rates, marker="s", label="FLUSHDB")
    ax.axvline(invalidate_at + 0.5, color="grey", linestyle=":")
    seed_thresholds(ax, "window of reads")
    ax.set_title("Hit rate per window of 100 reads: one DEL vs FLUSHDB (measured)")
    fig.tight_layout()
    return fig


def stale_read_race(store: HelpdeskStore, cache: Cache, ticket_id: int, new_status: str
                    ) -> tuple[list[str], str]:
    """Stage the race: a reader misses and reads the row; *then* a writer updates and
    invalidates; *then* the reader stores what it read. Returns (steps, status served next).
    """
    steps: list[str] = []
    key = cache.keys.ticket(ticket_id)
    cache.client.delete(key)

    def slow_reader_loader() -> Ticket | None:
        old = store.get_ticket(ticket_id)
        steps.append(f"1. reader: GET {key} -> nil (MISS); reads the row from the database: "
                     f"status {old.status!r}" if old else "1. reader: no such ticket")
        new = store.update_ticket(ticket_id, now=SAMPLE_NOW, status=new_status)
        cache.invalidate_ticket(ticket_id)
        steps.append(f"2. writer: UPDATE -> status {new.status!r}, version {new.version}; "
                     f"DEL {key} (nothing to delete yet)" if new else "2. writer: no row")
        return old

    with capture_logs():
        cache.get_ticket(ticket_id, slow_reader_loader)
    stored = cache.client.get(key)
    if stored is None:
        steps.append("3. reader: SET refused - the generation moved on while it was loading")
    else:
        steps.append("3. reader: SET the row it read in step 1 (now out of date) EX 300")
    with capture_logs():
        served = cache.get_ticket(ticket_id, lambda: store.get_ticket(ticket_id))
    status = served.status if served else "(none)"
    steps.append(f"4. next read serves status {status!r}"
                 + (" - STALE until the TTL runs out" if status != new_status else " - fresh"))
    return steps, status


class InvalidationPlayground(Shown):
    """Change a ticket's status naively or the seed's way; see database vs cache."""

    def __init__(self, app: HelpdeskApp, ticket_id: int = 11) -> None:
        self.app = app
        self.ticket = widgets.BoundedIntText(value=ticket_id, min=1, max=100000,
                                             description="ticket id")
        self.status = widgets.Dropdown(options=STATUSES, value="waiting", description="status")
        self.naive_button = widgets.Button(description="update, no invalidation")
        self.seed_button = widgets.Button(description="update + invalidate")
        self.view = widgets.HTML()
        self.naive_button.on_click(lambda _: self.update(invalidate=False))
        self.seed_button.on_click(lambda _: self.update(invalidate=True))
        self.ticket.observe(lambda _: self.compare(), names="value")
        self.widget = widgets.VBox([widgets.HBox([self.ticket, self.status]),
                                    widgets.HBox([self.naive_button, self.seed_button]),
                                    self.view])
        self.compare()

    def update(self, invalidate: bool) -> str:
        if invalidate:
            with capture_logs():
                self.app.update_ticket(self.ticket.value, status=self.status.value)
        else:
            naive_update(self.app.store, self.ticket.value, status=self.status.value)
        return self.compare()

    def compare(self) -> str:
        """Read through the app (cache first), and the database directly."""
        in_db = self.app.store.get_ticket(self.ticket.value)
        served = cached_status(self.app, self.ticket.value)
        db_status = in_db.status if in_db else "(none)"
        flag = ("<b style='color:green'>fresh</b>" if served == db_status else
                "<b style='color:red'>STALE</b>")
        self.view.value = (f"database: {html.escape(db_status)} · app serves: "
                           f"{html.escape(served)} → {flag}")
        return self.view.value


def measured_table(selective: Windows, flushed: Windows) -> Table:
    return Table(("invalidation", "what it did", "took"), [
        ("selective", selective.note, fmt_seconds(selective.invalidation_seconds)),
        ("FLUSHDB", flushed.note, fmt_seconds(flushed.invalidation_seconds)),
    ])
