"""Cache-aside in front of the database: the seed's ``cacheUser`` / ``getCachedUser`` / ...

The read flow is the seed's: try Redis; on a miss ask the database (a *loader* callable),
store the row with ``SET key value EX ttl``, return it. Around that flow this module adds what
a real deployment needs, each piece small enough to read in class:

- **JSON values** (:mod:`helpdesk_kit.codec`); a corrupt or foreign value is a miss: counted,
  deleted and reloaded, never an exception for the caller.
- **Negative caching**: a row that does not exist is cached as ``null`` for ``negative_ttl``
  seconds; :meth:`Cache.forget_missing` (or any invalidation) clears it when the row is created.
- **TTL** per entity (default ``Settings.cache_ttl``, 300 s), optional random **jitter** so
  keys warmed together do not expire together, optional **XFetch** early refresh: a hit may
  reload a key shortly before it expires, more likely the closer it is and the slower the load.
- **Stampede protection**: of N readers missing one key, one loads (holding a short lock),
  the others poll briefly and read what it stored (:mod:`helpdesk_kit.cache.guard`).
- **Stale-read guard**: a generation counter per key, checked atomically on set
  (:mod:`helpdesk_kit.cache.guard` explains the race and the fix).
- **Ticket lists** (the seed's "Listar 100 tickets"): one key per filter and page, made stale
  by one counter bump on any ticket change (:mod:`helpdesk_kit.cache.lists`).
- **Warming** one page per round trip, with a Lua script, guarded against racing writes
  like reads (:mod:`helpdesk_kit.cache.warm`).
- **Fail-open reads**: Redis down or slow -> the read goes to the database, the error is
  counted, the caller gets data; redis-py reconnects by itself when Redis is back.
  A failed **invalidation** is never silent: it raises
  :class:`~helpdesk_kit.errors.InvalidationError` (after a retry or two).
- **Accounting** in-process (:mod:`helpdesk_kit.cache_stats`): no extra round trip on a hit.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, TypeVar

import redis

from ..backends import acl
from ..backends.raw import bytes_reply
from ..config import MAX_VALUE_BYTES, Settings
from ..keys import KeySchema
from ..models import Ticket, User
from ..vocab import Entity
from . import guard, invalidation, lists, warm
from .codec import CODECS
from .internals import CacheInternals
from .lists import LIST
from .stats import CacheStats

if TYPE_CHECKING:  # warming reads the store; the cache itself never needs the database
    from ..db.store import HelpdeskStore

__all__ = ["Cache", "CacheStats"]

log = logging.getLogger("helpdesk_kit.cache")
T = TypeVar("T")


class Cache:
    """One cache object per app: the seed's per-entity operations plus cache-aside reads.

    ``ttls`` overrides ``ttl`` per entity (``{"user": 3600}``); ``jitter`` adds up to that
    fraction of the TTL at random (0.1 -> up to +10%); ``early_refresh`` turns XFetch on
    (``xfetch_beta`` > 1 refreshes earlier). ``stale_guard=False`` stores with a plain
    ``SET`` - the naive cache-aside, kept so lesson 03 can show the race it loses.
    After a Redis failure, reads skip Redis for ``retry_after`` seconds (so a dead server
    costs one timeout per ``retry_after``, not one per read), then try it again.
    ``lua`` says whether warming may use a Lua script: None finds out on first use.
    """

    def __init__(self, client: redis.Redis, keys: KeySchema | None = None, *, ttl: int = 300,
                 ttls: dict[str, int] | None = None, negative_ttl: int = 30,
                 jitter: float = 0.0, early_refresh: bool = False, xfetch_beta: float = 1.0,
                 lock_timeout: float = 2.0, lock_poll: float = 0.005,
                 generation_ttl: int = 3600, invalidation_retries: int = 2,
                 stale_guard: bool = True, retry_after: float = 1.0,
                 rng: random.Random | None = None, lua: bool | None = None,
                 max_value_bytes: int = MAX_VALUE_BYTES) -> None:
        if ttl <= 0 or negative_ttl <= 0 or not 0 <= jitter <= 1:
            raise ValueError("ttl and negative_ttl must be positive, jitter within 0..1")
        self.client = client
        self.keys = keys or KeySchema()
        self.ttl, self.ttls, self.negative_ttl, self.jitter = ttl, dict(ttls or {}), \
            negative_ttl, jitter
        self.early_refresh, self.xfetch_beta = early_refresh, xfetch_beta
        self.lock_timeout, self.lock_poll = lock_timeout, lock_poll
        self.generation_ttl, self.invalidation_retries = generation_ttl, invalidation_retries
        self.stale_guard, self.retry_after = stale_guard, retry_after
        self.rng = rng or random.Random()
        #: What the guard, lists, warming and invalidation share with this cache.
        self.internals = CacheInternals(client, retry_after, max_value_bytes)
        self.lua = lua

    @classmethod
    def from_settings(cls, client: redis.Redis, settings: Settings, **options: Any) -> Cache:
        """A cache with the settings' key prefix and TTL (``HELPDESK_CACHE_TTL``)."""
        options.setdefault("max_value_bytes", settings.max_value_bytes)
        return cls(client, KeySchema(prefix=settings.key_prefix), ttl=settings.cache_ttl,
                   **options)

    def __repr__(self) -> str:
        return f"Cache(prefix={self.keys.prefix!r}, ttl={self.ttl}, jitter={self.jitter})"

    def ttl_for(self, entity: str) -> int:
        """The TTL for a new value of ``entity``: its base TTL plus random jitter."""
        base = self.ttls.get(entity, self.ttl)
        return base + self.rng.randint(0, int(base * self.jitter)) if self.jitter else base

    # --- the seed's per-entity operations ----------------------------------------------
    def cache_user(self, user: User) -> None:
        self.put(Entity.USER, user.id, user)

    def get_cached_user(self, user_id: int) -> User | None:
        return self.get_cached(Entity.USER, user_id)

    def invalidate_user(self, user_id: int) -> None:
        self.invalidate(Entity.USER, user_id)

    def cache_ticket(self, ticket: Ticket) -> None:
        self.put(Entity.TICKET, ticket.id, ticket)

    def get_cached_ticket(self, ticket_id: int) -> Ticket | None:
        return self.get_cached(Entity.TICKET, ticket_id)

    def invalidate_ticket(self, ticket_id: int) -> None:
        """Delete ``ticket:{id}`` and make every cached ticket list stale."""
        self.invalidate_tickets([ticket_id])

    def get_user(self, user_id: int, loader: Callable[[], User | None]) -> User | None:
        """Cache-aside read of a user; ``loader`` is e.g. ``lambda: store.get_user(7)``."""
        return self.get_or_load(Entity.USER, user_id, loader)

    def get_ticket(self, ticket_id: int, loader: Callable[[], Ticket | None]) -> Ticket | None:
        """Cache-aside read of a ticket (the seed's ``obtenerTicket`` flow)."""
        return self.get_or_load(Entity.TICKET, ticket_id, loader)

    # --- generic operations ------------------------------------------------------------
    def put(self, entity: str, ident: object, value: Any, ttl: int | None = None) -> None:
        """``SET {entity}:{id} <json> EX ttl`` (the seed's ``cacheUser``); Redis errors raise.

        ``ttl`` (seconds) overrides the entity's TTL and jitter for this one value.
        """
        self._set(entity, self.keys.entity(entity, ident), value, ttl)

    def get_cached(self, entity: str, ident: object) -> Any:
        """The cached value or None (the seed's ``getCachedUser``); never asks the database."""
        key = self.keys.entity(entity, ident)
        return self._read_cached(entity, key, lambda: bytes_reply(self.client, "GET", key))

    # --- the seed's optional sessions (session:{id}) -----------------------------------
    def cache_session(self, session_id: str, data: dict[str, Any], ttl: int | None = None
                      ) -> None:
        """``SET session:{id} <json> EX ttl`` (default: the ``"session"`` TTL)."""
        if not isinstance(data, dict):
            raise TypeError(f"session data must be a dict, not {type(data).__name__}")
        self._set(Entity.SESSION, self._session_key(session_id), data, ttl)

    def get_cached_session(self, session_id: str, ttl: int | None = None
                           ) -> dict[str, Any] | None:
        """The session, its expiry pushed back to ``ttl`` (``GETEX ... EX``): a cached row
        must expire to pick up changes, a session lives as long as its user is active.
        None if there is none (or Redis is down: counted, like any read)."""
        key, ex = self._session_key(session_id), self._ttl_or_default(Entity.SESSION, ttl)
        return self._read_cached(Entity.SESSION, key,
                                 lambda: bytes_reply(self.client, "GETEX", key, "EX", ex))

    def invalidate_session(self, session_id: str) -> None:
        """``DEL session:{id}`` (log out); raises InvalidationError if Redis refuses."""
        key = self._session_key(session_id)
        self._invalidating(key, lambda p: p.delete(key))

    def _session_key(self, session_id: str) -> str:
        if not isinstance(session_id, str) or not session_id:
            raise ValueError(f"a session id is a non-empty string, not {session_id!r}")
        return self.keys.session(session_id)

    def _set(self, entity: str, key: str, value: Any, ttl: int | None) -> None:
        encode = CODECS[entity][0]
        self.client.set(key, encode(value), ex=self._ttl_or_default(entity, ttl))

    def _ttl_or_default(self, entity: str, ttl: int | None) -> int:
        if ttl is None:
            return self.ttl_for(entity)
        if isinstance(ttl, bool) or not isinstance(ttl, int) or ttl <= 0:
            raise ValueError(f"ttl must be a positive number of seconds, not {ttl!r}")
        return ttl

    def _read_cached(self, entity: str, key: str, read: Callable[[], bytes | None]) -> Any:
        if self.internals.resting():
            return self.internals.miss(entity, None)
        try:
            raw = read()
        except redis.RedisError as exc:
            self.internals.redis_failed(entity, exc)
            return self.internals.miss(entity, None)
        if raw is not None:
            found, value = self.internals.decode(entity, key, raw)
            if found:
                self.internals.stats.count(entity, "hits")
                return value
        self.internals.stats.count(entity, "misses")
        return None

    def get_or_load(self, entity: str, ident: object, loader: Callable[[], T | None]) -> T | None:
        """Cache-aside: the cached value, else ``loader()`` stored for next time.

        ``loader`` returns the row or None (no such row: cached as missing for
        ``negative_ttl``). Exceptions from ``loader`` reach the caller; Redis errors never do.
        """
        key = self.keys.entity(entity, ident)
        if self.internals.resting():
            return self.internals.miss(entity, self.internals.load(entity, loader))
        try:
            if self.early_refresh:
                pipe = self.client.pipeline(transaction=False)
                raw, pttl = bytes_reply(pipe, "GET", key).pttl(key).execute()
            else:
                raw = bytes_reply(self.client, "GET", key)
        except redis.RedisError as exc:
            self.internals.redis_failed(entity, exc)
            return self.internals.miss(entity, self.internals.load(entity, loader))
        if raw is not None:
            found, value = self.internals.decode(entity, key, raw)
            if found:
                if self.early_refresh and guard.xfetch_due(self, entity, pttl):
                    value = guard.refresh(self, entity, ident, key, loader, value)
                self.internals.stats.count(entity, "hits")
                return value
        value, from_cache = guard.load_once(self, entity, ident, key, loader)
        self.internals.stats.count(entity, "hits" if from_cache else "misses")
        return value

    def forget_missing(self, entity: str, ident: object) -> None:
        """Call after creating a row: clears a cached "missing" (and lists, for tickets)."""
        if entity == Entity.TICKET:
            self.invalidate_tickets([ident])  # type: ignore[list-item]
        else:
            self.invalidate(entity, ident)

    # --- the seed's "Listar 100 tickets" -----------------------------------------------
    def get_ticket_list(self, loader: Callable[[], list[Ticket]], **filters: Any
                        ) -> list[Ticket]:
        """A cached page of tickets; filters: ``status``, ``priority``, ``owner_id``,
        ``limit`` (100), ``offset`` (0). See :func:`helpdesk_kit.cache.lists.get_ticket_list`."""
        return lists.get_ticket_list(self, loader, **filters)

    # --- invalidation ------------------------------------------------------------------
    def invalidate(self, entity: str, ident: object) -> None:
        """``DEL {entity}:{id}`` and bump its generation, right after the write committed."""
        key, gen = self.keys.entity(entity, ident), self.keys.generation(entity, ident)
        self._invalidating(f"{key}", lambda p: p.delete(key).incr(gen).expire(
            gen, self.generation_ttl))

    def invalidate_tickets(self, ids: Iterable[int]) -> None:
        """Invalidate many tickets and every cached ticket list, in one MULTI/EXEC."""
        ids = list(ids)

        def build(pipe: Any) -> None:
            for ident in ids:
                gen = self.keys.generation(Entity.TICKET, ident)
                pipe.delete(self.keys.ticket(ident)).incr(gen).expire(gen, self.generation_ttl)
            pipe.incr(self.keys.generation(LIST))

        self._invalidating(f"{len(ids)} ticket(s) and the ticket lists", build)

    def invalidate_pattern(self, entity: str) -> int:
        """Delete every ``{entity}:*`` key (SCAN, never KEYS); returns how many.
        See :func:`helpdesk_kit.invalidation.invalidate_pattern`."""
        return invalidation.invalidate_pattern(self, entity)

    def flush_all(self) -> None:
        """FLUSHDB, the seed's counter-example: *every* key in the database goes (other prefixes,
        the queue...), every reader hits the database. A class's learner may not (it raises)."""
        with acl.explained(self.client, f"delete yours under {self.keys.prefix!r} by SCAN"):
            self.client.flushdb()
        log.warning("FLUSHDB: every key in this Redis database is gone")

    # --- warming (the seed's warmupCache) ----------------------------------------------
    def warm_users(self, store: HelpdeskStore, **options: Any) -> int:
        """Load users into the cache; see :func:`helpdesk_kit.warm.warm_users`."""
        return warm.warm_users(self, store, **options)

    def warm_tickets(self, store: HelpdeskStore, **options: Any) -> int:
        """Load recent tickets; see :func:`helpdesk_kit.warm.warm_tickets`."""
        return warm.warm_tickets(self, store, **options)

    # --- accounting --------------------------------------------------------------------
    def stats(self) -> dict[str, CacheStats]:
        """Counters per entity (``"user"``, ``"ticket"``, ``"tickets"`` for lists...)."""
        return self.internals.stats.snapshot()

    def total_stats(self) -> CacheStats:
        return self.internals.stats.total()

    def reset_stats(self) -> None:
        self.internals.stats.reset()

    def _invalidating(self, what: str, build: Callable[[Any], Any]) -> None:
        invalidation.run(self, what, build)
