"""The one read of a cached value: whatever Redis does, the caller gets an answer, never an error.

Every read the cache makes goes through :meth:`Reader.lookup`: ``get_or_load`` and the
cached-only reads, sessions, the near cache's read from Redis and the ticket list pages. It

1. skips Redis while it *rests* after a failure, so a dead server costs one timeout per
   ``retry_after`` seconds, not one per read (redis-py reconnects by itself when it is back);
2. sends one round trip: ``GET key``; with ``PTTL key`` in the same pipeline when the caller
   asks (XFetch, the near cache); ``GETEX key EX s`` for a session, whose expiry slides;
   ``MGET key counter`` for a list page and the list's generation counter;
3. reads the reply as bytes (:func:`~helpdesk_kit.backends.raw.bytes_reply`) and decodes it
   with the entity's :class:`~helpdesk_kit.cache.codec.Codec`: a value too large, not UTF-8
   or not the right JSON is *corrupt* - counted, deleted, and a miss; the text ``null`` is a
   cached "no such row" (negative caching), found with the value None;
4. returns a :class:`Lookup`: what it found, and whether it reached Redis at all.

It counts Redis errors, corrupt values and negative hits. Hits and misses are counted by the
caller, which knows how the read ended: after a miss, another reader's load may still answer
it from Redis.
"""

from __future__ import annotations

import logging
import time
from typing import Generic, NamedTuple, TypeVar

import redis

from ..backends.raw import bytes_reply
from ..errors import CacheValueError
from ..vocab import CacheCounter, Entity
from .codec import MISSING, Codec
from .stats import StatsBook

__all__ = ["Lookup", "Reader"]

log = logging.getLogger("helpdesk_kit.cache")
V = TypeVar("V")
V_co = TypeVar("V_co", covariant=True)  # a Lookup only hands its value out


class Lookup(NamedTuple, Generic[V_co]):
    """What one lookup found (a named tuple: made on every read, it must cost little).

    ``found``: Redis held a usable value (a cached "no such row" too: then ``value`` is None).
    ``reached``: False when Redis failed, or rests after a failure: nobody asked it, and the
    caller goes to the database without waiting for a lock. ``pttl``: the key's remaining
    milliseconds, when asked (-1: no TTL; -2: gone). ``generation``: the counter read beside
    a list page, when asked.
    """

    value: V_co | None = None
    found: bool = False
    reached: bool = True
    pttl: int | None = None
    generation: str | None = None


class Reader:
    """Reads cached values from ``client`` and never lets a Redis error reach the caller.

    ``book``: where it counts errors, corrupt values and negative hits. ``retry_after``:
    after a Redis failure, reads skip Redis for that many seconds, then try it again.
    ``max_value_bytes``: a cached value larger than this is corrupt (deleted, a miss).
    """

    def __init__(self, client: redis.Redis, book: StatsBook, *, retry_after: float,
                 max_value_bytes: int) -> None:
        self.client = client
        self.book = book
        self.retry_after = retry_after
        self.max_value_bytes = max_value_bytes
        self._resting_until = 0.0  # after a Redis failure, reads skip Redis until then

    def lookup(self, codec: Codec[V], key: str, *, pttl: bool = False,
               expire_s: int | None = None, generation_key: str | None = None) -> Lookup[V]:
        """Read ``key`` in one round trip and decode it; see the module for the steps.

        ``pttl``: read the key's PTTL too. ``expire_s``: ``GETEX`` with that expiry (a
        session). ``generation_key``: read that counter too, with ``MGET`` (a list page).
        """
        if self.resting():
            return Lookup(reached=False)
        ms = None
        generation = None
        try:
            if generation_key is not None:  # a list page and the list's counter: one MGET
                raw, counter = bytes_reply(self.client, "MGET", key, generation_key)
                if counter is not None:
                    generation = counter.decode("utf-8", "replace")  # our counter: digits
            elif pttl:  # GET and PTTL in one pipeline: one round trip
                pipe = self.client.pipeline(transaction=False)
                raw, ms = bytes_reply(pipe, "GET", key).pttl(key).execute()
            elif expire_s is not None:  # a session: read it and push its expiry back
                raw = bytes_reply(self.client, "GETEX", key, "EX", expire_s)
            else:
                raw = bytes_reply(self.client, "GET", key)
        except redis.RedisError as exc:
            self.failed(codec.entity, exc)
            return Lookup(reached=False)
        if raw is None:
            return Lookup(pttl=ms, generation=generation)
        decoded = self.decode(codec, key, raw)  # (a name first: mypy infers it from codec)
        found, value = decoded
        return Lookup(value, found, pttl=ms, generation=generation)

    def decode(self, codec: Codec[V], key: str, raw: bytes | str) -> tuple[bool, V | None]:
        """``(found, value)`` of a raw reply: ``null`` is a found "missing" (for a codec that
        caches one); a corrupt value is not found, and is deleted."""
        entity = codec.entity
        text = self._text(entity, key, raw)
        if text is None:
            return False, None
        if codec.missing and text == MISSING:
            self.book.count(entity, CacheCounter.NEGATIVE_HITS)
            return True, None
        try:
            return True, codec.decode(text)
        except CacheValueError as exc:
            self.corrupt(entity, key, exc)
            return False, None

    def _text(self, entity: Entity, key: str, raw: bytes | str) -> str | None:
        """The raw reply as text, or None for a value too large or not UTF-8 (deleted).

        Cached values are read as bytes, so whatever another client wrote under our key
        reaches this check, not a client error.
        """
        if len(raw) > self.max_value_bytes:
            self.corrupt(entity, key, CacheValueError(
                f"cached value is {len(raw):,} bytes, over the {self.max_value_bytes:,}-byte "
                "limit (HELPDESK_MAX_VALUE_BYTES)"))
            return None
        if isinstance(raw, str):
            return raw
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            self.corrupt(entity, key, CacheValueError(f"cached value is not UTF-8 text ({exc})"))
            return None

    def corrupt(self, entity: Entity, key: str, exc: CacheValueError) -> None:
        """Count a value that does not decode, and delete it so the next read reloads it."""
        self.book.count(entity, CacheCounter.CORRUPT)
        log.warning("deleting corrupt cache value at %s: %s", key, exc)
        try:
            self.client.delete(key)
        except redis.RedisError as err:
            self.failed(entity, err)

    # --- fail-open: Redis failed, so the next reads go straight to the database ---------
    def resting(self) -> bool:
        """True while reads skip Redis after a failure; False (and reset) once it is over."""
        if not self._resting_until:
            return False
        if time.monotonic() < self._resting_until:
            return True
        self._resting_until = 0.0
        return False

    def failed(self, entity: Entity, exc: Exception) -> None:
        """Count the error and rest: the next reads go straight to the database.

        Except after ``OOM`` (``maxmemory`` reached under ``noeviction``): Redis answered and
        refused a *write* (the value, the load lock), but it still serves reads. Resting then
        would send every read, hits included, to the database while memory stays full.
        """
        self.book.count(entity, CacheCounter.ERRORS)
        if self.retry_after > 0 and not isinstance(exc, redis.OutOfMemoryError):
            self._resting_until = time.monotonic() + self.retry_after
        log.warning("Redis failed (%s: %s); reading from the database", type(exc).__name__, exc)
