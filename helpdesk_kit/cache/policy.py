"""The cache's policy: how long values live, and how readers wait for a load. Frozen.

One :class:`CachePolicy` per :class:`~helpdesk_kit.cache.Cache`, built from its options. The
helpers that load and store values (:mod:`helpdesk_kit.cache.loading`, warming) receive it as
it is: they read these numbers and cannot change them under the cache's feet.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from ..config import MAX_VALUE_BYTES
from ..vocab import Entity

__all__ = ["CachePolicy"]


@dataclass(frozen=True)
class CachePolicy:
    """TTLs, jitter, early refresh, lock timings and limits of one cache.

    ``ttl``: seconds a loaded value stays cached (the design's ``EX 300``), unless ``ttls``
    names its entity (``{Entity.USER: 3600}``). ``negative_ttl``: seconds a "no such row"
    stays cached. ``jitter``: up to that fraction of the TTL is added at random (0.1 -> up to
    +10%), so keys warmed together do not expire together.

    ``early_refresh`` turns XFetch on: a hit may reload its key shortly before it expires
    (``xfetch_beta`` > 1 refreshes earlier).

    ``lock_timeout``: how long the load lock lives, and so how long a reader waits for
    another reader's load before it loads itself. ``lock_poll``: how often a waiting reader
    looks again (seconds).

    ``generation_ttl``: seconds an invalidation counter lives after its last bump.
    ``invalidation_retries``: how often a failed invalidation is tried again before it
    raises. ``stale_guard=False`` stores with a plain ``SET``: the naive cache-aside, kept so
    lesson 03 can show the race it loses. ``retry_after``: after a Redis failure, reads skip
    Redis for that many seconds. ``max_value_bytes``: a larger cached value is a miss (and
    deleted), a larger loaded value is not stored.
    """

    ttl: int = 300
    ttls: Mapping[str, int] = field(default_factory=dict)
    negative_ttl: int = 30
    jitter: float = 0.0
    early_refresh: bool = False
    xfetch_beta: float = 1.0
    lock_timeout: float = 2.0
    lock_poll: float = 0.005
    generation_ttl: int = 3600
    invalidation_retries: int = 2
    stale_guard: bool = True
    retry_after: float = 1.0
    max_value_bytes: int = MAX_VALUE_BYTES

    def __post_init__(self) -> None:
        if self.ttl <= 0 or self.negative_ttl <= 0 or not 0 <= self.jitter <= 1:
            raise ValueError("ttl and negative_ttl must be positive, jitter within 0..1")
        # a copy nobody can change: the caller's dict may change after this
        object.__setattr__(self, "ttls", MappingProxyType(dict(self.ttls)))

    def base_ttl(self, entity: Entity) -> int:
        """The TTL of ``entity`` before jitter."""
        return self.ttls.get(entity, self.ttl)

    def ttl_for(self, entity: Entity, rng: random.Random) -> int:
        """The TTL for a new value of ``entity``: its base TTL plus random jitter."""
        base = self.base_ttl(entity)
        if not self.jitter:
            return base
        return base + rng.randint(0, int(base * self.jitter))

    @property
    def lock_ms(self) -> int:
        """The load lock's life in milliseconds (``SET ... NX PX``), at least 1."""
        return max(1, int(self.lock_timeout * 1000))
