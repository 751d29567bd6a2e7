"""Cache-aside in front of the database: the design's ``cacheUser`` / ``getCachedUser`` family.

``core`` is the :class:`Cache` itself. To follow one read, ``Cache.get_ticket``, open three
files top to bottom: ``core`` (the read), ``lookup`` (the one round trip to Redis, decoded,
never an error for the caller) and ``loading`` (on a miss: the lock, the database, the
guarded set; XFetch's early refresh).

The other modules each hold one idea, and get what they need as explicit inputs (a client,
the keys, the scripts, the frozen ``policy``), never the ``Cache``: ``codec`` (JSON in and
out, one typed codec per entity), ``lists`` (cached ticket list pages), ``invalidation``,
``warm`` (pipelined warming), ``functions`` (the cache's Lua scripts as one library, run by
:mod:`helpdesk_kit.backends.scripts`), ``stats`` (hit/miss accounting), ``published`` (the
counters, written to Redis for a class's dashboard). ``near`` is :class:`NearCache`, a
``Cache`` with an in-process copy of hot rows (L1) kept fresh by ``CLIENT TRACKING``
(``tracking``: the invalidation connection; ``l1``: the copy).
"""

from __future__ import annotations

from .core import Cache
from .near import NearCache, NearStats
from .policy import CachePolicy
from .stats import CacheStats

__all__ = ["Cache", "CachePolicy", "CacheStats", "NearCache", "NearStats"]
