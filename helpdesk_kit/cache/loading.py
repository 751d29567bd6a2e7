"""Loading a value into the cache: one reader loads, and it stores only a value still current.

What happens after a lookup missed (:mod:`helpdesk_kit.cache.lookup`), in the shape of
dogpile.cache's ``Lock``: the functions here know nothing of the ``Cache``. They get a client,
the keys of one value (:class:`Slot`), what to load and how to read and write it
(:class:`Load`), the scripts and the cache's frozen :class:`~.policy.CachePolicy`.

**The load lock (stampede protection).** Of N readers missing one key, one loads: it holds
``lock:ticket:7`` (``SET NX PX``: it expires by itself, so a crashed reader blocks nobody for
longer than the timeout) while the others poll briefly and read what it stored
(:func:`load_once`). :data:`RELEASE_LOCK` deletes the lock only if it is still ours.

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

**Early refresh (XFetch).** A hit may reload its key shortly before it expires, more likely
the closer it is and the slower the load (:func:`xfetch_due`, Vattani et al.); the reload
takes the same lock and the same guard (:func:`refresh`).

Redis Cluster: a script may only touch keys of one hash slot, so with
``KeySchema(cluster=True)`` the pair is ``{ticket:7}`` and ``gen:{ticket:7}`` (one hash tag);
the single-server names stay the design's.
"""

from __future__ import annotations

import logging
import math
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import redis

from ..backends.raw import bytes_reply
from ..backends.scripts import ScriptRunner
from ..keys import KeySchema
from ..vocab import Entity
from .policy import CachePolicy

__all__ = ["GUARDED_SET", "RELEASE_LOCK", "Load", "Slot", "load_once", "refresh", "store",
           "xfetch_due"]

log = logging.getLogger("helpdesk_kit.cache")
V = TypeVar("V")

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


@dataclass(frozen=True)
class Slot:
    """The keys around one cached value."""

    #: the value: ``ticket:7``
    key: str
    #: its invalidation counter: ``gen:ticket:7`` (a list page: the list's ``gen:tickets``)
    generation: str
    #: the counter a pattern invalidation bumps: ``gen:ticket:all``
    entity_generation: str
    #: the load lock: ``lock:ticket:7``
    lock: str

    @classmethod
    def of(cls, keys: KeySchema, entity: Entity, ident: object) -> Slot:
        """The slot of one row, ``{entity}:{ident}``."""
        return cls(key=keys.entity(entity, ident),
                   generation=keys.generation(entity, ident),
                   entity_generation=keys.entity_generation(entity),
                   lock=keys.lock(entity, ident))


@dataclass(frozen=True)
class Load(Generic[V]):
    """One value to load, and how it is read back and written.

    ``run()``: the loader (the database), timed and counted by the cache.
    ``decode(raw, noted)``: ``(found, value)`` of what another reader stored, given the
    generation read with it. ``encode(value, noted)``: the text to store, given the
    generation noted before loading (a list page embeds it). ``ttl(value)``: seconds to keep
    it (the negative TTL for None). ``failed(exc)``: a Redis error, counted; the load goes on.
    """

    run: Callable[[], V | None]
    decode: Callable[[bytes, str | None], tuple[bool, V | None]]
    encode: Callable[[V | None, str | None], str]
    ttl: Callable[[V | None], int]
    failed: Callable[[Exception], None]


def _lock_and_note(pipe: Any, slot: Slot, token: str, policy: CachePolicy, *,
                   read_value: bool) -> Any:
    """Queue on ``pipe``: try to take the load lock, then (``read_value``) read the cached
    value as bytes, then both counters.

    The lock comes first. A holder stores its value *before* it releases the lock, so a lock
    we find free again is one whose value the ``GET`` right after it sees. The other order
    (``GET``, then ``SET NX``) lets a reader miss the value, then take the freshly freed lock
    and load a second time: a stampede seen on a busy machine.
    """
    pipe.set(slot.lock, token, nx=True, px=policy.lock_ms)
    if read_value:
        bytes_reply(pipe, "GET", slot.key)
    pipe.get(slot.generation)
    pipe.get(slot.entity_generation)
    return pipe


