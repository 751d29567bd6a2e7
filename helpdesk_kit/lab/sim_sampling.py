"""How Redis picks a key to evict: a few sampled keys and a small pool of the best candidates.

Part of :mod:`helpdesk_kit.lab.simulate` (``SimConfig(samples=5)``). Redis keeps no order of
use: for each eviction it samples ``maxmemory-samples`` keys at random, adds each to a pool of
the best candidates seen so far (16 of them) if it beats the worst one there, and evicts the
best candidate that still exists - the key idle longest (LRU) or read least (LFU), as far as
the samples showed (https://redis.io/docs/latest/develop/reference/eviction/#apx-lru). A
candidate's score is the one it had when it was sampled: a key read since keeps its old place
in the pool until it is picked or pushed out.
"""

from __future__ import annotations

import bisect
import random
from collections.abc import Callable, Sequence

__all__ = ["POOL_SIZE", "EvictionPool"]

#: Candidates the pool keeps (Redis's ``EVPOOL_SIZE``).
POOL_SIZE = 16


class EvictionPool:
    """The candidates for eviction, best last: ``(score, key)`` sorted by score."""

    def __init__(self, samples: int, rng: random.Random) -> None:
        if samples < 1:
            raise ValueError("samples must be at least 1")
        self.samples = samples
        self.rng = rng
        self.pool: list[tuple[float, int]] = []

    def _offer(self, score: float, key: int) -> None:
        self.pool = [(s, k) for s, k in self.pool if k != key]  # one place per key
        if len(self.pool) >= POOL_SIZE and score <= self.pool[0][0]:
            return  # not better than the worst candidate of a full pool
        bisect.insort(self.pool, (score, key))
        if len(self.pool) > POOL_SIZE:
            del self.pool[0]

    def victim(self, keys: Sequence[int], score: Callable[[int], float],
               cached: Callable[[int], bool]) -> int:
        """Sample ``keys``, offer each to the pool, and take the best candidate still cached.

        ``score(key)``: higher is a better victim (idle time, or minus the read count).
        """
        while True:
            for _ in range(self.samples):  # with replacement: Redis's samples may repeat too
                key = keys[self.rng.randrange(len(keys))]
                self._offer(score(key), key)
            while self.pool:
                _score, key = self.pool.pop()
                if cached(key):
                    return key
