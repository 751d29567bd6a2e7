"""The design's "Comparativa: Con vs Sin Redis" table, measured instead of quoted.

| Operación | Sin Redis | Con Redis | Mejora |  (the design)
| Obtener usuario (hit) | 50ms (BD) | 5ms (caché) | 10x |
| Listar 100 tickets | 200ms (BD) | 40ms (caché) | 5x |
| Crear comentario | 150ms (BD) | 100ms (BD + queue) | Asincrón |
| Peak load (1000 req/s) | Turso abrumado | Distribuido | Escalable |

Each operation runs ``repeat`` times on the same app built twice - without Redis (every read
is a query, the notification runs in the request) and with Redis (warm cache, notification
queued) - alternating the two so both see the same machine. We report medians, the speedup
and the round trips each side made. Under :data:`~helpdesk_kit.lab.latency.LOCAL` the numbers are
*measured*; under another profile the real code runs with a sleep per round trip standing in
for the network, and the numbers are *simulated*. Every row says which.

:func:`break_even_hit_rate` answers the question behind the table: below which hit rate does a
cache in front of this database stop paying?
"""

from __future__ import annotations

import html
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import cycle
from pathlib import Path
from typing import Any

import redis

from ..config import BackendChoice, Settings
from ..db import HelpdeskStore, open_store
from ..db.sample import load_sample
from ..keys import KeySchema
from .latency import LOCAL, NetworkProfile, Sleep
from .loadtest import Instrumented, LoadResult, instrumented_app, load_test, quiet_logs, warm

__all__ = ["TICKET_READ", "CompareRow", "Comparison", "break_even_hit_rate", "compare",
           "compare_sandboxed", "expected_read_ms"]


def expected_read_ms(hit_rate: float, db_ms: float, cache_ms: float,
                     cache_set_ms: float | None = None) -> float:
    """Average cost of one cache-aside read: a hit pays the GET; a miss pays GET + DB + SET."""
    if not 0 <= hit_rate <= 1:
        raise ValueError(f"hit_rate must be within 0..1, got {hit_rate}")
    set_ms = cache_ms if cache_set_ms is None else cache_set_ms
    return hit_rate * cache_ms + (1 - hit_rate) * (cache_ms + db_ms + set_ms)


def break_even_hit_rate(db_ms: float, cache_ms: float, cache_set_ms: float | None = None
                        ) -> float:
    """The hit rate at which reading through the cache costs the same as the database alone.

    From ``h*c + (1-h)*(c + d + s) = d``: ``h = (c + s) / (d + s)``. Above it caching pays;
    1.0 means it never pays (the cache is as slow as the database).
    """
    if db_ms < 0 or cache_ms < 0 or (cache_set_ms or 0) < 0:
        raise ValueError("times cannot be negative")
    set_ms = cache_ms if cache_set_ms is None else cache_set_ms
    if db_ms + set_ms == 0:
        return 1.0
    return min(1.0, (cache_ms + set_ms) / (db_ms + set_ms))


@dataclass(frozen=True)
class CompareRow:
    """One line of the table: medians in ms (or req/s for the load row), and what they mean."""

    operation: str
    without: float
    with_redis: float
    unit: str  # "ms" (lower is better) or "req/s" (higher is better)
    label: str  # "measured" or "simulated"
    design: str  # what the design's table says, for the reader to compare
    note: str = ""  # round trips, or database queries for the load row

    @property
    def speedup(self) -> float:
        """How many times better "with Redis" is (>1 means Redis helps)."""
        if self.unit == "req/s":
            return self.with_redis / self.without if self.without else float("inf")
        return self.without / self.with_redis if self.with_redis else float("inf")

    def cells(self) -> list[str]:
        return [self.operation, f"{self.without:,.2f} {self.unit}",
                f"{self.with_redis:,.2f} {self.unit}", f"{self.speedup:.1f}x", self.label,
                self.note, self.design]


