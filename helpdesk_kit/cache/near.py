"""The near cache: hot rows kept inside this process (L1), in front of Redis (L2).

A Redis hit pays a network round trip; a dict lookup in the process does not. The hard part
is the copy going stale when *another* process writes. Redis tells us: with ``CLIENT TRACKING``
in broadcast mode it names every key under our prefixes that changes, anywhere
(:mod:`~helpdesk_kit.cache.tracking`), and L1 drops it; a value read while its key changed is
never kept (:mod:`~helpdesk_kit.cache.l1`).

**Why the ``gen:`` prefixes are tracked too.** Invalidating a row that is not in Redis is a
``DEL`` of nothing (no message) plus ``INCR gen:ticket:7``, the stale-set guard's counter
(:mod:`~helpdesk_kit.cache.guard`). That counter's message tells a reader loading ticket 7
right now that the row it holds is already old.

**Fail-safe.** When the tracking connection drops (``CLIENT KILL``, a restart, a closed client)
L1 is emptied and stays off - every read goes to Redis - until a read finds tracking back (it
tries again at most every ``retry_tracking`` seconds). fakeredis, a Redis without tracking and
a Cluster keep L1 off, with the reason in :attr:`NearCache.reason` (``doctor`` shows it).

Rows (user, ticket, and "no such row") go through L1; sessions (their TTL slides on each read)
and list pages (fresh by a counter, not by their key) go to Redis as before. An entry never
outlives its Redis key's TTL. :meth:`NearCache.stats` counts every read wherever it was
answered; :meth:`NearCache.near_stats` counts L1's part apart.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import redis

from ..backends import acl
from ..backends.raw import bytes_reply
from ..config import Settings
from ..keys import KeySchema
from ..vocab import Entity
from . import guard
from .core import Cache
from .l1 import LocalCopy, NearStats
from .stats import CacheStats
from .tracking import CHANNEL, Tracker

__all__ = ["NEAR_ENTITIES", "NearCache", "NearStats", "near_cache_report",
           "tracking_unavailable"]

log = logging.getLogger("helpdesk_kit.cache")
T = TypeVar("T")
#: What L1 holds: single rows, each invalidated by its own key.
NEAR_ENTITIES = frozenset({Entity.USER, Entity.TICKET})
#: Called from the tracking thread with the key names Redis sent (None: every key) and the
#: ``time.monotonic()`` at which L1 had dropped them (lesson 16 draws these).
Listener = Callable[[list[str] | None, float], None]


def tracking_unavailable(client: Any, keys: KeySchema) -> str | None:
    """Why a near cache could not be kept fresh on this client, before trying (None: try)."""
    if type(client).__module__.startswith("fakeredis"):
        return "fakeredis has no CLIENT TRACKING, so every read goes to Redis"
    if keys.cluster or not hasattr(client, "connection_pool"):
        return "on a Redis Cluster each node tracks only its own keys; L1 stays off"
    if acl.channel_denied(client, CHANNEL):
        return (f"your Redis user may not subscribe to {CHANNEL}, where CLIENT TRACKING sends "
                "its invalidations; L1 stays off")
    return None


def near_cache_report(client: Any, keys: KeySchema, settings: Settings) -> str:
    """One line for ``doctor``: is the near cache on, and if not, why (tries tracking once)."""
    probe = NearCache(client, keys, size=settings.near_cache_size)
    try:
        works = probe.wait_active(2.0)
        reason = probe.reason.removeprefix("off: ")
    finally:
        probe.close()
    if not settings.near_cache:
        could = "this Redis can keep one fresh" if works else f"and it would stay off: {reason}"
        return f"off: HELPDESK_NEAR_CACHE is not set ({could})"
    if works:
        return (f"on: up to {settings.near_cache_size:,} rows in each process, kept fresh by "
                "CLIENT TRACKING")
    return f"off (HELPDESK_NEAR_CACHE=1, but {reason})"


class NearCache(Cache):
    """A :class:`Cache` with an in-process LRU of up to ``size`` rows in front of Redis.

    Takes every :class:`Cache` option, and: ``ping_every`` (s) how often an idle tracking
    connection is checked, ``lease`` (s) the silence after which it counts as dropped,
    ``retry_tracking`` (s) how often reads may try to start tracking again, ``start=False``
    to leave L1 off until :meth:`start`. :meth:`close` stops it (so does closing the client).
    """

    def __init__(self, client: redis.Redis, keys: KeySchema | None = None, *,
                 size: int = 10_000, ping_every: float = 0.5, lease: float = 2.0,
                 retry_tracking: float = 1.0, start: bool = True, **options: Any) -> None:
        super().__init__(client, keys, **options)
        self.local = LocalCopy(size)
        self.retry_tracking, self._retry_at = retry_tracking, math.inf
        #: Hooks called on every invalidation message (see :data:`Listener`).
        self.listeners: list[Listener] = []
        p = self.keys.prefix
        self.tracker = Tracker(client, [f"{p}{g}{e}:" for e in sorted(NEAR_ENTITIES)
                                        for g in ("", "gen:")],
                               on_up=self._up, on_keys=self._heard, on_down=self._down,
                               ping_every=ping_every, lease=lease, name=f"near-cache-{p}")
        unavailable = tracking_unavailable(client, self.keys)
        self.tracker.supported = unavailable is None
        #: Why L1 is on or off, in words.
        self.reason = f"off: {unavailable or 'tracking not started'}"
        if start:
            self.start()

    @classmethod
    def from_settings(cls, client: redis.Redis, settings: Settings, **options: Any
                      ) -> NearCache:
        """As :meth:`Cache.from_settings`, L1 holding ``HELPDESK_NEAR_CACHE_SIZE`` rows."""
        options.setdefault("size", settings.near_cache_size)
        options.setdefault("max_value_bytes", settings.max_value_bytes)
        return cls(client, KeySchema(prefix=settings.key_prefix), ttl=settings.cache_ttl,
                   **options)

    def __repr__(self) -> str:
        return f"NearCache(prefix={self.keys.prefix!r}, size={self.local.size}, {self.reason})"

    # --- on and off -------------------------------------------------------------------------
    @property
    def active(self) -> bool:
        """True while L1 answers reads: tracking is on and was heard from lately."""
        return self.tracker.active

    def start(self) -> None:
        """Start tracking in the background (no-op if it runs, is refused or closed)."""
        self._retry_at = time.monotonic() + self.retry_tracking
        self.tracker.start()

    def wait_active(self, timeout: float = 5.0) -> bool:
        """Wait until L1 is on, or tracking failed; returns :attr:`active`."""
        return self.tracker.wait(timeout)

    def close(self) -> None:
        """Stop tracking for good: L1 empty and off, every read goes to Redis."""
        self.tracker.close()
        self._down("closed")

    def _up(self, client_id: int) -> None:
        self.local.flush()  # every change from now on is heard: start empty
        self.reason = f"on: CLIENT TRACKING BCAST, client {client_id} hears {CHANNEL}"

    def _down(self, reason: str) -> None:
        self.local.flush()  # an invalidation may have been lost with the connection
        final = not self.tracker.supported or reason == "closed"
        self._retry_at = math.inf if final else time.monotonic() + self.retry_tracking
        self.reason = f"off: {reason}"

    # --- reads -------------------------------------------------------------------------------
    def get_cached(self, entity: str, ident: object) -> Any:
        if entity not in NEAR_ENTITIES:
            return super().get_cached(entity, ident)
        return self._near_read(entity, ident, None)

    def get_or_load(self, entity: str, ident: object, loader: Callable[[], T | None]
                    ) -> T | None:
        if entity not in NEAR_ENTITIES:
            return super().get_or_load(entity, ident, loader)
        return self._near_read(entity, ident, loader)

    def _near_read(self, entity: str, ident: object, loader: Callable[[], Any] | None) -> Any:
        key, serving = self.keys.entity(entity, ident), self.tracker.active
        found, value, reading = self.local.lookup(key, entity, serving)
        if found:
            return value
        if not serving and time.monotonic() >= self._retry_at:
            self.start()  # off: try to get tracking back, at most every retry_tracking s
        keep_ms = None
        try:
            value, keep_ms = self._from_redis(entity, ident, key, loader)
        finally:  # also when the loader raised: the read is over either way
            if reading is not None:
                self.local.settle(reading, value, keep_ms)
        return value

    def _from_redis(self, entity: str, ident: object, key: str,
                    loader: Callable[[], Any] | None) -> tuple[Any, int | None]:
        """:meth:`Cache.get_or_load` (``get_cached`` without a loader) that also reads the
        key's PTTL in the same round trip: ``(value, ms it may stay in L1, or None)``."""
        if self.internals.resting():
            return self._without_redis(entity, loader)
        try:
            pipe = self.client.pipeline(transaction=False)
            raw, pttl = bytes_reply(pipe, "GET", key).pttl(key).execute()
        except redis.RedisError as exc:
            self.internals.redis_failed(entity, exc)
            return self._without_redis(entity, loader)
        base_ms = 1000 * self.ttls.get(entity, self.ttl)
        if raw is not None:
            found, value = self.internals.decode(entity, key, raw)
            if found:
                if loader and self.early_refresh and guard.xfetch_due(self, entity, pttl):
                    value = guard.refresh(self, entity, ident, key, loader, value)
                self.internals.count(entity, "hits")
                if pttl == -1:  # no TTL (someone's plain SET): at most the entity's TTL
                    return value, base_ms
                return value, min(pttl, base_ms)  # -2: gone since the GET, not kept
        if loader is None:
            self.internals.count(entity, "misses")
            return None, None
        value, from_cache = guard.load_once(self, entity, ident, key, loader)
        self.internals.count(entity, "hits" if from_cache else "misses")
        return value, base_ms if value is not None else 1000 * self.negative_ttl

    def _without_redis(self, entity: str, loader: Callable[[], Any] | None
                       ) -> tuple[Any, None]:
        """Redis failed or rests: the database answers (for ``get_cached``, nobody)."""
        value = None if loader is None else self.internals.load(entity, loader)
        return self.internals.miss(entity, value), None

    # --- our own writes: drop our copy now, not when the message comes back --------------
    def put(self, entity: str, ident: object, value: Any, ttl: int | None = None) -> None:
        try:
            super().put(entity, ident, value, ttl)
        finally:
            self.local.drop([self.keys.entity(entity, ident)])

    def invalidate(self, entity: str, ident: object) -> None:
        try:
            super().invalidate(entity, ident)
        finally:
            self.local.drop([self.keys.entity(entity, ident)])

    def invalidate_tickets(self, ids: Iterable[int]) -> None:
        ids = list(ids)
        try:
            super().invalidate_tickets(ids)
        finally:
            self.local.drop([self.keys.ticket(i) for i in ids])

    def invalidate_pattern(self, entity: str) -> int:
        try:
            return super().invalidate_pattern(entity)
        finally:
            self.local.drop_entity(entity, self.keys.entity(entity, ""))

    def flush_all(self) -> None:
        try:
            super().flush_all()
        finally:
            self.local.flush()

    # --- what Redis says changed -------------------------------------------------------------
    def _heard(self, names: list[bytes] | None) -> None:
        """An invalidation message: drop what its key names mean in L1 (None: everything)."""
        keys = None if names is None else [n.decode("utf-8", "surrogateescape") for n in names]
        if keys is None:
            self.local.flush()
        else:
            gen, rows = f"{self.keys.prefix}gen:", []
            for key in keys:
                if not key.startswith(gen):
                    rows.append(key)
                elif key.endswith(":all"):  # gen:ticket:all moved: a pattern invalidation
                    entity = key[len(gen):-len(":all")]
                    self.local.drop_entity(entity, self.keys.entity(entity, ""))
                else:  # gen:ticket:7 moved: whoever loads ticket:7 now holds an old row
                    rows.append(self.keys.prefix + key[len(gen):])
            self.local.drop(rows)
        at = time.monotonic()
        for listener in list(self.listeners):
            try:
                listener(keys, at)
            except Exception:  # a lesson's hook must never stop invalidation
                log.exception("a near cache listener failed")

    # --- accounting ----------------------------------------------------------------------
    def near_stats(self) -> dict[str, NearStats]:
        """L1's own counters per entity (a copy)."""
        return self.local.stats()

    def stats(self) -> dict[str, CacheStats]:
        """Every read per entity: L1's hits added to Redis' (apart in :meth:`near_stats`)."""
        merged = super().stats()
        for entity, near in self.local.stats().items():
            row = merged.setdefault(entity, CacheStats())
            row.hits += near.hits
            row.negative_hits += near.negative_hits
        return merged

    def total_stats(self) -> CacheStats:
        return sum(self.stats().values(), CacheStats())

    def reset_stats(self) -> None:
        super().reset_stats()
        self.local.reset_stats()
