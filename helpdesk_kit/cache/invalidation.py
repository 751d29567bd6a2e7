"""Invalidation: delete cached copies right after a database write, and never silently fail.

Two shapes: by key (``DEL ticket:7`` plus ``INCR gen:ticket:7`` in one MULTI/EXEC, retried a
couple of times - :func:`run`) and by pattern (SCAN + DEL of every ``ticket:*``, never
``KEYS``, which blocks the server while it walks every key - :func:`invalidate_pattern`).
If Redis cannot be reached the caller gets :class:`~helpdesk_kit.errors.InvalidationError`:
a cache that silently keeps an old row is worse than a loud error.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import redis

from ..backends import delete_matching
from ..errors import InvalidationError
from ..vocab import Entity
from .lists import LIST

if TYPE_CHECKING:
    from .core import Cache

__all__ = ["invalidate_pattern", "run"]

log = logging.getLogger("helpdesk_kit.cache")


def invalidate_pattern(cache: Cache, entity: str) -> int:
    """Delete every ``{entity}:*`` key, found with SCAN (never KEYS); returns how many.

    It first bumps ``gen:{entity}:all``, so a read loading while the SCAN runs drops
    what it stores (see :mod:`helpdesk_kit.cache.guard`).
    """
    try:
        cache.client.incr(cache.keys.entity_generation(entity))
        deleted = delete_matching(cache.client, cache.keys.pattern(entity))
        if entity == Entity.TICKET:
            cache.client.incr(cache.keys.generation(LIST))
    except redis.RedisError as exc:
        raise InvalidationError(f"could not delete {cache.keys.pattern(entity)} keys "
                                f"({type(exc).__name__}: {exc})") from exc
    log.info("invalidated %d %s key(s) by pattern", deleted, entity)
    return deleted


def run(cache: Cache, what: str, build: Callable[[Any], Any]) -> None:
    """Run one MULTI/EXEC of deletes, retrying; raise InvalidationError if it never works."""
    attempts = cache.invalidation_retries + 1
    for attempt in range(1, attempts + 1):
        try:
            # one server: MULTI/EXEC; a cluster cannot run MULTI across slots
            pipe = cache.client.pipeline(transaction=not cache.keys.cluster)
            build(pipe)
            pipe.execute()
            return
        except redis.RedisError as exc:
            error = exc
            log.warning("invalidating %s failed (attempt %d of %d): %s", what, attempt,
                        attempts, exc)
            if attempt < attempts:
                time.sleep(0.05 * attempt)
    raise InvalidationError(
        f"could not invalidate {what} after {attempts} attempts "
        f"({type(error).__name__}: {error}); the cached copy may be stale until its TTL "
        "ends") from error
