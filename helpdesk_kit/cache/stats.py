"""Hit/miss accounting for the cache, counted in this process.

Counting happens in Python beside each lookup (the way cachetools does it), so a cache hit
costs no extra Redis round trip. The counters belong to one :class:`~helpdesk_kit.cache.Cache`
object: two processes sharing a Redis keep separate books.

What each counter means (one read is exactly one hit or one miss):

- ``hits``: the answer came from Redis (including a "missing" answer and a value another
  reader loaded while we waited for its lock);
- ``negative_hits``: the part of ``hits`` that answered "no such row" (negative caching);
- ``misses``: the answer did not come from Redis (absent, corrupt, stale, or Redis failed);
- ``errors``: Redis calls that failed (down, timeout) - the read still got its data;
- ``loads``: calls to the loader (the database); stampede protection keeps it low;
- ``corrupt``: values that were not valid JSON of the right shape (deleted and reloaded);
- ``refreshes``: early refreshes (XFetch) of a value that was still cached.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, fields

__all__ = ["CacheStats", "StatsBook"]


@dataclass
class CacheStats:
    """Counters for one entity (or the total); see the module docstring for their meaning."""

    hits: int = 0
    misses: int = 0
    negative_hits: int = 0
    errors: int = 0
    loads: int = 0
    corrupt: int = 0
    refreshes: int = 0

    @property
    def reads(self) -> int:
        return self.hits + self.misses

    @property
    def hit_rate(self) -> float | None:
        """The seed's ``Hits / (Hits + Misses)``; None before the first read."""
        return self.hits / self.reads if self.reads else None

    def __add__(self, other: CacheStats) -> CacheStats:
        return CacheStats(*(getattr(self, f.name) + getattr(other, f.name)
                            for f in fields(self)))


class StatsBook:
    """Per-entity :class:`CacheStats`, safe to update from many threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_entity: dict[str, CacheStats] = {}

    def count(self, entity: str, counter: str, n: int = 1) -> None:
        with self._lock:
            stats = self._by_entity.get(entity)
            if stats is None:
                stats = self._by_entity[entity] = CacheStats()
            setattr(stats, counter, getattr(stats, counter) + n)

    def snapshot(self) -> dict[str, CacheStats]:
        """A copy per entity (later reads do not change what you got)."""
        with self._lock:
            return {e: CacheStats(**vars(s)) for e, s in self._by_entity.items()}

    def total(self) -> CacheStats:
        return sum(self.snapshot().values(), CacheStats())

    def reset(self) -> None:
        with self._lock:
            self._by_entity.clear()
