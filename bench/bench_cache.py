"""The cache's own costs, measured side by side on a private redis-server (medians of rounds).

- hit path: ``Cache.get_cached_ticket`` and the cache-aside read ``Cache.get_ticket`` on a hit,
  vs raw redis-py ``GET`` + ``json.loads`` of the same value (the floor). Ratio = raw time /
  our time; 1.0 means no overhead, the target is >= 0.85 (decoding to a ``Ticket`` with its
  datetimes, counting, fail-open handling cost under 15%).
- warming 10,000 users, 500 per round trip: one Lua script call per page (the default) and a
  pipeline of 500 ``SET``s (the fallback without Lua), vs the seed's one ``SET`` per user.
  The users come from memory, so only the Redis side (and JSON encoding) is measured.
- stampede: 50 threads read one missing key at once; the database is loaded exactly once.
"""

from __future__ import annotations

import json
import statistics
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from helpdesk_kit.backends import RedisServer
from helpdesk_kit.cache import Cache
from helpdesk_kit.keys import KeySchema
from helpdesk_kit.models import Ticket, User

HIT_CALLS = 3_000
HIT_ROUNDS = 9
USERS = 10_000
WARM_ROUNDS = 5
READERS = 50
MOMENT = datetime(2026, 5, 1, 9, 30, tzinfo=UTC)


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


def hit_path(cache: Cache, client) -> dict[str, float]:
    ticket = Ticket(7, "VPN fails after the update", "x" * 350, "open", "high", 3, 12,
                    MOMENT, MOMENT, 4)  # ~550 bytes of JSON, like a real ticket row
    cache.cache_ticket(ticket)
    key = cache.keys.ticket(7)
    runs: dict[str, Callable[[], object]] = {
        "raw GET + json.loads": lambda: json.loads(client.get(key)),
        "get_cached_ticket": lambda: cache.get_cached_ticket(7),
        "get_ticket (cache-aside hit)": lambda: cache.get_ticket(7, lambda: ticket),
    }
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(HIT_ROUNDS):  # interleaved: each round runs every method once
        for name, fn in runs.items():
            times[name].append(per_call(fn, HIT_CALLS))
    return {name: statistics.median(t) for name, t in times.items()}


def warming(cache: Cache, client) -> dict[str, float]:
    store = MemoryUsers(USERS)
    ways = {"Lua script per page": (True, None), "pipeline per page": (True, False),
            "seed loop": (False, None)}
    times: dict[str, list[float]] = {name: [] for name in ways}
    for _ in range(WARM_ROUNDS):
        for name, (pipelined, lua) in ways.items():
            cache.invalidate_pattern("user")
            cache.lua = lua
            start = time.perf_counter()
            count = cache.warm_users(store, pipelined=pipelined, progress=False)
            times[name].append(time.perf_counter() - start)
            assert count == USERS
    return {name: statistics.median(t) for name, t in times.items()}


def stampede(cache: Cache) -> tuple[int, int]:
    loads = 0
    lock = threading.Lock()

    def slow_database() -> Ticket:
        nonlocal loads
        with lock:
            loads += 1
        time.sleep(0.05)  # a remote database
        return Ticket(99, "hot", "", "open", "urgent", 1, None, MOMENT, MOMENT, 1)

    barrier = threading.Barrier(READERS)
    results: list[object] = []

    def reader() -> None:
        barrier.wait()
        results.append(cache.get_ticket(99, slow_database))

    threads = [threading.Thread(target=reader) for _ in range(READERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return loads, sum(r is not None for r in results)


def main() -> None:
    with RedisServer() as server:
        client = server.client()
        cache = Cache(client, KeySchema("bench:"))
        hits = hit_path(cache, client)
        warm = warming(cache, client)
        loads, answered = stampede(cache)
        client.close()
    raw = hits["raw GET + json.loads"]
    print(f"{'hit path (median per call)':34} {'us':>8} {'ratio raw/ours':>15}")
    for name, seconds in hits.items():
        print(f"{name:34} {seconds * 1e6:8.1f} {raw / seconds:15.2f}")
    print("target: ratio >= 0.85 (our overhead under 15%)\n")
    print(f"{'warming 10,000 users':34} {'s':>8} {'users/s':>15} {'vs seed loop':>13}")
    for name, seconds in warm.items():
        print(f"{name:34} {seconds:8.3f} {USERS / seconds:15,.0f} "
              f"{warm['seed loop'] / seconds:12.1f}x")
    print("target: >= 10x for the default (Lua script per page)\n")
    print(f"stampede: {READERS} concurrent readers of one missing key -> {loads} database "
          f"load(s), {answered} answered (target: exactly 1 load)")


if __name__ == "__main__":
    main()
