"""A cache's counters, published in Redis so that someone else can read its hit rate.

A :class:`~helpdesk_kit.cache.Cache` counts hits in its own process: no extra round trip per
read. In a class, though, the instructor's dashboard runs in another process (and on another
machine), and INFO's ``keyspace_hits`` mixes every learner together. With
``HELPDESK_PUBLISH_STATS=1`` (the class's env files set it) each cache writes its totals to
a hash of its own under its prefix, ``cache:stats:<id>`` (see
:attr:`~helpdesk_kit.keys.KeySchema.cache_stats`); the dashboard adds up a learner's hashes.

- **Totals, with HSET**, one hash per cache object: writing the same totals twice (a retry
  after a lost reply) changes nothing, and two processes under one prefix (a notebook and a
  worker) never overwrite each other. ``reset_stats()`` shows as totals going down, never as
  a negative count.
- **From one background thread**, every ``every_s`` seconds and only when something changed:
  a read never waits for a publish, and a Redis that stopped answering costs that thread a
  timeout, not a frozen notebook. What is left is sent when the cache is closed or the
  process exits, so a learner's last reads count too.
- The hash expires a day after its last write; a publish that fails is tried again at the
  next tick.
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
import uuid
import weakref
from dataclasses import fields

import redis

from .stats import CacheStats, StatsBook

__all__ = ["PUBLISHED", "StatsPublisher", "publish_all"]

log = logging.getLogger("helpdesk_kit.cache")

#: The counters written to the hash (each a field of the same name).
PUBLISHED = tuple(f.name for f in fields(CacheStats))
#: How often the background thread looks for a publisher that is due.
TICK_S = 0.5


class StatsPublisher:
    """Writes ``book``'s totals to the hash ``base:<id>`` when they changed (see the module).

    It registers itself with the module's background thread; :meth:`publish` sends now
    (``close()``, a test).
    """

    def __init__(self, client: redis.Redis, base: str, book: StatsBook, *,
                 every_s: float = 5.0, ttl_s: int = 86_400) -> None:
        self.client = client
        self.book = book
        self.key = f"{base}:{uuid.uuid4().hex[:12]}"
        self.every_s = every_s
        self.ttl_s = ttl_s
        self._sent: CacheStats | None = None
        self._due = time.monotonic() + every_s
        self._sending = threading.Lock()
        _register(self)

    def due(self, now: float) -> bool:
        return now >= self._due

    def publish(self) -> bool:
        """Send the totals now if they changed; False if Redis failed (tried again later)."""
        with self._sending:  # the thread and a close() never send at once
            self._due = time.monotonic() + self.every_s
            total = self.book.total()
            if total == self._sent:
                return True
            pipe = self.client.pipeline(transaction=True)
            pipe.hset(self.key, mapping={**{name: getattr(total, name) for name in PUBLISHED},
                                         "updated_at": f"{time.time():.0f}"})
            pipe.expire(self.key, self.ttl_s)
            try:
                pipe.execute()
            except redis.RedisError as exc:
                log.debug("publishing the cache's counters failed: %s", exc)
                return False
            self._sent = total
            return True


# --- the one background thread -------------------------------------------------------------
_publishers: weakref.WeakSet[StatsPublisher] = weakref.WeakSet()
_started = threading.Lock()
_thread: threading.Thread | None = None


def _register(publisher: StatsPublisher) -> None:
    global _thread
    with _started:
        _publishers.add(publisher)
        if _thread is None:
            _thread = threading.Thread(target=_loop, name="helpdesk-kit-stats", daemon=True)
            _thread.start()


def _each() -> list[StatsPublisher]:
    with _started:
        return list(_publishers)


def _loop() -> None:
    while True:
        time.sleep(TICK_S)
        now = time.monotonic()
        for publisher in _each():
            if publisher.due(now):
                try:
                    publisher.publish()
                except Exception:  # a publish must never end the thread of every cache
                    log.exception("publishing a cache's counters failed")


@atexit.register
def publish_all(client: object | None = None) -> None:
    """Send what every publisher (of ``client``, if given) has not sent yet: a lesson's
    ``close()`` and the process's exit call it, so the last reads count too."""
    for publisher in _each():
        if client is None or publisher.client is client:
            try:
                publisher.publish()
            except Exception:  # closing anyway: the next tick or nobody will send it
                log.debug("could not publish a cache's counters", exc_info=True)
