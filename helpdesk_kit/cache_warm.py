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
2. **A pipeline** of ``SET ... EX`` commands (``transaction=False``): the fallback where Lua
   is missing (fakeredis without ``lupa``, a managed Redis that forbids scripts) and on Redis
   Cluster, where one script may only touch keys of one hash slot.

``pipelined=False`` keeps the seed's loop, so the benchmark and lesson 04 can compare them.

Warming writes fresh rows straight from the database with plain ``SET``; it does not take the
load lock or check generations (a write racing a warm-up is fixed by that write's invalidation).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import redis
from tqdm.auto import tqdm

from .codec import CODECS

if TYPE_CHECKING:
    from .cache import Cache
    from .db.store import HelpdeskStore

__all__ = ["WARM_SET", "warm_tickets", "warm_users"]

log = logging.getLogger("helpdesk_kit.cache")

#: KEYS[1..n] the keys; ARGV[1..n] their JSON values; ARGV[n+1] their TTLs in seconds,
#: separated by spaces ("300 297 311"; one argument instead of n saves redis-py n packings).
#: Returns how many keys it stored.
WARM_SET = """
local stored = 0
for ttl in string.gmatch(ARGV[#KEYS + 1], '%d+') do
  stored = stored + 1
  redis.call('SET', KEYS[stored], ARGV[stored], 'EX', ttl)
end
return stored
"""


def _store_page(cache: Cache, keys: list[str], values: list[str], ttls: list[int]) -> None:
    """Write one page: one script call if Lua works here, else one pipeline."""
    if cache.lua is not False and not cache.keys.cluster:
        try:
            cache._warm_set(keys=keys, args=[*values, " ".join(map(str, ttls))])
            cache.lua = True
            return
        except (redis.ResponseError, ImportError) as exc:  # ImportError: fakeredis, no lupa
            log.info("Lua scripts unavailable (%s); warming with pipelines", exc)
            cache.lua = False
    pipe = cache.client.pipeline(transaction=False)
    for key, value, ttl in zip(keys, values, ttls, strict=True):
        pipe.set(key, value, ex=ttl)
    pipe.execute()


def _warm(cache: Cache, entity: str, fetch_page: Callable[[int, int], list[Any]],
          *, batch_size: int, pipelined: bool, progress: bool, total: int | None,
          limit: int | None) -> int:
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    encode, keyfor, ttl_for = CODECS[entity][0], cache.keys.entity, cache.ttl_for
    done = 0
    with tqdm(total=total if limit is None else min(limit, total or limit),
              desc=f"warming {entity}s", unit=entity, disable=not progress) as bar:
        while limit is None or done < limit:
            size = batch_size if limit is None else min(batch_size, limit - done)
            rows = fetch_page(size, done)
            if not rows:
                break
            if pipelined:
                _store_page(cache, [keyfor(entity, row.id) for row in rows],
                            [encode(row) for row in rows], [ttl_for(entity) for _ in rows])
            else:  # the seed's loop: one SET, one round trip, per row
                for row in rows:
                    cache.put(entity, row.id, row)
            done += len(rows)
            bar.update(len(rows))
            if len(rows) < size:
                break
    return done


def warm_users(cache: Cache, store: HelpdeskStore, *, active_only: bool = True,
               limit: int | None = None, batch_size: int = 500, pipelined: bool = True,
               progress: bool = True) -> int:
    """Cache the (active) users, ``batch_size`` per pipeline; returns how many.

    Logs the seed's line ``Cache precargado: N usuarios`` on ``helpdesk_kit.cache``.
    """
    total = None if active_only else store.counts()["users"]
    count = _warm(cache, "user",
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
    count = _warm(cache, "ticket",
                  lambda size, offset: store.list_tickets(limit=size, offset=offset),
                  batch_size=batch_size, pipelined=pipelined, progress=progress, total=total,
                  limit=limit)
    log.info("Cache precargado: %d tickets", count)
    return count
