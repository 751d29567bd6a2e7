"""The caches a team would use instead of the kit's, on the same redis-server, as their users
configure them (all in the ``bench`` extra):

- **cashews** (async): ``cache.get()``, and its client-side mode (an in-process copy kept
  fresh by the server, like the kit's near cache);
- **aiocache** (async): ``RedisCache.get()`` with its default JSON serializer;
- **dogpile.cache** (sync): a region on its Redis backend, ``get_or_create`` (the
  cache-aside call, like ``Cache.get_ticket``), values as JSON (dogpile pickles by default;
  the kit never unpickles what it reads), ``expiration_time`` 300 s like the kit's TTL, and
  its stampede answer: ``distributed_lock=True``, a Redis lock per key that one reader holds
  while the others wait (its default ``lock_sleep`` is 0.1 s between tries).

Each factory returns a reader (``per_call(calls) -> seconds a call``) or raises
``ImportError`` when the library is missing: the row then says "not run" and why.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

from bench import HOST

__all__ = ["AsyncReads", "aiocache_reads", "cashews_reads", "dogpile_region"]

#: The kit's default TTL, given to the peers too.
TTL_S = 300


class AsyncReads:
    """An async cache's ``get`` timed inside its own event loop (one per peer)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, get: Callable[[], Awaitable[Any]],
                 close: Callable[[], Awaitable[Any]]) -> None:
        self.loop, self.get, self._close = loop, get, close
        self.loop.run_until_complete(self.get())  # a client-side copy fills on the first read

    def per_call(self, calls: int) -> float:
        async def reads() -> float:
            start = time.perf_counter()
            for _ in range(calls):
                await self.get()
            return (time.perf_counter() - start) / calls

        return self.loop.run_until_complete(reads())

    def close(self) -> None:
        self.loop.run_until_complete(self._close())
        self.loop.close()


def cashews_reads(port: int, key: str, value: dict[str, Any], client_side: bool) -> AsyncReads:
    from cashews import Cache as CashewsCache

    loop = asyncio.new_event_loop()
    cache = CashewsCache()
    cache.setup(f"redis://{HOST}:{port}/0", client_side=client_side)
    loop.run_until_complete(cache.set(key, value, expire=TTL_S))
    return AsyncReads(loop, lambda: cache.get(key), cache.close)


def aiocache_reads(port: int, key: str, value: dict[str, Any]) -> AsyncReads:
    from aiocache import RedisCache

    loop = asyncio.new_event_loop()
    cache = RedisCache(endpoint=HOST, port=port)  # JsonSerializer is its default
    loop.run_until_complete(cache.set(key, value, ttl=TTL_S))
    return AsyncReads(loop, lambda: cache.get(key), cache.close)


def dogpile_region(port: int) -> Any:
    """A dogpile.cache region on the Redis backend, JSON values, its distributed lock on."""
    from dogpile.cache import make_region

    return make_region(
        serializer=lambda value: json.dumps(value).encode(), deserializer=json.loads,
    ).configure("dogpile.cache.redis", expiration_time=TTL_S, arguments={
        "host": HOST, "port": port, "redis_expiration_time": TTL_S + 30,
        "distributed_lock": True, "thread_local_lock": False})
