"""The two small Lua scripts that make cache-aside safe under concurrency.

**The stale-read race.** Plain cache-aside has a hole: a reader misses, reads the *old* row
from the database; meanwhile a writer updates the row and deletes the key; then the reader
stores the old row - and every read serves stale data until the TTL runs out.

**The guard: a generation per key.** Invalidation does ``DEL ticket:7`` *and*
``INCR gen:ticket:7`` (one MULTI/EXEC). A reader notes ``gen:ticket:7`` *before* it asks the
database and later stores with :data:`GUARDED_SET`, which writes only if the generation is
still the one it noted - checked and set inside Redis, atomically. If a writer committed and
invalidated in between, the generation moved on, the set is refused, and the next read loads
the new row. (If the writer's invalidation comes after the set, its DEL removes the value.)

**Pattern invalidation.** ``invalidate_pattern("ticket")`` deletes what SCAN finds, but a
reader that *missed* has no key to find, so its per-key counter is not bumped. It first bumps
an entity-wide counter (``gen:ticket:all``); a reader notes that one too before loading, and
after its guarded set reads it again: if it moved, the reader deletes what it just stored.
Either the bump came before that check (the reader sees it and deletes) or after it - and then
the SCAN that follows the bump finds the stored key and deletes it. The stale row is visible
for at most one round trip. (It is a check after the set, not a third key in the script,
because on Redis Cluster ``gen:ticket:all`` lives in another slot than ``{ticket:7}``.)

**The load lock.** While one reader loads a missing key, it holds ``lock:ticket:7``
(``SET NX PX``: it expires by itself, so a crashed reader blocks nobody for longer than the
timeout). :data:`RELEASE_LOCK` deletes the lock only if it is still ours.

Redis Cluster: a script may only touch keys of one hash slot, so with
``KeySchema(cluster=True)`` the pair is ``{ticket:7}`` and ``gen:{ticket:7}`` (one hash tag);
the single-server names stay the seed's.
"""

from __future__ import annotations

import logging
import math
import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import redis

from ..backends.raw import bytes_reply
from .codec import CODECS, MISSING

if TYPE_CHECKING:
    from .core import Cache

__all__ = ["GUARDED_SET", "RELEASE_LOCK", "load_once", "refresh", "store", "xfetch_due"]

log = logging.getLogger("helpdesk_kit.cache")
T = TypeVar("T")

#: KEYS[1] value key, KEYS[2] its generation key;
#: ARGV[1] generation seen before loading ("" if none), ARGV[2] value, ARGV[3] TTL in seconds.
#: Returns 1 if stored, 0 if refused (invalidated while the reader was loading).
GUARDED_SET = """
if (redis.call('GET', KEYS[2]) or '') ~= ARGV[1] then
  return 0
end
redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
return 1
"""

#: KEYS[1] lock key; ARGV[1] our token. Deletes the lock only if we still hold it.
RELEASE_LOCK = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


#: How a cached value is read and written: ``decode(raw, seen_generation) -> (found, value)``
#: (``raw`` as Redis gave it: bytes) and ``encode(value, seen_generation) -> text`` (list pages
#: embed the generation).
Decode = Callable[[bytes, "str | None"], tuple[bool, Any]]
Encode = Callable[[Any, "str | None"], str]


def store(cache: Cache, entity: str, key: str, gen_key: str, seen: str | None,
          value: Any, encode: Encode | None = None, seen_all: str | None = None) -> None:
    """Store a loaded value unless its key was invalidated since ``seen`` was read.

    ``seen_all`` is the entity-wide counter noted before loading: if a pattern invalidation
    bumped it meanwhile, the value just stored is deleted again.
    """
    if encode is not None:
        text = encode(value, seen)
    else:
        text = MISSING if value is None else CODECS[entity][0](value)
    ttl = cache.negative_ttl if value is None else cache.ttl_for(entity)
    if len(text) > cache.internals.max_value_bytes:  # it would be a miss on every read anyway
        log.info("not caching %s: %d bytes is over HELPDESK_MAX_VALUE_BYTES", key, len(text))
        return
    try:
        if not cache.stale_guard:
            cache.client.set(key, text, ex=ttl)
        elif not cache.internals.guarded_set(keys=[key, gen_key], args=[seen or "", text, ttl]):
            log.info("not caching %s: invalidated while it was loading", key)
        elif cache.client.get(cache.keys.entity_generation(entity)) != seen_all:
            cache.client.delete(key)
            log.info("not caching %s: its entity was invalidated while it was loading", key)
    except redis.RedisError as exc:
        cache.internals.redis_failed(entity, exc)