#: The row :meth:`Comparison.read_costs` reads: one ticket by id, a query or a cache hit.
TICKET_READ = "Obtener ticket (hit)"
HEADERS = ["operation", "without Redis", "with Redis", "speedup", "numbers", "round trips",
           "the design says"]


@dataclass
class Comparison:
    """The measured table plus the break-even hit rate; prints as text, shows as HTML."""

    profile: NetworkProfile
    repeat: int
    rows: list[CompareRow] = field(default_factory=list)
    load: tuple[LoadResult, LoadResult] | None = None
    break_even: float | None = None

    def to_text(self) -> str:
        table = [HEADERS, *(row.cells() for row in self.rows)]
        widths = [max(len(r[i]) for r in table) for i in range(len(HEADERS))]
        lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
                 for r in table]
        lines.insert(1, "  ".join("-" * w for w in widths))
        return "\n".join([self.title(), "", *lines, "", *self.footer()])

    def to_html(self) -> str:
        head = "".join(f"<th>{html.escape(h)}</th>" for h in HEADERS)
        body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row.cells())
                       + "</tr>" for row in self.rows)
        notes = "".join(f"<p>{html.escape(line)}</p>" for line in self.footer())
        return (f"<p><b>{html.escape(self.title())}</b></p><table><thead><tr>{head}</tr>"
                f"</thead><tbody>{body}</tbody></table>{notes}")

    def _repr_html_(self) -> str:
        return self.to_html()

    def __str__(self) -> str:
        return self.to_text()

    def __repr__(self) -> str:
        """The table as text (what a notebook shows beside the HTML), not a dataclass dump."""
        return self.to_text()

    def read_costs(self) -> tuple[float, float]:
        """``(database read, cache hit)`` in ms: the ticket lookup without and with Redis."""
        row = next(r for r in self.rows if r.operation == TICKET_READ)
        return row.without, row.with_redis

    def title(self) -> str:
        return f"With vs without Redis - profile {self.profile} - medians of {self.repeat} runs"

    def footer(self) -> list[str]:
        lines = []
        if self.profile.simulated:
            lines.append("Simulated: the real code ran, and every round trip also slept the "
                         "profile's RTT (DB "
                         f"{self.profile.db_rtt_ms:g} ms, cache {self.profile.cache_rtt_ms:g} ms)"
                         " to stand in for the network.")
        else:
            lines.append("Measured on this machine: nothing was added to any call.")
        if self.break_even is not None:
            lines.append(f"Break-even (a ticket read): below a {self.break_even:.0%} hit rate "
                         "the average read through the cache costs more than asking the "
                         "database directly.")
        if self.load:
            lines.extend(str(result) for result in self.load)
        return lines


def _median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def _round_trips(bench: Instrumented, db0: int, cache0: int, runs: int) -> str:
    db = (bench.db.count - db0) / runs
    cache = (bench.cache.count - cache0) / runs
    return f"{db:g} DB" + (f" + {cache:g} cache" if cache else "")


def _measure(plain: Instrumented, cached: Instrumented, repeat: int,
             op: Callable[[Instrumented, int], object]) -> tuple[float, float, str]:
    """Run ``op`` ``repeat`` times on each side, alternating; medians and round trips."""
    times: dict[str, list[float]] = {"plain": [], "cached": []}
    starts = {side: (b.db.count, b.cache.count) for side, b in
              (("plain", plain), ("cached", cached))}
    for i in range(repeat):
        for side, bench in (("plain", plain), ("cached", cached)):
            began = time.perf_counter()
            op(bench, i)
            times[side].append(time.perf_counter() - began)
    trips = " -> ".join(_round_trips(b, *starts[s], repeat)
                        for s, b in (("plain", plain), ("cached", cached)))
    return _median_ms(times["plain"]), _median_ms(times["cached"]), trips


