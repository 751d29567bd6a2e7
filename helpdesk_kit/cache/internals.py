"""What the cache's own modules share with :class:`~helpdesk_kit.cache.core.Cache`.

The guard, the lists, warming and invalidation each hold one idea, and all of them need the
same few things from the cache: its counters, its registered scripts, the timed load, the
decoding of a raw value, and the "Redis just failed, read from the database for a while"
state. They get those here, through ``cache.internals``, and never through ``Cache``'s
private names. Nothing outside ``helpdesk_kit.cache`` needs this module.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar

import redis

from ..config import MAX_VALUE_BYTES
from ..errors import CacheValueError
from .codec import CODECS, MISSING
from .functions import KitScripts
from .published import StatsPublisher
from .stats import StatsBook

__all__ = ["CacheInternals"]

log = logging.getLogger("helpdesk_kit.cache")
T = TypeVar("T")


class CacheInternals:
    """Counters, scripts, timed loads, decoding and the fail-open rest of one cache.

    ``retry_after``: after a Redis failure, reads skip Redis for that many seconds (so a dead
    server costs one timeout per ``retry_after``, not one per read), then try it again.
    ``max_value_bytes``: a cached value larger than this is a miss on read (and deleted), and
    a loaded value larger than this is not stored.
    """

    def __init__(self, client: redis.Redis, retry_after: float,
                 max_value_bytes: int = MAX_VALUE_BYTES) -> None:
        self.client = client
        self.retry_after = retry_after
        self.max_value_bytes = max_value_bytes
        self.stats = StatsBook()
        #: Last measured load time per entity, in seconds: XFetch's "delta".
        self.load_seconds: dict[str, float] = {}
        #: The kit's Lua scripts: FCALL of its Functions library, or EVALSHA where the
        #: server has no Functions (see :mod:`helpdesk_kit.cache.functions`).
        self.scripts = KitScripts(client)
        self.guarded_set = self.scripts.scripts["guarded_set"]
        self.release_lock = self.scripts.scripts["release_lock"]
        self.warm_set = self.scripts.scripts["warm_set"]
        self._resting_until = 0.0  # after a Redis failure, reads skip Redis until then
        #: Sends the counters to Redis when they are published (None: they are not).
        self.publisher: StatsPublisher | None = None

    def count(self, entity: str, counter: str) -> None:
        self.stats.count(entity, counter)

    def publish_stats(self, base: str, every_s: float = 5.0) -> StatsPublisher:
        """Publish the counters to a hash ``base:<id>`` from now on, in the background
        (``HELPDESK_PUBLISH_STATS``; see :mod:`helpdesk_kit.cache.published`)."""
        self.publisher = StatsPublisher(self.client, base, self.stats, every_s=every_s)
        return self.publisher

    def resting(self) -> bool:
        """True while reads skip Redis after a failure; False (and reset) once it is over."""
        if not self._resting_until:
            return False
        if time.monotonic() < self._resting_until:
            return True
        self._resting_until = 0.0
        return False

    def redis_failed(self, entity: str, exc: Exception) -> None:
        """Count the error and rest: the next reads go straight to the database.

        Except after ``OOM`` (``maxmemory`` reached under ``noeviction``): Redis answered and
        refused a *write* (the value, the load lock), but it still serves reads. Resting then
        would send every read, hits included, to the database while memory stays full.
        """
        self.count(entity, "errors")
        if self.retry_after > 0 and not isinstance(exc, redis.OutOfMemoryError):
            self._resting_until = time.monotonic() + self.retry_after
        log.warning("Redis failed (%s: %s); reading from the database", type(exc).__name__, exc)

    def miss(self, entity: str, value: T) -> T:
        self.count(entity, "misses")
        return value

    def load(self, entity: str, loader: Callable[[], T]) -> T:
        """Run ``loader`` (the database), timing it for XFetch and counting the load."""
        started = time.perf_counter()
        value = loader()
        self.load_seconds[entity] = time.perf_counter() - started
        self.count(entity, "loads")
        return value

    def text(self, entity: str, key: str, raw: bytes | str) -> str | None:
        """The raw reply as text, or None for a value too large or not UTF-8 (deleted).

        Cached values are read as bytes (:func:`~helpdesk_kit.backends.raw.bytes_reply`), so
        whatever another client wrote under our key reaches this check, not a client error.
        """
        if len(raw) > self.max_value_bytes:
            self.corrupt(entity, key, CacheValueError(
                f"cached value is {len(raw):,} bytes, over the {self.max_value_bytes:,}-byte "
                "limit (HELPDESK_MAX_VALUE_BYTES)"))
            return None
        try:
            return raw if isinstance(raw, str) else raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            self.corrupt(entity, key, CacheValueError(f"cached value is not UTF-8 text ({exc})"))
            return None

    def decode(self, entity: str, key: str, raw: bytes | str) -> tuple[bool, Any]:
        """(found, value): ``null`` is a found "missing"; a corrupt value is not found."""
        text = self.text(entity, key, raw)
        if text is None:
            return False, None
        if text == MISSING:
            self.count(entity, "negative_hits")
            return True, None
        try:
            return True, CODECS[entity][1](text)
        except CacheValueError as exc:
            self.corrupt(entity, key, exc)
            return False, None

    def corrupt(self, entity: str, key: str, exc: CacheValueError) -> None:
        """Count a value that does not decode, and delete it so the next read reloads it."""
        self.count(entity, "corrupt")
        log.warning("deleting corrupt cache value at %s: %s", key, exc)
        try:
            self.client.delete(key)
        except redis.RedisError as err:
            self.redis_failed(entity, err)
