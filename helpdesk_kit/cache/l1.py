"""The near cache's own copy of rows (L1): a bounded LRU that never keeps a value read too early.

A reader that missed L1 reads Redis, then offers the value. If the key changed after that read
and the invalidation message was handled *before* the offer, keeping the value would keep an
old row for good. So :meth:`LocalCopy.begin` notes the key's *version*, every drop of the key
bumps it, and :meth:`LocalCopy.settle` keeps the value only if the version - and the copy's
*epoch*, bumped by every :meth:`~LocalCopy.flush` - did not move. A message handled after the
value went in simply drops it. Nothing here talks to Redis; the lock makes it thread-safe.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

__all__ = ["LocalCopy", "NearStats", "Reading"]


@dataclass
class NearStats:
    """L1's counters for one entity."""

    hits: int = 0           #: answered from L1: no round trip
    negative_hits: int = 0  #: the part of ``hits`` that answered "no such row"
    misses: int = 0         #: L1 had nothing (or was off): the read went to Redis
    refused: int = 0        #: read while its key changed: not kept


@dataclass
class Reading:
    """A read under way: what :meth:`LocalCopy.settle` checks before keeping its value."""

    key: str
    entity: str
    slot: list[int]  # [reads of this key under way, its version]
    noted: tuple[int, int]  # (epoch, version) when the read began


class LocalCopy:
    """Up to ``size`` rows: key -> (value, expiry on ``time.monotonic()``, entity)."""

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError(f"size must be at least 1 entry, got {size}")
        self.size = size
        self._lock = threading.Lock()
        self._rows: OrderedDict[str, tuple[Any, float, str]] = OrderedDict()
        self._reading: dict[str, list[int]] = {}
        self._stats: dict[str, NearStats] = {}
        self._epoch = 0

    def __len__(self) -> int:
        return len(self._rows)

    def lookup(self, key: str, entity: str, serving: bool
               ) -> tuple[bool, Any, Reading | None]:
        """``(True, value, None)`` on a hit; on a miss ``(False, None, reading)``: settle the
        reading once the value is known. L1 off (``serving`` False): no reading, no hit."""
        now = time.monotonic()
        with self._lock:
            stats = self._stats.get(entity)
            if stats is None:
                stats = self._stats[entity] = NearStats()
            row = self._rows.get(key) if serving else None
            if row is not None and row[1] > now:
                self._rows.move_to_end(key)
                stats.hits += 1
                if row[0] is None:
                    stats.negative_hits += 1
                return True, row[0], None
            stats.misses += 1
            if not serving:
                return False, None, None
            slot = self._reading.setdefault(key, [0, 0])
            slot[0] += 1
            return False, None, Reading(key, entity, slot, (self._epoch, slot[1]))

    def settle(self, reading: Reading, value: Any, keep_ms: int | None) -> None:
        """The read is over: keep ``value`` for ``keep_ms`` unless its key changed meanwhile."""
        key, slot = reading.key, reading.slot
        with self._lock:
            slot[0] -= 1
            if slot[0] == 0 and self._reading.get(key) is slot:
                del self._reading[key]
            if keep_ms is None or keep_ms <= 0:
                return
            if (self._epoch, slot[1]) != reading.noted:
                self._stats[reading.entity].refused += 1
                return
            self._rows[key] = (value, time.monotonic() + keep_ms / 1000, reading.entity)
            self._rows.move_to_end(key)
            while len(self._rows) > self.size:
                self._rows.popitem(last=False)  # the least recently used goes first

    def drop(self, keys: Iterable[str]) -> None:
        with self._lock:
            for key in keys:
                self._rows.pop(key, None)
                slot = self._reading.get(key)
                if slot is not None:
                    slot[1] += 1  # a read of this key is under way: what it holds is old

    def drop_entity(self, entity: str, head: str) -> None:
        """Drop every row of ``entity``, and spoil every read of a key starting ``head``."""
        with self._lock:
            for key in [k for k, row in self._rows.items() if row[2] == entity]:
                del self._rows[key]
            for key, slot in self._reading.items():
                if key.startswith(head):
                    slot[1] += 1

    def flush(self) -> None:
        with self._lock:
            self._rows.clear()
            self._epoch += 1  # no read under way now may keep its value

    @property
    def flushes(self) -> int:
        """How many times L1 was emptied whole (tracking up or down, FLUSHDB heard...)."""
        return self._epoch

    def snapshot(self) -> dict[str, Any]:
        """What L1 would answer now, key -> value (a copy; lesson 16 and the tests look)."""
        now = time.monotonic()
        with self._lock:
            return {key: row[0] for key, row in self._rows.items() if row[1] > now}

    def stats(self) -> dict[str, NearStats]:
        with self._lock:
            return {e: NearStats(**vars(s)) for e, s in self._stats.items()}

    def reset_stats(self) -> None:
        with self._lock:
            self._stats.clear()
