"""Invalidation: delete cached copies right after a database write, and never silently fail.

Two shapes: by key (``DEL ticket:7`` plus ``INCR gen:ticket:7`` in one MULTI/EXEC, retried a
couple of times - :func:`run`) and by pattern (SCAN + DEL of every ``ticket:*``, never
``KEYS``, which blocks the server while it walks every key - :func:`invalidate_pattern`).
If Redis cannot be reached the caller gets :class:`~helpdesk_kit.errors.InvalidationError`:
a cache that silently keeps an old row is worse than a loud error.

**Replicated Redis (Sentinel, Cluster).** The primary answers before its replicas have the
``DEL``; if it dies then, the promoted replica still holds the old row, and a reader's guarded
set sees the old generation too. So there every invalidation waits for the replicas
(``WAIT``): when it returns, the invalidation survives a failover. When no replica confirms
within :data:`REPLICA_TIMEOUT_MS`, it raises InvalidationError saying so: never a silent stale
row. ``WAIT`` must run on the server that ran the ``DEL``: a failover between the two sends
it to the new primary, which may never have had the ``DEL`` and confirms all the same. So an
invalidation by key writes a fresh token in its own MULTI, and the confirmation reads it back
on the connection that waits (:class:`~helpdesk_kit.backends.replication.Fences`): no token
there, no confirmation. A pattern invalidation is many commands (SCAN, DEL batches) and only
waits (:func:`~helpdesk_kit.backends.replication.wait_for_replicas`); on a cluster its SCAN
runs on every primary (redis-py's ``scan_iter`` visits each).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import redis

from ..backends import delete_matching
from ..backends.replication import Fences, replicas_to_wait_for, wait_for_replicas
from ..errors import InvalidationError
from ..keys import KeySchema
from ..vocab import Entity

__all__ = ["REPLICA_TIMEOUT_MS", "confirm_replicated", "invalidate_pattern", "run"]

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
    it never works. On a replicated Redis the MULTI carries a token, and the invalidation is
    confirmed on the server that holds it (see the module)."""
    fences = None
    if replicas_to_wait_for(client):
        fences = Fences.plan(client, keys.fence)
    attempts = retries + 1
    for attempt in range(1, attempts + 1):
        try:
            # one server: MULTI/EXEC; a cluster cannot run MULTI across slots
            pipe = client.pipeline(transaction=not keys.cluster)
            build(pipe)
            if fences is not None:
                fences.write(pipe)  # last: after the deletes, on each primary's connection
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
    if fences is not None:
        confirm_replicated(client, keys, what, fences)


def confirm_replicated(client: redis.Redis, keys: KeySchema, what: str,
                       fences: Fences | None = None) -> None:
    """On Sentinel or Cluster, wait until the replicas have the invalidation; else raise.

    ``fences``: the tokens the invalidation wrote (its server must hold them); without them,
    only wait for what was written so far (a pattern invalidation)."""
    if not replicas_to_wait_for(client):
        return
    try:
        if fences is not None:
            confirmed = fences.confirm(REPLICA_TIMEOUT_MS)
        else:
            confirmed = wait_for_replicas(client, keys.fence, REPLICA_TIMEOUT_MS)
    except redis.RedisError as exc:
        confirmed = False
        reason = f"{type(exc).__name__}: {exc}"
    else:
        reason = (f"not every replica within {REPLICA_TIMEOUT_MS} ms, or the server that "
                  "answered never ran it: a failover in between")
    if not confirmed:
        raise InvalidationError(
            f"invalidated {what} on the primary, but no replica confirmed it ({reason}): if the "
            "primary fails before it replicates, the old entry comes back until its TTL ends")
