"""Lesson 01: the seed's cache-aside diagram as a runnable flow, timed, and an explorer widget.

Whether a read was a HIT or a MISS is taken from the app's own log line (``Cache HIT`` /
``Cache MISS``, like the seed's ``console.log``), so the widget shows exactly what the app did.
"""

from __future__ import annotations

import html
import json
import statistics
import threading
import time
from dataclasses import dataclass

import ipywidgets as widgets
import redis
from matplotlib.figure import Figure

from ..app import HelpdeskApp
from ..cache import Cache
from ..db import HelpdeskStore
from ..keys import KeySchema
from ..lessons import Table, capture_logs, fmt_seconds, median_seconds
from ..models import Ticket
from . import Shown

__all__ = [
    "CacheAsideExplorer",
    "Fetch",
    "Stampede",
    "fetch",
    "latency_plot",
    "latency_table",
    "measure_hit_vs_miss",
    "stampede",
    "step_costs",
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
    client = app.cache.client
    key = app.cache.keys.ticket(ticket_id)
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
    rows = [(kind, len(values), fmt_seconds(statistics.median(values)),
             fmt_seconds(statistics.quantiles(values, n=10)[-1]))
            for kind, values in samples.items()]
    return Table(("read", "count", "median", "p90"), rows,
                 caption="app.get_ticket on this machine, a miss and a hit of each ticket")


def step_costs(client: redis.Redis, store: HelpdeskStore, key: str, ticket_id: int,
               repeat: int = 21) -> Table:
    """What each step of a cache-aside read costs here: the GET, the database lookup, the SET
    (medians of ``repeat``). Which is largest depends on where Redis and the database are."""
    text = json.dumps({"id": ticket_id})
    client.set(key, text, ex=300)
    rows = [
        ("GET key (all a hit does)", median_seconds(lambda: client.get(key), repeat)),
        ("the database lookup (a miss)", median_seconds(lambda: store.get_ticket(ticket_id),
                                                        repeat)),
        ("SET key ... EX 300 (a miss)", median_seconds(lambda: client.set(key, text, ex=300),
                                                       repeat)),
    ]
    return Table(("step", f"median of {repeat}"), [(step, fmt_seconds(s)) for step, s in rows],
                 caption="Each step of cache-aside, measured on this machine")


#: How long the stampede's waiters wait for the one loader (seconds): far past any stall.
PATIENT_S = 30.0


@dataclass(frozen=True)
class Stampede:
    """How many times ``readers`` concurrent misses of one key asked the database."""

    readers: int
    plain: int
    kit: int


def stampede(client: redis.Redis, keys: KeySchema, store: HelpdeskStore, ticket_id: int,
             readers: int = 10, load_seconds: float = 0.05) -> Stampede:
    """``readers`` threads read one missing ticket at once: plain cache-aside, then the kit's.

    The plain readers all GET before any of them SETs (a barrier makes that certain, as it is
    likely under load), so each asks the database. The kit's readers race for a short lock
    (``SET lock:... NX PX``): one loads, the others wait for what it stores.
    """
    loads = {"plain": 0, "kit": 0}
    counting = threading.Lock()
    all_missed = threading.Barrier(readers)

    def load(kind: str) -> Ticket | None:
        with counting:
            loads[kind] += 1
        time.sleep(load_seconds)  # a database that takes a moment, as a remote one does
        return store.get_ticket(ticket_id)

    def plain_reader() -> None:
        key = keys.ticket(ticket_id)
        if client.get(key) is None:
            all_missed.wait()
            ticket = load("plain")
            client.set(key, json.dumps({"id": ticket.id if ticket else None}), ex=300)

    # The waiters wait for the loader however slow this machine is right now: giving up after
    # ``lock_timeout`` is for a loader that crashed, which this demo does not stage.
    cache = Cache(client, keys, lock_timeout=PATIENT_S)

    def kit_reader() -> None:
        cache.get_ticket(ticket_id, lambda: load("kit"))

    for reader in (plain_reader, kit_reader):
        client.delete(keys.ticket(ticket_id))
        threads = [threading.Thread(target=reader) for _ in range(readers)]
        with capture_logs():
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
    return Stampede(readers, loads["plain"], loads["kit"])


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