def compare(store: HelpdeskStore, client: redis.Redis, keys: KeySchema | None = None, *,
            profile: NetworkProfile = LOCAL, repeat: int = 20, load_threads: int = 4,
            load_seconds: float = 1.0, sleep: Sleep = time.sleep) -> Comparison:
    """Build the table on ``store`` (it gets ``repeat`` comments per side) and ``client``.

    ``load_seconds=0`` skips the load test. Keys go under ``keys`` (use a private prefix).
    """
    if repeat < 1:
        raise ValueError("repeat must be at least 1")
    keys = keys or KeySchema()
    warm(store, client, keys)
    plain = instrumented_app(store, None, keys, profile, sleep=sleep)
    cached = instrumented_app(store, client, keys, profile, sleep=sleep)
    tickets = [t.id for t in store.list_tickets(limit=max(repeat, 1))]
    users = cycle([u.id for u in store.list_users(limit=50)])
    user_ids = [next(users) for _ in range(repeat)]
    result = Comparison(profile, repeat)
    label = profile.label

    with quiet_logs():
        cached.app.list_tickets()  # the list page is cached on first read, like any page
        rows = [
            ("Obtener usuario (hit)", "50 ms (BD) vs 5 ms (cache): 10x",
             lambda b, i: b.app.get_user(user_ids[i])),
            (TICKET_READ, "obtenerTicket: Cache HIT",
             lambda b, i: b.app.get_ticket(tickets[i])),
            ("Listar 100 tickets", "200 ms (BD) vs 40 ms (cache): 5x",
             lambda b, i: b.app.list_tickets()),
        ]
        for name, design, op in rows:
            without, with_redis, trips = _measure(plain, cached, repeat, op)
            result.rows.append(CompareRow(name, without, with_redis, "ms", label, design, trips))
        # Comments go last: each one changes a ticket, and so the cached lists.
        without, with_redis, trips = _measure(
            plain, cached, repeat,
            lambda b, i: b.app.add_comment(tickets[i], user_ids[i], "compare: a comment"))
        result.rows.append(CompareRow(
            "Crear comentario", without, with_redis, "ms", label,
            "150 ms (BD) vs 100 ms (BD + queue): async",
            trips + "; notification inline -> queued"))

    # The same read where_redis_pays (lesson 09) prices: one ticket, a query or a cache hit.
    result.break_even = break_even_hit_rate(*result.read_costs())
    if load_seconds > 0:
        alone = load_test(store, None, keys, profile=profile, threads=load_threads,
                          seconds=load_seconds, sleep=sleep)
        helped = load_test(store, client, keys, profile=profile, threads=load_threads,
                           seconds=load_seconds, sleep=sleep)
        result.load = (alone, helped)
        result.rows.append(CompareRow(
            f"Peak load ({load_threads} threads)", alone.requests_per_s, helped.requests_per_s,
            "req/s", label, "Turso abrumado vs distribuido: escalable",
            f"DB queries/request {alone.db_queries_per_request:.2f} -> "
            f"{helped.db_queries_per_request:.2f}"))
    return result


def compare_sandboxed(settings: Settings | None = None, prefer: BackendChoice | None = None, *,
                      users: int = 200, tickets: int = 2000, **options: Any) -> Comparison:
    """:func:`compare` on a throwaway sample database and a private key prefix.

    Your own database is never touched (the comparison writes comments); the Redis keys it
    made are deleted afterwards (SCAN, never FLUSHDB). ``options`` go to :func:`compare`.
    """
    from ..backends import connect, delete_matching

    settings = settings or Settings.from_env()
    keys = KeySchema(prefix=f"{settings.key_prefix}bench:{uuid.uuid4().hex[:8]}:")
    backend = connect(settings, prefer)
    try:
        with tempfile.TemporaryDirectory(prefix="helpdesk-bench-") as folder:
            store = open_store(settings.with_(data_dir=Path(folder), database_url=None,
                                              auth_token=None))
            try:
                load_sample(store, users, tickets, seed=42, progress=False)
                return compare(store, backend.client, keys, **options)
            finally:
                store.db.close()
    finally:
        delete_matching(backend.client, keys.all_keys)
        backend.client.close()
