"""The design's "Peak load" row: many readers at once, with and without the cache.

The design says that at peak load (1000 req/s) Turso without Redis is "abrumado" (overwhelmed)
and with Redis the load is "distribuido". What can be measured honestly on one machine is the
half of that claim that does not depend on the hardware: **how many requests reach the
database**. K reader threads call ``app.get_ticket`` for a few seconds; the store is wrapped to
count its round trips. Without the cache every request is a database query; with a warm cache
almost none is - the database sees a small fraction of the load, whatever the request rate.

Requests per second are reported too, labelled measured or simulated like every number in the
kit (under a network profile each database query sleeps its RTT, so readers spend their time
waiting on the "network", as they would against a remote database).

:func:`instrumented_app` is the shared workbench: the app on a counted (and maybe slowed)
store and Redis client, used here and by :mod:`helpdesk_kit.lab.compare`.
"""

from __future__ import annotations

import contextlib
import logging
import random
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import redis

from ..app import HelpdeskApp, helpdesk_queue
from ..cache import Cache
from ..db import HelpdeskStore
from ..keys import KeySchema
from .latency import LOCAL, NetworkProfile, RoundTrips, Sleep, wrap_redis, wrap_store

__all__ = ["Instrumented", "LoadResult", "instrumented_app", "load_test", "quiet_logs",
           "warm"]


@contextlib.contextmanager
def quiet_logs(*names: str) -> Iterator[None]:
    """Silence INFO lines (per-request ``Cache HIT``, warming) while a benchmark runs."""
    loggers = [logging.getLogger(n) for n in names or ("helpdesk_kit.app", "helpdesk_kit.cache")]
    old = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        for logger, level in zip(loggers, old, strict=True):
            logger.setLevel(level)


@dataclass
class Instrumented:
    """An app whose database and Redis round trips are counted (and slowed by ``profile``).

    It shares the caller's store and client: do not ``close()`` this app, close the originals.
    """

    app: HelpdeskApp
    profile: NetworkProfile
    db: RoundTrips
    cache: RoundTrips

    def reset(self) -> None:
        self.db.reset()
        self.cache.reset()
        if self.app.cache is not None:
            self.app.cache.reset_stats()


def instrumented_app(store: HelpdeskStore, client: redis.Redis | None, keys: KeySchema,
                     profile: NetworkProfile = LOCAL, *, sleep: Sleep = time.sleep,
                     ttl: int = 300) -> Instrumented:
    """The app with Redis (``client`` given) or without (``client=None``), counted.

    Wired by hand, not with ``HelpdeskApp.from_settings``: that connects its own Redis and
    opens its own store, and here both must be the caller's, wrapped to count round trips.
    """
    db = RoundTrips()
    cache = RoundTrips()
    slow_store = wrap_store(store, profile, sleep=sleep, counter=db)
    if client is None:
        return Instrumented(HelpdeskApp(slow_store), profile, db, cache)
    slow_client = wrap_redis(client, profile, sleep=sleep, counter=cache)
    app = HelpdeskApp(slow_store, Cache(slow_client, keys, ttl=ttl),
                      helpdesk_queue(slow_client, keys))
    return Instrumented(app, profile, db, cache)


def warm(store: HelpdeskStore, client: redis.Redis, keys: KeySchema, ttl: int = 300) -> int:
    """Cache every user and ticket (pipelined, on the fast unwrapped client); returns rows."""
    cache = Cache(client, keys, ttl=ttl)
    with quiet_logs():
        users = cache.warm_users(store, active_only=False, progress=False)
        return users + cache.warm_tickets(store, limit=None, progress=False)


@dataclass(frozen=True)
class LoadResult:
    """What one load run did: requests served, database queries, Redis commands."""

    with_cache: bool
    threads: int
    seconds: float
    requests: int
    errors: int
    db_queries: int
    cache_commands: int
    label: str  # "measured" or "simulated"

    @property
    def requests_per_s(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def db_queries_per_request(self) -> float:
        return self.db_queries / self.requests if self.requests else 0.0

    def __str__(self) -> str:
        side = "with cache" if self.with_cache else "without cache"
        return (f"{side}: {self.requests} requests in {self.seconds:.2f} s "
                f"({self.requests_per_s:,.0f} req/s, {self.label}) by {self.threads} threads; "
                f"{self.db_queries} database queries "
                f"({self.db_queries_per_request:.2f} per request), {self.errors} errors")


def load_test(store: HelpdeskStore, client: redis.Redis | None = None,
              keys: KeySchema | None = None, *, profile: NetworkProfile = LOCAL,
              threads: int = 8, seconds: float = 1.0, max_requests: int | None = None,
              ids: Sequence[int] | None = None, seed: int = 0,
              sleep: Sleep = time.sleep) -> LoadResult:
    """``threads`` readers call ``get_ticket`` on random ``ids`` for ``seconds`` (or until
    ``max_requests``). With a ``client`` the cache is warmed first (not counted)."""
    if threads < 1 or seconds <= 0:
        raise ValueError("threads must be at least 1 and seconds positive")
    keys = keys or KeySchema()
    if ids is None:
        ids = range(1, store.counts()["tickets"] + 1)
    ids = list(ids)
    if not ids:
        raise ValueError("no ticket ids to read (is the database empty?)")
    if client is not None:
        warm(store, client, keys)
    bench = instrumented_app(store, client, keys, profile, sleep=sleep)
    served = [0] * threads
    errors = [0] * threads
    budget = threading.Semaphore(max_requests) if max_requests else None
    start = threading.Barrier(threads + 1)
    deadline = 0.0

    def reader(n: int) -> None:
        rng = random.Random(seed + n)
        start.wait()
        while time.perf_counter() < deadline:
            if budget is not None and not budget.acquire(blocking=False):
                return
            if bench.app.get_ticket(rng.choice(ids))["success"]:
                served[n] += 1
            else:
                errors[n] += 1

    workers = [threading.Thread(target=reader, args=(n,), daemon=True) for n in range(threads)]
    with quiet_logs():
        for worker in workers:
            worker.start()
        began = time.perf_counter()
        deadline = began + seconds
        start.wait()
        for worker in workers:
            worker.join()
        elapsed = time.perf_counter() - began
    return LoadResult(client is not None, threads, elapsed, sum(served), sum(errors),
                      bench.db.count, bench.cache.count, profile.label)
