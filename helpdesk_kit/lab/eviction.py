"""Evictions for real: give Redis a small ``maxmemory``, overfill the cache, watch it forget.

The design's tuning table has a row "Key Evictions: 0 optimal, > 100/min deficient - keys removed
by the memory limit; add memory or reduce TTL". Lesson 08 makes that row move:

1. :func:`memory_limit` sets ``maxmemory`` and ``maxmemory-policy`` (``allkeys-lru``,
   ``volatile-ttl``...) and restores the previous values when the ``with`` block ends;
2. :func:`eviction_lab` writes more tickets through the :class:`~helpdesk_kit.cache.Cache`
   than fit, reads them back, and returns what the snapshots saw: ``evicted_keys`` going up
   and the hit rate going down.

This needs a real redis-server: fakeredis has no CONFIG and never evicts, so both functions
raise :class:`~helpdesk_kit.errors.FeatureUnavailableError` there. CONFIG SET changes the whole
server: never run this on a Redis other people use (a class sharing one REDIS_URL).
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

import redis

from ..backends import Capabilities, acl
from ..backends.binaries import no_server_reason
from ..cache import Cache
from ..errors import ConfigError, FeatureUnavailableError
from ..keys import KeySchema
from ..metrics import MetricsCollector, Snapshot, snapshot
from ..models import Ticket
from ..vocab import Entity, EvictionPolicy

__all__ = ["POLICIES", "EvictionLab", "LabPhase", "MemoryLimit", "eviction_lab",
           "lab_skip_reason", "memory_limit"]

#: Redis's eviction policies (``maxmemory-policy``); noeviction makes writes fail instead.
POLICIES: tuple[EvictionPolicy, ...] = tuple(EvictionPolicy)
NEEDS_REAL_SERVER = ("evictions need a real redis-server: this backend has no CONFIG SET "
                     "maxmemory (fakeredis never evicts)")
CONFIG_IS_SHARED = ("maxmemory is one setting for the whole server, which your class shares, "
                    "so the lab runs on a private redis-server of your own")


@dataclass(frozen=True)
class MemoryLimit:
    """The limit in force inside :func:`memory_limit`, and what it replaced."""

    maxmemory: int
    policy: str
    previous_maxmemory: str
    previous_policy: str


def _config_get(client: redis.Redis, name: str) -> str:
    try:
        value = client.config_get(name).get(name)
    except redis.exceptions.NoPermissionError:  # a class's learner: CONFIG is the server's
        raise FeatureUnavailableError(f"{acl.may_not_run('CONFIG', acl.whoami(client))}: "
                                      f"{CONFIG_IS_SHARED}") from None
    except redis.ResponseError as exc:
        raise FeatureUnavailableError(f"{NEEDS_REAL_SERVER} ({exc})") from None
    if value is None:
        raise FeatureUnavailableError(f"{NEEDS_REAL_SERVER} (CONFIG GET {name} is empty)")
    return str(value)


@contextmanager
def memory_limit(client: redis.Redis, maxmemory: int, policy: str = "allkeys-lru"
                 ) -> Iterator[MemoryLimit]:
    """Run a block with ``maxmemory`` bytes and ``policy``; the old config comes back after.

    The previous values are restored even when the block raises. Raises
    :class:`FeatureUnavailableError` on a backend without CONFIG (fakeredis).
    """
    if policy not in POLICIES:
        raise ConfigError(f"maxmemory-policy must be one of {', '.join(POLICIES)}; "
                          f"got {policy!r}")
    if maxmemory <= 0:
        raise ConfigError(f"maxmemory must be a positive number of bytes, got {maxmemory}")
    previous = _config_get(client, "maxmemory")
    previous_policy = _config_get(client, "maxmemory-policy")
    client.config_set("maxmemory-policy", policy)
    client.config_set("maxmemory", maxmemory)
    try:
        yield MemoryLimit(maxmemory, policy, previous, previous_policy)
    finally:
        client.config_set("maxmemory", previous)
        client.config_set("maxmemory-policy", previous_policy)


@dataclass(frozen=True)
class LabPhase:
    """One phase of the lab: how many tickets were written and how the reads went."""

    name: str
    written: int
    rejected: int  # writes Redis refused (OOM: nothing it may evict, or policy noeviction)
    hits: int
    misses: int
    evicted_keys: int  # evictions the server counted during this phase

    @property
    def hit_rate(self) -> float | None:
        reads = self.hits + self.misses
        return self.hits / reads if reads else None


@dataclass(frozen=True)
class EvictionLab:
    """What :func:`eviction_lab` saw: the phases and the snapshots around them.

    ``after``'s rates (``redis.evicted_per_min``) are per minute since ``before``.
    """

    limit: MemoryLimit
    phases: tuple[LabPhase, ...]
    before: Snapshot
    after: Snapshot

    def __str__(self) -> str:
        lines = [f"maxmemory {self.limit.maxmemory:,} bytes, policy {self.limit.policy}"]
        for p in self.phases:
            rate = "n/a" if p.hit_rate is None else f"{p.hit_rate:.0%}"
            lines.append(f"  {p.name:<10} wrote {p.written:>5} tickets ({p.rejected} refused), "
                         f"reads: {p.hits} hits {p.misses} misses (hit rate {rate}), "
                         f"evicted {p.evicted_keys}")
        return "\n".join(lines)


def _lab_ticket(ident: int, size: int) -> Ticket:
    moment = datetime(2026, 1, 1, tzinfo=UTC)
    return Ticket(ident, f"Lab ticket {ident}", "x" * size, "open", "low", 1, None, moment,
                  moment, 1)


def _write_and_read(cache: Cache, collector: MetricsCollector, name: str, ids: range,
                    size: int) -> LabPhase:
    before_stats = cache.total_stats()
    before = collector.snapshot().value("redis.evicted_keys")
    rejected = 0
    for ident in ids:
        try:
            cache.put(Entity.TICKET, ident, _lab_ticket(ident, size))
        except redis.OutOfMemoryError:  # what noeviction does; LRU can too, with nothing to free
            rejected += 1
    for ident in reversed(ids):  # newest first; a miss reloads from the loader (the "database")
        cache.get_or_load(Entity.TICKET, ident, functools.partial(_lab_ticket, ident, size))
    after = collector.snapshot().value("redis.evicted_keys")
    stats = cache.total_stats()
    return LabPhase(name, len(ids) - rejected, rejected, stats.hits - before_stats.hits,
                    stats.misses - before_stats.misses, int(after or 0) - int(before or 0))


def eviction_lab(client: redis.Redis, keys: KeySchema | None = None, *,
                 headroom_bytes: int = 512 * 1024, tickets: int = 600,
                 value_bytes: int = 2048, policy: str = "allkeys-lru") -> EvictionLab:
    """Fill the cache past a small ``maxmemory`` and measure the damage.

    Phase ``fits`` writes and reads a tenth of ``tickets`` with no limit: every read is a hit
    (and Redis has loaded the cache's Lua scripts). Then the limit becomes the server's
    ``used_memory`` plus ``headroom_bytes``, and phase ``overfilled`` writes all ``tickets``
    of about ``value_bytes`` each - far more than the headroom - and reads them back newest
    first: evicted tickets are misses, and reloading them evicts others (Redis's LRU is
    approximate: it samples a few keys per eviction). Memory that is not keys (clients, Lua)
    counts against maxmemory too; when nothing is left to evict, writes are refused, and the
    phase counts them as ``rejected``.
    """
    _config_get(client, "maxmemory")  # fails early, with the reason, on fakeredis
    keys = keys or KeySchema()
    cache = Cache(client, keys, ttl=300)
    collector = MetricsCollector(client, keys, cache=cache)
    before = collector.snapshot()
    fits = _write_and_read(cache, collector, "fits", range(1, tickets // 10 + 1), value_bytes)
    used = int(client.info("memory")["used_memory"])
    with memory_limit(client, used + headroom_bytes, policy) as limit:
        overfilled = _write_and_read(cache, collector, "overfilled", range(1, tickets + 1),
                                     value_bytes)
        # Rates over the whole lab: against ``before``, not the collector's last snapshot
        # (taken a moment ago, at the end of the phase: it would show 0 evictions / min).
        after = snapshot(client, keys, cache=cache, previous=before)
    return EvictionLab(limit, (fits, overfilled), before, after)


def lab_skip_reason(backend_kind: str, capabilities: Capabilities | None = None
                    ) -> str | None:
    """Why lesson 08 cannot run :func:`eviction_lab` here (a sentence to print), or None.

    The lab changes ``maxmemory``, so it runs on a private ``redis-server`` of its own, never
    on the class's Redis: it needs that binary even when the lesson uses a Redis URL (Docker).
    With the lesson's ``capabilities``, a Redis user that may not run CONFIG (a class's
    learner) is named as the reason the lab cannot borrow the lesson's Redis either.
    """
    if backend_kind == "fake":
        return "skipped: evictions need a real redis-server (fakeredis never evicts)"
    if no_server_reason() is None:
        return None
    denied = None if capabilities is None else capabilities.why_not("CONFIG")
    if denied:
        return (f"skipped: the lab changes maxmemory with CONFIG SET; {denied} (your class "
                "shares that Redis), and no Redis server program is installed here to run a "
                "private one")
    return ("skipped: the lab changes maxmemory, so it needs a private redis-server of its "
            "own, and no Redis server program is installed here (your Redis is untouched)")
