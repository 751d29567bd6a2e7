"""The cache's costs beside raw redis-py and the caches a team would use instead (cashews,
aiocache, dogpile.cache: :mod:`bench.cache_peers`), on a private redis-server.

Rounds are interleaved and every ratio is the median of each round's ratio to the same round's
baseline (:func:`bench.report.paired`), so a busy moment of the machine cancels out.

- **hit path**: one read of a ~550-byte ticket, per call, against raw ``GET`` + ``json.loads``
  of the same value (the floor for a Redis hit): ``Cache.get_cached_ticket`` (decoding to a
  ``Ticket``, counting, fail-open: target >= 0.85x), the cache-aside ``get_ticket`` hit, the
  **near cache** hit (L1, no round trip: target >= 10x), cashews' ``get()`` and its
  client-side mode (its own L1), aiocache's ``get()`` and dogpile.cache's ``get_or_create``
  hit, each in interleaved rounds;
- **staleness**: another process rewrites 200 keys this process holds in L1; the time from each
  write to L1 dropping the key, p50 and p99 (target p99 < 5 ms on loopback);
- **warming** 10,000 users (5,000 with ``--quick``), 500 per round trip: the Lua script per
  page (the default) and the transaction fallback, against the **physical floor**: the same
  users, the same JSON, written by a plain pipelined ``SET ... EX`` loop with no guard
  (target >= 0.8x of it). The design's loop (one ``SET`` per user, one round trip each) is the
  story: its ratio moves with the machine's loopback round trip, not with the kit. The users
  come from memory: only the Redis side and JSON encoding count;
- **stampede**: 50 threads read one missing key at once, from a 50 ms database: the kit's
  lock against dogpile.cache's distributed lock, counting database loads.
"""

from __future__ import annotations

import json
import statistics
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import redis

from bench import HOST, tcp_client, tcp_redis
from bench.cache_peers import AsyncReads, aiocache_reads, cashews_reads, dogpile_region
from bench.report import Area, Row, paired, print_area
from helpdesk_kit.cache import Cache, NearCache
from helpdesk_kit.cache.codec import encode_ticket, encode_user
from helpdesk_kit.keys import KeySchema
from helpdesk_kit.lab.near_cache import Staleness, measure_staleness
from helpdesk_kit.models import Ticket, User

MOMENT = datetime(2026, 5, 1, 9, 30, tzinfo=UTC)
RAW = "raw GET + json.loads"
READERS = 50
DOGPILE = "dogpile.cache get_or_create hit"
FLOOR = "pipelined SET EX loop (no guard)"
DESIGN_LOOP = "the design's loop (one SET per user)"


def a_ticket(ident: int = 7) -> Ticket:
    """~550 bytes of JSON, like a real ticket row."""
    return Ticket(ident, "VPN fails after the update", "x" * 350, "open", "high", 3, 12,
                  MOMENT, MOMENT, 4)


class MemoryUsers:
    """Just enough of HelpdeskStore for warming: ``list_users`` and ``counts`` from a list."""

    def __init__(self, n: int) -> None:
        self.users = [User(i, f"User {i}", f"user{i}@example.com", "customer", True,
                           MOMENT - timedelta(days=i % 300)) for i in range(1, n + 1)]

    def list_users(self, *, active_only: bool = True, limit: int = 1000, offset: int = 0
                   ) -> list[User]:
        return self.users[offset:offset + limit]

    def counts(self) -> dict[str, int]:
        return {"users": len(self.users)}


def per_call(fn: Callable[[], object], calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - start) / calls


