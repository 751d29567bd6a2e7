"""The simulated cache's memory: its keys, with the bookkeeping each eviction policy needs.

Part of :mod:`helpdesk_kit.lab.simulate`: LRU order, LFU counters, TTL order and random
picks, each kept so that choosing the next victim costs O(log n).

By default the LRU and LFU here are *exact*: the victim is the key read longest ago, or the
one read fewest times. Redis approximates both: it samples ``maxmemory-samples`` keys (5 by
default) into a small pool of candidates and evicts the best of those; ``samples=5`` does the
same here (:mod:`.sim_sampling`). Redis's LFU counter is also a logarithmic one that starts at
5 and decays over time (``lfu-decay-time``); here it counts every read. Like Redis, the count
lives with the key: a key that is evicted or expires forgets how often it was read, and starts
counting again when it is cached again.
"""

from __future__ import annotations

import heapq
import random
from collections import OrderedDict

from ..vocab import EvictionPolicy
from .sim_sampling import EvictionPool

__all__ = ["SimMemory"]


class SimMemory:
    """The cache's contents, with the bookkeeping each eviction policy needs."""

    def __init__(self, policy: str, rng: random.Random, samples: int = 0) -> None:
        self.policy = policy
        self.rng = rng
        #: 0: exact LRU/LFU; else Redis's way: this many sampled keys per eviction, a pool
        self.pool = EvictionPool(samples, rng) if samples else None
        self.last_used: dict[int, int] = {}                   # access clock of each key
        self.clock = 0
        self.expires: dict[int, float] = {}
        self.recency: OrderedDict[int, None] = OrderedDict()  # LRU order, oldest first
        self.freq: dict[int, int] = {}                        # LFU counters, while cached
        self.counted_at: dict[int, int] = {}                  # the tick of each key's count
        self.slots: list[int] = []                            # for random picks
        self.slot_of: dict[int, int] = {}
        self.ttl_heap: list[tuple[float, int]] = []           # (expires_at, key), lazy
        self.lfu_heap: list[tuple[int, int, int]] = []        # (freq, tick, key), lazy
        self.tick = 0

    def __len__(self) -> int:
        return len(self.expires)

    def _count(self, key: int) -> None:
        self.freq[key] = self.freq.get(key, 0) + 1
        if self.policy == EvictionPolicy.ALLKEYS_LFU:
            self.tick += 1
            self.counted_at[key] = self.tick
            heapq.heappush(self.lfu_heap, (self.freq[key], self.tick, key))

    def _use(self, key: int) -> None:
        self.clock += 1
        self.last_used[key] = self.clock
        self._count(key)

    def touch(self, key: int) -> None:
        self.recency.move_to_end(key)
        self._use(key)

    def add(self, key: int, expires_at: float) -> None:
        self.expires[key] = expires_at
        self.recency[key] = None
        self._use(key)
        self.slot_of[key] = len(self.slots)
        self.slots.append(key)
        heapq.heappush(self.ttl_heap, (expires_at, key))

    def remove(self, key: int) -> None:
        del self.expires[key]
        del self.recency[key]
        del self.freq[key]  # as in Redis: the count goes with the key
        del self.last_used[key]
        self.counted_at.pop(key, None)
        slot = self.slot_of.pop(key)
        last = self.slots.pop()
        if last != key:  # move the last key into the freed slot
            self.slots[slot] = last
            self.slot_of[last] = slot

    def expire_until(self, now: float) -> list[int]:
        gone = []
        while self.ttl_heap and self.ttl_heap[0][0] <= now:
            expires_at, key = heapq.heappop(self.ttl_heap)
            if self.expires.get(key) == expires_at:  # not an older, replaced entry
                self.remove(key)
                gone.append(key)
        return gone

    def _sampled_victim(self, pool: EvictionPool) -> int:
        """Redis's way: sampled keys, scored by idle time (LRU) or fewest reads (LFU)."""
        def score(key: int) -> float:
            if self.policy == EvictionPolicy.ALLKEYS_LFU:
                return -self.freq[key]
            return self.clock - self.last_used[key]

        return pool.victim(self.slots, score, lambda key: key in self.expires)

    def victim(self) -> int:
        if self.pool is not None and self.policy in (EvictionPolicy.ALLKEYS_LRU,
                                                     EvictionPolicy.ALLKEYS_LFU):
            return self._sampled_victim(self.pool)
        if self.policy == EvictionPolicy.ALLKEYS_LRU:
            return next(iter(self.recency))
        if self.policy == EvictionPolicy.ALLKEYS_LFU:  # fewest reads; ties go to the least recent
            while True:
                freq, tick, key = self.lfu_heap[0]
                if self.counted_at.get(key) == tick and self.freq[key] == freq:
                    return key
                heapq.heappop(self.lfu_heap)  # an older count, or a key no longer cached
        if self.policy == EvictionPolicy.VOLATILE_TTL:
            while True:
                expires_at, key = self.ttl_heap[0]
                if self.expires.get(key) == expires_at:
                    return key
                heapq.heappop(self.ttl_heap)
        return self.rng.choice(self.slots)
