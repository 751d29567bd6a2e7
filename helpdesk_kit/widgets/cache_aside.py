"""Lesson 01: the seed's cache-aside diagram as a runnable flow, timed, and an explorer widget.

Whether a read was a HIT or a MISS is taken from the app's own log line (``Cache HIT`` /
``Cache MISS``, like the seed's ``console.log``), so the widget shows exactly what the app did.
"""

from __future__ import annotations

import html
import statistics
import threading
import time
from dataclasses import dataclass

import ipywidgets as widgets
from matplotlib.figure import Figure

from ..app import HelpdeskApp
from ..lessons import CheckResult, Table, capture_logs, check, fmt_seconds
from . import Shown

__all__ = [
    "QUIZ_READS",
    "CacheAsideExplorer",
    "Fetch",
    "check_quiz",
    "fetch",
    "latency_plot",
    "latency_table",
    "measure_hit_vs_miss",
    "trace",
]


@dataclass(frozen=True)
class Fetch:
    """One ``app.get_ticket`` call as the learner sees it."""

    ticket_id: int
    outcome: str        # "HIT" or "MISS"
    seconds: float
    ttl: int            # seconds the key has left after the read (-2: no key)
    title: str | None   # None: no such ticket


def fetch(app: HelpdeskApp, ticket_id: int) -> Fetch:
    """Call the app's ``get_ticket`` once; HIT or MISS comes from its log line."""
    assert app.cache is not None, "lesson 01 needs the app with a cache"
    with capture_logs() as lines:
        started = time.perf_counter()
        result = app.get_ticket(ticket_id)
        seconds = time.perf_counter() - started
    outcome = "MISS" if any(line.startswith("Cache MISS") for line in lines) else "HIT"
    ticket = result.get("ticket")
    ttl = int(app.cache.client.ttl(app.cache.keys.ticket(ticket_id)))
    return Fetch(ticket_id, outcome, seconds, ttl, ticket.title if ticket else None)


def trace(app: HelpdeskApp, ticket_id: int) -> list[str]:
    """The seed's diagram, box by box, for one read: what was asked and what came back."""
    assert app.cache is not None
    client, key = app.cache.client, app.cache.keys.ticket(ticket_id)
    cached_before = bool(client.exists(key))
    done = fetch(app, ticket_id)
    steps = [f"¿Está en Redis?  GET {key} -> {'a value: YES' if cached_before else 'nil: NO'}"]
    if done.outcome == "HIT":
        steps.append("Retornar del caché: the ticket comes from Redis; the database is not asked")
    else:
        found = f"ticket {ticket_id} ({done.title!r})" if done.title else "no such ticket"
        steps += [
            f"Turso: store.get_ticket({ticket_id}) -> {found}",
            f"Guardar en caché: SET {key} <{client.strlen(key)} bytes of JSON> "
            f"EX {app.cache.ttl_for('ticket')}",
            "Retornar ticket",
        ]
    if done.outcome == "HIT":
        steps.append("log: Cache HIT; the key keeps counting down (a read does not reset a TTL)")
    else:
        steps.append("log: Cache MISS; the new key starts its countdown")
    return [f"{i}. {step}" for i, step in enumerate(steps, start=1)]


def measure_hit_vs_miss(app: HelpdeskApp, ticket_ids: range | list[int]
                        ) -> dict[str, list[float]]:
    """Seconds per read: for each ticket a MISS (key deleted first), then a HIT, interleaved
    so a busy machine slows both alike."""
    assert app.cache is not None
    samples: dict[str, list[float]] = {"MISS": [], "HIT": []}
    for ticket_id in ticket_ids:
        app.cache.client.delete(app.cache.keys.ticket(ticket_id))
        for _ in range(2):
            done = fetch(app, ticket_id)
            samples[done.outcome].append(done.seconds)
    return samples