def hit_path(port: int, rounds: int, calls: int) -> Area:
    client = tcp_client(port)
    keys = KeySchema("bench:hit:")
    cache, near = Cache(client, keys), NearCache(client, keys)
    ticket, key = a_ticket(), keys.ticket(7)
    cache.cache_ticket(ticket)
    notes = []
    if not near.wait_active():
        notes.append(f"near cache: {near.reason}")
    while near.active and key not in near.local.snapshot():
        near.get_cached_ticket(7)  # the SET's own message drops the first fill; the next one stays
    ways: dict[str, Callable[[int], float]] = {
        RAW: lambda n: per_call(lambda: json.loads(client.get(key)), n),  # type: ignore[arg-type]
        "Cache.get_cached_ticket": lambda n: per_call(lambda: cache.get_cached_ticket(7), n),
        "Cache.get_ticket (cache-aside hit)":
            lambda n: per_call(lambda: cache.get_ticket(7, lambda: ticket), n),
        "NearCache hit (L1)": lambda n: per_call(lambda: near.get_cached_ticket(7), n),
    }
    value = json.loads(client.get(key))  # type: ignore[arg-type]
    factories: dict[str, Callable[[], AsyncReads]] = {
        "cashews get()": lambda: cashews_reads(port, "cashews:ticket:7", value, False),
        "cashews client_side hit": lambda: cashews_reads(port, "cashews:ticket:7", value, True),
        "aiocache get()": lambda: aiocache_reads(port, "aiocache:ticket:7", value),
    }
    peers: list[AsyncReads] = []
    skipped: dict[str, str] = {}
    for name, factory in factories.items():
        try:
            peer = factory()
        except ImportError as exc:
            skipped[name] = f"{exc.name} is not installed: pip install -e '.[bench]'"
            continue
        peers.append(peer)
        ways[name] = peer.per_call
    try:
        region = dogpile_region(port)
        region.set("dogpile:ticket:7", value)
        ways[DOGPILE] = lambda n: per_call(
            lambda: region.get_or_create("dogpile:ticket:7", lambda: value), n)
    except ImportError as exc:
        skipped[DOGPILE] = f"{exc.name} is not installed: pip install -e '.[bench]'"
    times: dict[str, list[float]] = {name: [] for name in ways}
    for _ in range(rounds):  # interleaved: each round runs every way once
        for name, way in ways.items():
            times[name].append(way(calls))
    for peer in peers:
        peer.close()
    assert near.get_cached_ticket(7) == ticket and near.near_stats()["ticket"].hits > 0
    near.close()
    client.close()
    ratios = paired(times, RAW, lower_is_better=True)
    targets = {"Cache.get_cached_ticket": 0.85, "NearCache hit (L1)": 10.0}
    rows = [Row(name, ratios[name], f"{statistics.median(t) * 1e6:,.1f} µs", targets.get(name))
            for name, t in times.items()]
    rows += [Row(name, None, note=why) for name, why in skipped.items()]
    return Area(f"Cache hit path: one ~550-byte ticket, {calls:,} reads x {rounds} paired "
                "rounds", RAW, rows, notes)


def staleness(port: int, runs: int) -> Area:
    client = tcp_client(port)
    near = NearCache(client, KeySchema("bench:stale:"))
    near.wait_active()
    results = [measure_staleness(near, f"redis://{HOST}:{port}/0", range(1, 201), a_ticket)
               for _ in range(runs)]
    near.close()
    client.close()
    pooled = Staleness([s for r in results for s in r.samples], sum(r.lost for r in results),
                       sum(r.flushed for r in results))
    # the ratio reads "how far under the 5 ms budget": 5 ms / p99 (>= 1 is within it)
    return Area(f"Near cache staleness: a write in another process until L1 drops the key "
                f"({runs} x 200 writes, pooled)", "the 5 ms budget", [
                    Row("p99", 5e-3 / pooled.p99, f"{pooled.p99 * 1e3:.2f} ms", 1.0),
                    Row("p50", 5e-3 / pooled.p50, f"{pooled.p50 * 1e3:.2f} ms")],
                [f"lost invalidations: {pooled.lost} (must be 0); worst run's p99: "
                 f"{max(r.p99 for r in results) * 1e3:.2f} ms"])


def set_loop(client: redis.Redis, keys: KeySchema, users: list[User], page: int = 500) -> None:
    """The physical floor: the same users and JSON, ``SET ... EX`` pipelined, no guard."""
    pipe = client.pipeline(transaction=False)
    for count, user in enumerate(users, 1):
        pipe.execute_command("SET", keys.user(user.id), encode_user(user), "EX", 300)
        if count % page == 0:
            pipe.execute()
    pipe.execute()


