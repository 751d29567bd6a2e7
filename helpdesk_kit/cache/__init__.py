"""Cache-aside in front of the database: the seed's ``cacheUser`` / ``getCachedUser`` family.

``core`` is the :class:`Cache` itself; the pieces it delegates to each hold one idea:
``codec`` (JSON in and out), ``guard`` (locks, the stale-set guard, XFetch), ``lists``
(cached ticket lists), ``invalidation``, ``warm`` (pipelined warming), ``stats``
(hit/miss accounting). They talk to ``Cache`` through its small internal interface
(:class:`~helpdesk_kit.cache.core.CacheInternals`), never through its private names.
"""

from __future__ import annotations

from .core import Cache
from .stats import CacheStats

__all__ = ["Cache", "CacheStats"]