def latency_table(samples: dict[str, list[float]]) -> Table:
    miss, hit = statistics.median(samples["MISS"]), statistics.median(samples["HIT"])
    rows = [(kind, len(values), fmt_seconds(statistics.median(values)),
             fmt_seconds(statistics.quantiles(values, n=10)[-1]))
            for kind, values in samples.items()]
    return Table(("read", "count", "median", "p90"), rows,
                 caption=f"get_ticket: a hit is {miss / hit:.1f}x faster than a miss (medians)")


def latency_plot(samples: dict[str, list[float]]) -> Figure:
    """Box plot of read times in microseconds, MISS beside HIT."""
    fig = Figure(figsize=(7, 3.2))
    ax = fig.subplots()
    ax.boxplot([[s * 1e6 for s in samples[k]] for k in ("MISS", "HIT")], orientation="horizontal",
               tick_labels=["MISS\n(Redis + DB + SET)", "HIT\n(Redis only)"], showfliers=False)
    ax.set_xlabel("microseconds per app.get_ticket (measured on this machine)")
    ax.set_title("Cache-aside: miss vs hit")
    fig.tight_layout()
    return fig


#: Check yourself: these reads on an empty cache (ticket ids, in order).
QUIZ_READS = (1, 2, 1, 1, 3)


def check_quiz(answer: object) -> CheckResult:
    return check(answer, 0.4, tolerance=0.005,
                 why="tickets 1, 2 and 3 miss the first time they are read; the 2nd and 3rd "
                     "reads of ticket 1 hit: 2 hits / (2 hits + 3 misses) = 0.4.",
                 hint="mark each read HIT or MISS; hit rate = hits / (hits + misses), "
                      "a number between 0 and 1.")


class CacheAsideExplorer(Shown):
    """Choose a ticket, fetch it through the app, see HIT/MISS, latency and the TTL tick."""

    def __init__(self, app: HelpdeskApp, first: int = 7, *, countdown: bool = True) -> None:
        self.app = app
        count = app.store.counts()["tickets"]
        self.ticket = widgets.BoundedIntText(value=first, min=1, max=max(1, count),
                                             description="ticket id")
        self.fetch_button = widgets.Button(description="get_ticket", icon="download")
        self.forget_button = widgets.Button(description="invalidate", icon="trash")
        self.result = widgets.HTML("<i>press get_ticket</i>")
        self.ttl = widgets.Label("TTL: -")
        self.history: list[Fetch] = []
        self.fetch_button.on_click(lambda _: self.fetch())
        self.forget_button.on_click(lambda _: self.invalidate())
        self.widget = widgets.VBox([
            widgets.HBox([self.ticket, self.fetch_button, self.forget_button]),
            self.result, self.ttl,
        ])
        self._countdown = countdown
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def fetch(self, ticket_id: int | None = None) -> Fetch:
        if ticket_id is not None:
            self.ticket.value = ticket_id
        done = fetch(self.app, self.ticket.value)
        self.history.append(done)
        colour = "green" if done.outcome == "HIT" else "darkorange"
        title = html.escape(done.title) if done.title else "no such ticket"
        self.result.value = (f"<b style='color:{colour}'>Cache {done.outcome}</b> "
                             f"in {fmt_seconds(done.seconds)} - #{done.ticket_id} {title}")
        self.refresh_ttl()
        if self._countdown and self._thread is None:
            self._thread = threading.Thread(target=self._tick, daemon=True)
            self._thread.start()
        return done

    def invalidate(self) -> None:
        assert self.app.cache is not None
        self.app.cache.invalidate_ticket(self.ticket.value)
        self.refresh_ttl()

    def refresh_ttl(self) -> int:
        assert self.app.cache is not None
        key = self.app.cache.keys.ticket(self.ticket.value)
        ttl = int(self.app.cache.client.ttl(key))
        self.ttl.value = (f"TTL of {key}: {ttl} s" if ttl >= 0 else
                          f"{key} is not in Redis: the next read is a MISS")
        return ttl

    def _tick(self) -> None:
        while not self._stop.wait(1.0):
            try:
                self.refresh_ttl()
            except Exception:  # a closed client ends the countdown, nothing else
                return

    def stop(self) -> None:
        """End the TTL countdown thread."""
        self._stop.set()