def warming(port: int, users: int, rounds: int) -> Area:
    client = tcp_client(port)
    keys = KeySchema("bench:warm:")
    cache = Cache(client, keys)
    store = MemoryUsers(users)
    ways: dict[str, Callable[[], int]] = {
        FLOOR: lambda: set_loop(client, keys, store.users) or users,
        "Lua script per page": lambda: _warm_with(cache, store, True, None),
        "transaction per page (no Lua)": lambda: _warm_with(cache, store, True, False),
        DESIGN_LOOP: lambda: _warm_with(cache, store, False, None),
    }
    times: dict[str, list[float]] = {name: [] for name in ways}
    for _ in range(rounds):
        for name, way in ways.items():
            cache.invalidate_pattern("user")
            start = time.perf_counter()
            count = way()
            times[name].append(time.perf_counter() - start)
            assert count == users
    client.close()
    ratios = paired(times, FLOOR, lower_is_better=True)
    story = paired(times, DESIGN_LOOP, lower_is_better=True)
    rows = [Row(name, ratios[name], f"{users / statistics.median(values):,.0f} users/s",
                0.8 if name == "Lua script per page" else None)
            for name, values in times.items()]
    return Area(f"Warming {users:,} users, 500 per round trip, {rounds} paired rounds",
                "the pipelined SET EX floor", rows,
                [f"against the design's loop (one round trip per user, so this ratio moves with "
                 f"the machine's loopback round trip): Lua script per page "
                 f"{story['Lua script per page']:.1f}x, transaction per page "
                 f"{story['transaction per page (no Lua)']:.1f}x"])


def _warm_with(cache: Cache, store: MemoryUsers, pipelined: bool, lua: bool | None) -> int:
    cache.scripts.lua = lua  # the script runner's record: False takes the fallback
    return cache.warm_users(store, pipelined=pipelined, progress=False)  # type: ignore[arg-type]


class Stampede:
    """``READERS`` threads read one missing key at once from a 50 ms database: how many
    loads it took, how many readers got the value, and when the last one had it."""

    def __init__(self) -> None:
        self.loads = 0
        self._lock = threading.Lock()

    def slow_database(self) -> Ticket:
        with self._lock:
            self.loads += 1
        time.sleep(0.05)  # a remote database
        return a_ticket(99)

    def run(self, read: Callable[[Callable[[], Any]], Any]) -> tuple[int, int, float]:
        barrier = threading.Barrier(READERS + 1)
        results: list[object] = []

        def reader() -> None:
            barrier.wait()
            results.append(read(self.slow_database))

        threads = [threading.Thread(target=reader) for _ in range(READERS)]
        for thread in threads:
            thread.start()
        barrier.wait()
        start = time.perf_counter()
        for thread in threads:
            thread.join()
        last = time.perf_counter() - start
        return self.loads, sum(r is not None for r in results), last


def stampede(port: int) -> Area:
    client = redis.Redis(host=HOST, port=port, decode_responses=True)
    cache = Cache(client, KeySchema("bench:stampede:"))
    ways: dict[str, Callable[[Callable[[], Any]], Any]] = {
        "the kit's lock (Cache.get_ticket)": lambda load: cache.get_ticket(99, load)}
    skipped = {}
    try:
        region = dogpile_region(port)
        ways["dogpile.cache distributed_lock"] = lambda load: region.get_or_create(
            "dogpile:stampede:99", lambda: asdict_ticket(load()))
    except ImportError as exc:
        skipped["dogpile.cache distributed_lock"] = (f"{exc.name} is not installed: "
                                                     "pip install -e '.[bench]'")
    rows = []
    for name, read in ways.items():
        loads, answered, last = Stampede().run(read)
        rows.append(Row(name, READERS / loads, f"{loads} load(s)",
                        float(READERS) if name.startswith("the kit") else None,
                        f"{answered} answered, the last after {last * 1e3:.0f} ms"))
    client.close()
    rows += [Row(name, None, note=why) for name, why in skipped.items()]
    return Area(f"Stampede: {READERS} readers of one missing key at once, a 50 ms database",
                f"no protection ({READERS} loads)", rows)


def asdict_ticket(ticket: Ticket) -> dict[str, Any]:
    """A ticket as dogpile stores it here: JSON-ready (its dates as ISO text)."""
    return json.loads(encode_ticket(ticket))


def run(quick: bool = False) -> list[Area]:
    with tcp_redis() as port:
        return [hit_path(port, 7 if quick else 15, 400 if quick else 2_000),
                staleness(port, 2 if quick else 5),
                warming(port, 5_000 if quick else 10_000, 7 if quick else 9),
                stampede(port)]


if __name__ == "__main__":
    for area in run():
        print_area(area)
