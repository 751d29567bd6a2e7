"""Invalidation: delete cached copies right after a database write, and never silently fail.

Two shapes: by key (``DEL ticket:7`` plus ``INCR gen:ticket:7`` in one MULTI/EXEC, retried a
couple of times - :func:`run`) and by pattern (SCAN + DEL of every ``ticket:*``, never
``KEYS``, which blocks the server while it walks every key - :func:`invalidate_pattern`).
If Redis cannot be reached the caller gets :class:`~helpdesk_kit.errors.InvalidationError`:
a cache that silently keeps an old row is worse than a loud error.

**Replicated Redis (Sentinel, Cluster).** The primary answers before its replicas have the
``DEL``; if it dies then, the promoted replica still holds the old row, and a reader's guarded
set sees the old generation too. So there every invalidation waits for the replicas
(``WAIT``): when it returns, the invalidation survives a failover. When the replicas do not
confirm within :data:`REPLICA_TIMEOUT_MS`, it raises InvalidationError saying so: never a
silent stale row. ``WAIT`` must run on the server that ran the ``DEL``: a failover between
the two sends it to the new primary, which may never have had the ``DEL`` and confirms all the
same. So an invalidation by key plans its confirmation before it runs
(:class:`~helpdesk_kit.backends.replication.Fences`): on one server its MULTI carries a fresh
token the confirmation must find; on a cluster the confirmation goes to the very nodes the slot
map named before. A pattern invalidation is many commands (SCAN, DEL batches) and only waits
(:func:`~helpdesk_kit.backends.replication.wait_for_replicas`); on a cluster its SCAN runs on
every primary (redis-py's ``scan_iter`` visits each).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, NoReturn

import redis

from ..backends import delete_matching
from ..backends.replication import Fences, replicas_to_wait_for
from ..errors import InvalidationError
from ..keys import KeySchema
from ..vocab import Entity

__all__ = ["REPLICA_TIMEOUT_MS", "confirm_planned", "confirm_replicated", "invalidate_pattern",
           "run"]

log = logging.getLogger("helpdesk_kit.cache")

#: How long an invalidation waits for a replica on Sentinel or Cluster (loopback: ~1 ms).
REPLICA_TIMEOUT_MS = 1000


def invalidate_pattern(client: redis.Redis, keys: KeySchema, entity: Entity) -> int:
    """Delete every ``{entity}:*`` key, found with SCAN (never KEYS); returns how many.

    It first bumps ``gen:{entity}:all``, so a read loading while the SCAN runs drops
    what it stores (see :mod:`helpdesk_kit.cache.loading`).
    """
    try:
        client.incr(keys.entity_generation(entity))
        deleted = delete_matching(client, keys.pattern(entity))
        if entity == Entity.TICKET:  # and every cached ticket list page is stale
            client.incr(keys.generation(Entity.TICKETS))
    except redis.RedisError as exc:
        raise InvalidationError(f"could not delete {keys.pattern(entity)} keys "
                                f"({type(exc).__name__}: {exc})") from exc
    confirm_replicated(client, keys, f"the {keys.pattern(entity)} keys")
    log.info("invalidated %d %s key(s) by pattern", deleted, entity)
    return deleted


def run(client: redis.Redis, keys: KeySchema, what: str, build: Callable[[Any], Any], *,
        retries: int) -> None:
    """Run one MULTI/EXEC of deletes, retrying ``retries`` times; raise InvalidationError if
    it never works. On a replicated Redis its confirmation is planned first, and made on the
    server that ran it (see the module)."""
    fences = None
    unplanned: redis.RedisError | None = None
    if replicas_to_wait_for(client):
        try:
            fences = Fences.plan(client, keys.fence)
        except redis.RedisError as exc:  # a slot map with a hole: delete all the same
            unplanned = exc
    attempts = retries + 1
    for attempt in range(1, attempts + 1):
        try:
            # one server: MULTI/EXEC; a cluster cannot run MULTI across slots
            pipe = client.pipeline(transaction=not keys.cluster)
            build(pipe)
            if fences is not None:
                fences.write(pipe)  # last in the MULTI, after the deletes
            pipe.execute()
            break
        except redis.RedisError as exc:
            error = exc
            log.warning("invalidating %s failed (attempt %d of %d): %s", what, attempt,
                        attempts, exc)
            if attempt < attempts:
                time.sleep(0.05 * attempt)
    else:
        raise InvalidationError(
            f"could not invalidate {what} after {attempts} attempts "
            f"({type(error).__name__}: {error}); the cached copy may be stale until its TTL "
            "ends") from error
    if unplanned is not None:
        _unconfirmed(what, f"{type(unplanned).__name__}: {unplanned}")
    if fences is not None:
        confirm_planned(what, fences)


def confirm_replicated(client: redis.Redis, keys: KeySchema, what: str) -> None:
    """On Sentinel or Cluster, wait until the replicas have what was written so far (a
    pattern invalidation: no plan was made before it); else raise."""
    if not replicas_to_wait_for(client):
        return
    try:
        fences = Fences.plan(client, keys.fence, token_in_batch=False)
    except redis.RedisError as exc:
        _unconfirmed(what, f"{type(exc).__name__}: {exc}")
    confirm_planned(what, fences)


def confirm_planned(what: str, fences: Fences) -> None:
    """Confirm an invalidation as planned before it ran (see the module); else raise."""
    try:
        reason = fences.confirm(REPLICA_TIMEOUT_MS)
    except redis.RedisError as exc:
        reason = f"{type(exc).__name__}: {exc}"
    if reason is not None:
        _unconfirmed(what, reason)


def _unconfirmed(what: str, reason: str) -> NoReturn:
    """Say the invalidation ran and is not known to be on the replicas."""
    raise InvalidationError(
        f"invalidated {what}, but the replicas did not confirm it ({reason}): after a "
        "failover the old entry can come back, until its TTL ends")
