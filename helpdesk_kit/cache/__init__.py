"""Cache-aside in front of the database: the seed's ``cacheUser`` / ``getCachedUser`` family.

``core`` is the :class:`Cache` itself; the pieces it delegates to each hold one idea:
``codec`` (JSON in and out), ``guard`` (locks, the stale-set guard, XFetch), ``lists``
(cached ticket lists), ``invalidation``, ``warm`` (pipelined warming), ``stats``
(hit/miss accounting). They talk to ``Cache`` through its small internal interface
(:class:`~helpdesk_kit.cache.core.CacheInternals`), never through its private names.
``near`` is :class:`NearCache`, a ``Cache`` with an in-process copy of hot rows (L1) kept
fresh by ``CLIENT TRACKING`` (``tracking``: the invalidation connection; ``l1``: the copy).
"""

from __future__ import annotations

from .core import Cache
from .near import NearCache, NearStats
from .stats import CacheStats

__all__ = ["Cache", "CacheStats", "NearCache", "NearStats"]
