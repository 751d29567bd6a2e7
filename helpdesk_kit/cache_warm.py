"""Cache warming (the seed's ``warmupCache``): load rows into Redis before anyone asks.

The seed does one ``SET`` per user, so 10,000 users cost 10,000 round trips. Here rows are
read from the database a page at a time and written with one *pipeline* per page: a page of
500 ``SET ... EX`` commands travels in one round trip. ``pipelined=False`` keeps the seed's
loop, so the benchmark and lesson 04 can compare the two.

Warming writes fresh rows straight from the database with plain ``SET``; it does not take the
load lock or check generations (a write racing a warm-up is fixed by that write's invalidation).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tqdm.auto import tqdm

from .codec import CODECS

if TYPE_CHECKING:
    from .cache import Cache
    from .db.store import HelpdeskStore

__all__ = ["warm_tickets", "warm_users"]

log = logging.getLogger("helpdesk_kit.cache")


def _warm(cache: Cache, entity: str, fetch_page: Callable[[int, int], list[Any]],
          *, batch_size: int, pipelined: bool, progress: bool, total: int | None,
          limit: int | None) -> int:
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    encode, keyfor = CODECS[entity][0], cache.keys.entity
    done = 0
    with tqdm(total=total if limit is None else min(limit, total or limit),
              desc=f"warming {entity}s", unit=entity, disable=not progress) as bar:
        while limit is None or done < limit:
            size = batch_size if limit is None else min(batch_size, limit - done)
            rows = fetch_page(size, done)
            if not rows:
                break
            if pipelined:
                pipe = cache.client.pipeline(transaction=False)
                for row in rows:
                    pipe.set(keyfor(entity, row.id), encode(row), ex=cache.ttl_for(entity))
                pipe.execute()
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