def load_once(cache: Cache, entity: str, ident: object, key: str,
              loader: Callable[[], T | None], *, gen_key: str | None = None,
              decode: Decode | None = None, encode: Encode | None = None
              ) -> tuple[T | None, bool]:
    """Stampede protection: one reader loads under a lock, the others wait for its value.

    Returns ``(value, came_from_cache)``. A waiter gives up after ``lock_timeout`` (by then
    a crashed holder's lock has expired) and loads itself. ``gen_key`` (default: the key's
    own counter), ``decode`` and ``encode`` let list pages use the same lock and guard.
    """
    gen_key = gen_key or cache.keys.generation(entity, ident)
    lock_key, all_key = cache.keys.lock(entity, ident), cache.keys.entity_generation(entity)
    token, deadline = uuid.uuid4().hex, time.monotonic() + cache.lock_timeout
    lock_ms = max(1, int(cache.lock_timeout * 1000))
    while True:
        try:
            pipe = bytes_reply(cache.client.pipeline(transaction=False), "GET", key)
            raw, seen, seen_all, locked = (
                pipe.get(gen_key).get(all_key).set(lock_key, token, nx=True, px=lock_ms)
                .execute())
        except redis.RedisError as exc:
            cache.internals.redis_failed(entity, exc)
            return cache.internals.load(entity, loader), False
        if raw is not None:
            found, value = (decode(raw, seen) if decode is not None
                            else cache.internals.decode(entity, key, raw))
            if found:
                if locked:  # the value arrived just as the lock was free: give it back
                    unlock(cache, entity, lock_key, token)
                return value, True
        if locked or time.monotonic() >= deadline:
            break
        time.sleep(cache.lock_poll)
    try:
        value = cache.internals.load(entity, loader)
        store(cache, entity, key, gen_key, seen, value, encode, seen_all)
    finally:
        if locked:
            unlock(cache, entity, lock_key, token)
    return value, False


def unlock(cache: Cache, entity: str, lock_key: str, token: str) -> None:
    """Release our load lock (if it already expired, nothing happens)."""
    try:
        cache.internals.release_lock(keys=[lock_key], args=[token])
    except redis.RedisError as exc:  # it expires by itself
        cache.internals.redis_failed(entity, exc)


def xfetch_due(cache: Cache, entity: str, pttl: int) -> bool:
    """XFetch: refresh early with probability growing as expiry nears (Vattani et al.)."""
    delta = cache.internals.load_seconds.get(entity)
    if delta is None or pttl < 0:
        return False
    return -delta * cache.xfetch_beta * math.log(1.0 - cache.rng.random()) >= pttl / 1000


def refresh(cache: Cache, entity: str, ident: object, key: str,
            loader: Callable[[], T | None], current: T) -> T | None:
    """Reload a still-cached value if nobody else is doing it; else keep ``current``."""
    gen_key, lock_key = cache.keys.generation(entity, ident), cache.keys.lock(entity, ident)
    token, lock_ms = uuid.uuid4().hex, max(1, int(cache.lock_timeout * 1000))
    try:
        pipe = cache.client.pipeline(transaction=False)
        pipe.get(gen_key)
        pipe.get(cache.keys.entity_generation(entity))
        pipe.set(lock_key, token, nx=True, px=lock_ms)
        seen, seen_all, locked = pipe.execute()
    except redis.RedisError as exc:
        cache.internals.redis_failed(entity, exc)
        return current
    if not locked:
        return current
    try:
        value = cache.internals.load(entity, loader)
        store(cache, entity, key, gen_key, seen, value, seen_all=seen_all)
    finally:
        unlock(cache, entity, lock_key, token)
    cache.internals.count(entity, "refreshes")
    return value
