"""Cache warming (the seed's ``warmupCache``): load rows into Redis before anyone asks.

The seed does one ``SET`` per user, so 10,000 users cost 10,000 round trips. Here rows are
read from the database a page at a time and each page is written in *one* round trip. Two ways
to do that, fastest first:

1. **One Lua script per page** (the seed's "next steps" suggest Lua scripts): a single
   ``EVALSHA`` carries the page's keys, values and TTLs, and Redis runs ``SET key value EX ttl``
   for each inside the server. Every key keeps its own TTL, so jitter still works. This beats
   a pipeline because a pipeline of 500 ``SET`` commands makes redis-py pack 500 commands and
   parse 500 ``OK`` replies in Python - measured, that was most of the time - while the
   script is one command with one reply.
2. **A transaction** (``WATCH`` the counters, ``MULTI``, the ``SET`` commands, ``EXEC``): the
   fallback where Lua is missing (fakeredis without ``lupa``, a managed Redis that forbids
   scripts). On Redis Cluster, where one script may only touch keys of one hash slot, each
   key is stored with :data:`~helpdesk_kit.cache.guard.GUARDED_SET`, all in one pipeline.

``pipelined=False`` keeps the seed's loop (plain ``SET``, no guard), so the benchmark and
lesson 04 can compare them.

**Warming races writers too.** Warming reads a page from the database; a writer updates a row
and invalidates it (``DEL`` + ``INCR gen:user:7``); then warming stores the *old* row - stale
for the whole TTL. It is the race :mod:`helpdesk_kit.cache.guard` fixes for reads, fixed the
same way: note the invalidation counters *before* reading the rows, store each key only if its
counter has not moved (and nothing if ``gen:{entity}:all`` moved: a pattern invalidation).
The ids of a page are only known after reading it, so each page is read twice: once for its
ids (then one ``MGET`` of their counters), then again for the rows to store. A row that moved
into the page between the two reads has no noted counter and is simply not warmed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import redis
from tqdm.auto import tqdm

from ..vocab import Entity
from .codec import CODECS

if TYPE_CHECKING:
    from ..db.store import HelpdeskStore
    from .core import Cache

__all__ = ["WARM_SET", "warm_tickets", "warm_users"]

log = logging.getLogger("helpdesk_kit.cache")

#: KEYS[1..n] the keys, KEYS[n+1..2n] their generation counters, KEYS[2n+1] the entity-wide
#: counter (``gen:{entity}:all``); ARGV[1..n] the JSON values; ARGV[n+1] the TTLs in seconds
#: and ARGV[n+2] the counters noted before the rows were read ("-" for none), each separated
#: by spaces (one argument instead of n saves redis-py n packings); ARGV[n+3] the noted
#: entity-wide counter ("" for none). Stores each key whose counter is still the noted one;
#: returns how many it stored.
WARM_SET = """
local n = (#KEYS - 1) / 2
if (redis.call('GET', KEYS[#KEYS]) or '') ~= ARGV[n + 3] then
  return 0
end
local seen = {}
for gen in string.gmatch(ARGV[n + 2], '%S+') do
  seen[#seen + 1] = gen
end
local i, stored = 0, 0
for ttl in string.gmatch(ARGV[n + 1], '%d+') do
  i = i + 1
  if (redis.call('GET', KEYS[n + i]) or '-') == seen[i] then
    redis.call('SET', KEYS[i], ARGV[i], 'EX', ttl)
    stored = stored + 1
  end
end
return stored
"""

#: How often the WATCH fallback retries a page whose counters moved during its transaction.
WATCH_ATTEMPTS = 3


def _store_page(cache: Cache, entity: str, rows: list[Any], seen: list[str | None],
                seen_all: str | None) -> int:
    """Write one page in one round trip, skipping each key invalidated since its counter was
    noted (``seen``; ``seen_all`` the entity-wide one); returns how many keys it stored."""
    encode = CODECS[entity][0]
    keys = [cache.keys.entity(entity, row.id) for row in rows]
    gens = [cache.keys.generation(entity, row.id) for row in rows]
    values = [encode(row) for row in rows]
    ttls = [cache.ttl_for(entity) for _ in rows]
    all_key = cache.keys.entity_generation(entity)
    if not cache.stale_guard:  # the naive cache, kept for lesson 03: plain SETs
        pipe = cache.client.pipeline(transaction=False)
        for key, value, ttl in zip(keys, values, ttls, strict=True):
            pipe.set(key, value, ex=ttl)
        pipe.execute()
        return len(keys)
    if cache.lua is not False:
        try:
            if cache.keys.cluster:
                return _guarded_sets(cache, all_key, keys, gens, values, ttls, seen, seen_all)
            stored = cache.internals.warm_set(keys=[*keys, *gens, all_key], args=[
                *values, " ".join(map(str, ttls)), " ".join(s or "-" for s in seen),
                seen_all or ""])
            cache.lua = True
            return int(stored)
        except (redis.ResponseError, ImportError) as exc:  # ImportError: fakeredis, no lupa
            log.info("Lua scripts unavailable (%s); warming with transactions", exc)
            cache.lua = False
    return _watched_sets(cache, all_key, keys, gens, values, ttls, seen, seen_all)


def _guarded_sets(cache: Cache, all_key: str, keys: list[str], gens: list[str],
                  values: list[str], ttls: list[int], seen: list[str | None],
                  seen_all: str | None) -> int:
    """Redis Cluster: one GUARDED_SET per key (key and counter share a slot), pipelined."""
    pipe = cache.client.pipeline(transaction=False)
    for key, gen, value, ttl, noted in zip(keys, gens, values, ttls, seen, strict=True):
        cache.internals.guarded_set(keys=[key, gen], args=[noted or "", value, ttl], client=pipe)
    done = pipe.execute()
    stored = [key for key, ok in zip(keys, done, strict=True) if ok]
    if stored and cache.client.get(all_key) != seen_all:  # a pattern invalidation ran
        cache.client.delete(*stored)
        return 0
    return len(stored)


def _watched_sets(cache: Cache, all_key: str, keys: list[str], gens: list[str],
                  values: list[str], ttls: list[int], seen: list[str | None],
                  seen_all: str | None) -> int:
    """No Lua: WATCH the counters, keep the keys whose counter is unchanged, MULTI/EXEC."""
    with cache.client.pipeline() as pipe:
        for _ in range(WATCH_ATTEMPTS):
            try:
                pipe.watch(*gens, all_key)
                *now, now_all = pipe.mget(*gens, all_key)
                if now_all != seen_all:
                    return 0
                pipe.multi()
                stored = 0
                for key, value, ttl, noted, current in zip(keys, values, ttls, seen, now,
                                                           strict=True):
                    if current == noted:
                        pipe.set(key, value, ex=ttl)
                        stored += 1
                pipe.execute()
                return stored
            except redis.WatchError:  # a counter moved meanwhile: look again
                continue
    log.info("not warming a page of %d keys: invalidated again and again", len(keys))
    return 0


def _warm(cache: Cache, entity: str, fetch_page: Callable[[int, int], list[Any]],
          *, batch_size: int, pipelined: bool, progress: bool, total: int | None,
          limit: int | None) -> int:
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    done = stored = 0
    with tqdm(total=total if limit is None else min(limit, total or limit),
              desc=f"warming {entity}s", unit=entity, disable=not progress) as bar:
        while limit is None or done < limit:
            size = batch_size if limit is None else min(batch_size, limit - done)
            page = fetch_page(size, done)
            if not page:
                break
            if pipelined:
                seen: dict[Any, str | None] = {}
                rows, seen_all = page, None
                if cache.stale_guard:  # note the counters, then read the rows again
                    seen, seen_all = _note_counters(cache, entity, page)
                    rows = [row for row in fetch_page(size, done) if row.id in seen]
                stored += _store_page(cache, entity, rows, [seen.get(r.id) for r in rows],
                                      seen_all)
            else:  # the seed's loop: one SET, one round trip, per row
                for row in page:
                    cache.put(entity, row.id, row)
                stored += len(page)
            done += len(page)
            bar.update(len(page))
            if len(page) < size:
                break
    return stored


def _note_counters(cache: Cache, entity: str, page: list[Any]
                   ) -> tuple[dict[Any, str | None], str | None]:
    """One MGET: each row's invalidation counter by id, and the entity-wide counter.
    (On Redis Cluster the counters live in many slots: one pipeline of GETs instead.)"""
    ids = [row.id for row in page]
    counters = [*[cache.keys.generation(entity, i) for i in ids],
                cache.keys.entity_generation(entity)]
    if cache.keys.cluster:
        pipe = cache.client.pipeline(transaction=False)
        for counter in counters:
            pipe.get(counter)
        *noted, seen_all = pipe.execute()
    else:
        *noted, seen_all = cache.client.mget(counters)
    return dict(zip(ids, noted, strict=True)), seen_all


def warm_users(cache: Cache, store: HelpdeskStore, *, active_only: bool = True,
               limit: int | None = None, batch_size: int = 500, pipelined: bool = True,
               progress: bool = True) -> int:
    """Cache the (active) users, ``batch_size`` per round trip; returns how many it stored.

    Logs the seed's line ``Cache precargado: N usuarios`` on ``helpdesk_kit.cache``.
    """
    total = None if active_only else store.counts()["users"]
    count = _warm(cache, Entity.USER,
                  lambda size, offset: store.list_users(active_only=active_only, limit=size,
                                                        offset=offset),
                  batch_size=batch_size, pipelined=pipelined, progress=progress, total=total,
                  limit=limit)
    log.info("Cache precargado: %d usuarios", count)
    return count


def warm_tickets(cache: Cache, store: HelpdeskStore, *, limit: int | None = 1000,
                 batch_size: int = 500, pipelined: bool = True, progress: bool = True) -> int:
    """Cache the ``limit`` most recently active tickets (all if None); returns how many."""
    total = store.counts()["tickets"]
    count = _warm(cache, Entity.TICKET,
                  lambda size, offset: store.list_tickets(limit=size, offset=offset),
                  batch_size=batch_size, pipelined=pipelined, progress=progress, total=total,
                  limit=limit)
    log.info("Cache precargado: %d tickets", count)
    return count
