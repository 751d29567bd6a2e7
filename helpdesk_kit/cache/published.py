"""A cache's counters, published in Redis so that someone else can read its hit rate.

A :class:`~helpdesk_kit.cache.Cache` counts hits in its own process: no extra round trip per
read. In a class, though, the instructor's dashboard runs in another process (and on another
machine), and INFO's ``keyspace_hits`` mixes every learner together. With
``HELPDESK_PUBLISH_STATS=1`` (the class's env files set it) each cache adds what it counted
since last time to one hash under its own prefix, ``cache:stats`` (see
:attr:`~helpdesk_kit.keys.KeySchema.cache_stats`):

- ``HINCRBY`` of the *increase*, not ``HSET`` of the total, so two processes under one
  prefix (a notebook and a worker) add up instead of overwriting each other;
- at most once every ``every_s`` seconds, carried by a read that is counted anyway, so a
  read pays one extra pipeline every few seconds, never per read;
- the key expires a day after its last write; a publish that fails (Redis down) is dropped
  and its increase goes out with the next one, so nothing is counted twice or lost.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import fields

import redis

from .stats import CacheStats, StatsBook

__all__ = ["PUBLISHED", "StatsPublisher"]

log = logging.getLogger("helpdesk_kit.cache")

#: The counters written to the hash (each a field of the same name).
PUBLISHED = tuple(f.name for f in fields(CacheStats))


class StatsPublisher:
    """Adds ``book``'s increase since the last publish to the hash ``key``.

    :meth:`maybe` is cheap (a clock read) and is what the book calls after every count;
    :meth:`publish` sends now (a lesson's ``close()``, a test).
    """

    def __init__(self, client: redis.Redis, key: str, book: StatsBook, *,
                 every_s: float = 5.0, ttl_s: int = 86_400) -> None:
        self.client, self.key, self.book = client, key, book
        self.every_s, self.ttl_s = every_s, ttl_s
        self._sent = CacheStats()
        self._due = time.monotonic() + every_s  # the first one goes out a period later
        self._sending = threading.Lock()

    def maybe(self) -> None:
        if time.monotonic() >= self._due:
            self.publish()

    def publish(self) -> bool:
        """Send the increase now; False if Redis failed (it is sent with the next one)."""
        if not self._sending.acquire(blocking=False):  # another thread is sending it
            return True
        try:
            self._due = time.monotonic() + self.every_s
            total = self.book.total()
            increase = {name: getattr(total, name) - getattr(self._sent, name)
                        for name in PUBLISHED}
            if not any(increase.values()):
                return True
            pipe = self.client.pipeline(transaction=True)
            for name, n in increase.items():
                if n:
                    pipe.hincrby(self.key, name, n)
            pipe.hset(self.key, "updated_at", f"{time.time():.0f}")
            pipe.expire(self.key, self.ttl_s)
            try:
                pipe.execute()
            except redis.RedisError as exc:
                log.debug("publishing the cache's counters failed: %s", exc)
                return False
            self._sent = total
            return True
        finally:
            self._sending.release()