def load_once(client: redis.Redis, slot: Slot, job: Load[V], *, scripts: ScriptRunner,
              policy: CachePolicy) -> tuple[V | None, bool]:
    """Stampede protection: one reader loads under the lock, the others wait for its value.

    Returns ``(value, came_from_cache)``. A waiter gives up after ``policy.lock_timeout``
    (by then a crashed holder's lock has expired) and loads itself.
    """
    token = uuid.uuid4().hex
    deadline = time.monotonic() + policy.lock_timeout
    while True:
        try:
            pipe = _lock_and_note(client.pipeline(transaction=False), slot, token, policy,
                                  read_value=True)
            locked, raw, noted, noted_all = pipe.execute()
        except redis.RedisError as exc:
            job.failed(exc)
            return job.run(), False
        if raw is not None:
            found, value = job.decode(raw, noted)
            if found:
                if locked:  # the value arrived just as the lock was free: give it back
                    unlock(slot, token, scripts=scripts, failed=job.failed)
                return value, True
        if locked or time.monotonic() >= deadline:
            break
        time.sleep(policy.lock_poll)  # nope: somebody else is loading it; look again soon
    # we hold the lock (or waited long enough): we're it
    try:
        value = job.run()
        store(client, slot, job, value, noted, noted_all, scripts=scripts, policy=policy)
    finally:
        if locked:
            unlock(slot, token, scripts=scripts, failed=job.failed)
    return value, False


def store(client: redis.Redis, slot: Slot, job: Load[V], value: V | None, noted: str | None,
          noted_all: str | None, *, scripts: ScriptRunner, policy: CachePolicy) -> None:
    """Store a loaded value unless its key was invalidated since ``noted`` was read.

    ``noted_all`` is the entity-wide counter read before loading: if a pattern invalidation
    bumped it meanwhile, the value just stored is deleted again.
    """
    text = job.encode(value, noted)
    ttl = job.ttl(value)
    if len(text) > policy.max_value_bytes:  # it would be a miss on every read anyway
        log.info("not caching %s: %d bytes is over HELPDESK_MAX_VALUE_BYTES", slot.key,
                 len(text))
        return
    try:
        if not policy.stale_guard:  # the naive cache-aside of lesson 03
            client.set(slot.key, text, ex=ttl)
        elif not scripts.run("guarded_set", [slot.key, slot.generation],
                              [noted or "", text, ttl]):
            log.info("not caching %s: invalidated while it was loading", slot.key)
        elif client.get(slot.entity_generation) != noted_all:
            client.delete(slot.key)
            log.info("not caching %s: its entity was invalidated while it was loading",
                     slot.key)
    except redis.RedisError as exc:
        job.failed(exc)


def unlock(slot: Slot, token: str, *, scripts: ScriptRunner,
           failed: Callable[[Exception], None]) -> None:
    """Release our load lock (if it already expired, nothing happens)."""
    try:
        scripts.run("release_lock", [slot.lock], [token])
    except redis.RedisError as exc:  # it expires by itself
        failed(exc)


def xfetch_due(load_seconds: float | None, pttl: int | None, policy: CachePolicy,
               rng: random.Random) -> bool:
    """XFetch: refresh early with a probability that grows as expiry nears.

    ``load_seconds``: how long the last load of this entity took (XFetch's "delta");
    ``pttl``: the key's remaining milliseconds.
    """
    if load_seconds is None or pttl is None or pttl < 0:
        return False
    early_s = -load_seconds * policy.xfetch_beta * math.log(1.0 - rng.random())
    return early_s >= pttl / 1000


def refresh(client: redis.Redis, slot: Slot, job: Load[V], current: V | None, *,
            scripts: ScriptRunner, policy: CachePolicy) -> tuple[V | None, bool]:
    """Reload a still-cached value if nobody else is doing it.

    Returns ``(value, refreshed)``: the new value, or ``current`` when another reader holds
    the lock (it is refreshing) or Redis failed.
    """
    token = uuid.uuid4().hex
    try:
        pipe = client.pipeline(transaction=False)
        locked, noted, noted_all = _lock_and_note(pipe, slot, token, policy,
                                                  read_value=False).execute()
    except redis.RedisError as exc:
        job.failed(exc)
        return current, False
    if not locked:
        return current, False
    try:
        value = job.run()
        store(client, slot, job, value, noted, noted_all, scripts=scripts, policy=policy)
    finally:
        unlock(slot, token, scripts=scripts, failed=job.failed)
    return value, True
