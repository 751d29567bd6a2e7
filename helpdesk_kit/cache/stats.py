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

The names are :class:`~helpdesk_kit.vocab.CacheCounter`'s members: code counts with those,
never with a string, so a typo is an error and not a new, silent counter.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass

from ..vocab import CacheCounter, Entity

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

    @classmethod
    def of(cls, counts: Mapping[CacheCounter, int]) -> CacheStats:
        """The counters of one entity, from what the book counted."""
        return cls(
            hits=counts.get(CacheCounter.HITS, 0),
            misses=counts.get(CacheCounter.MISSES, 0),
            negative_hits=counts.get(CacheCounter.NEGATIVE_HITS, 0),
            errors=counts.get(CacheCounter.ERRORS, 0),
            loads=counts.get(CacheCounter.LOADS, 0),
            corrupt=counts.get(CacheCounter.CORRUPT, 0),
            refreshes=counts.get(CacheCounter.REFRESHES, 0),
        )

    @property
    def reads(self) -> int:
        return self.hits + self.misses

    @property
    def hit_rate(self) -> float | None:
        """The design's ``Hits / (Hits + Misses)``; None before the first read."""
        return self.hits / self.reads if self.reads else None

    def __add__(self, other: CacheStats) -> CacheStats:
        return CacheStats(
            hits=self.hits + other.hits,
            misses=self.misses + other.misses,
            negative_hits=self.negative_hits + other.negative_hits,
            errors=self.errors + other.errors,
            loads=self.loads + other.loads,
            corrupt=self.corrupt + other.corrupt,
            refreshes=self.refreshes + other.refreshes,
        )


class StatsBook:
    """Per-entity counters, safe to update from many threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[Entity, Counter[CacheCounter]] = {}

    def count(self, entity: Entity, counter: CacheCounter, n: int = 1) -> None:
        with self._lock:
            counts = self._counts.get(entity)
            if counts is None:
                counts = self._counts[entity] = Counter()
            counts[counter] += n

    def snapshot(self) -> dict[Entity, CacheStats]:
        """A copy per entity (later reads do not change what you got)."""
        with self._lock:
            return {entity: CacheStats.of(counts) for entity, counts in self._counts.items()}

    def total(self) -> CacheStats:
        return sum(self.snapshot().values(), CacheStats())

    def reset(self) -> None:
        with self._lock:
            self._counts.clear()
