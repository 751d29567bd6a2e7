"""Cache-aside in front of the database: the design's ``cacheUser`` / ``getCachedUser`` / ...

The read flow is the design's: try Redis; on a miss ask the database (a *loader* callable),
store the row with ``SET key value EX ttl``, return it. Around that flow the cache adds what a
real deployment needs, each piece small enough to read in class:

- **JSON values** (:mod:`helpdesk_kit.cache.codec`); a corrupt or foreign value is a miss:
  counted, deleted and reloaded, never an exception for the caller.
- **Negative caching**: a row that does not exist is cached as ``null`` for ``negative_ttl``
  seconds; :meth:`Cache.forget_missing` (or any invalidation) clears it when the row is created.
- **TTL** per entity (default ``Settings.cache_ttl``, 300 s), optional random **jitter** so
  keys warmed together do not expire together, optional **XFetch** early refresh: a hit may
  reload a key shortly before it expires, more likely the closer it is and the slower the load.
- **Stampede protection**: of N readers missing one key, one loads (holding a short lock),
  the others poll briefly and read what it stored (:mod:`helpdesk_kit.cache.loading`).
- **Stale-read guard**: a generation counter per key, checked atomically on set
  (:mod:`helpdesk_kit.cache.loading` explains the race and the fix).
- **Ticket lists** (the design's "Listar 100 tickets"): one key per filter and page, made
  stale by one counter bump on any ticket change (:mod:`helpdesk_kit.cache.lists`).
- **Warming** one page per round trip, with a Lua script, guarded against racing writes
  like reads (:mod:`helpdesk_kit.cache.warm`).
- **Fail-open reads**: Redis down or slow -> the read goes to the database, the error is
  counted, the caller gets data; redis-py reconnects by itself when Redis is back
  (:mod:`helpdesk_kit.cache.lookup`). A failed **invalidation** is never silent: it raises
  :class:`~helpdesk_kit.errors.InvalidationError` (after a retry or two).
- **Accounting** in-process (:mod:`helpdesk_kit.cache.stats`): no extra round trip on a hit.

Follow one read, ``Cache.get_ticket``, top to bottom: :meth:`Cache.get_ticket` ->
:meth:`Cache.read` (this file) -> :meth:`~helpdesk_kit.cache.lookup.Reader.lookup` (one
round trip, decoded, fail-open) -> on a miss :func:`~helpdesk_kit.cache.loading.load_once`
(the lock, the database, the guarded set).
"""

from __future__ import annotations

import functools
import logging
import random
import time
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

import redis

from ..backends import acl
from ..config import MAX_VALUE_BYTES, Settings
from ..keys import KeySchema
from ..models import Ticket, User
from ..vocab import CacheCounter, Entity, EntityName
from . import invalidation, lists
from .codec import MISSING, PAGE, SESSION, TICKET, USER, Codec, codec_for
from .functions import CacheScripts
from .lists import LIST
from .loading import Load, Slot, load_once, refresh, xfetch_due
from .lookup import Lookup, Reader
from .policy import CachePolicy
from .published import StatsPublisher
from .stats import CacheStats, StatsBook
from .warm import Warmer

if TYPE_CHECKING:  # warming reads the store; the cache itself never needs the database
    from ..db.store import HelpdeskStore

__all__ = ["Cache", "CacheStats"]

log = logging.getLogger("helpdesk_kit.cache")
V = TypeVar("V")
#: What a read runs on a miss: the database's answer, or None for "no such row".
Loader = Callable[[], V | None]


class Cache:
    """One cache object per app: the design's per-entity operations plus cache-aside reads.

    ``client``: the redis-py client (a Sentinel primary or a Cluster client too).
    ``keys``: the key schema (its prefix; hash tags on a cluster).
    ``ttl``, ``ttls``, ``negative_ttl``, ``jitter``, ``early_refresh``, ``xfetch_beta``,
    ``lock_timeout``, ``lock_poll``, ``generation_ttl``, ``invalidation_retries``,
    ``stale_guard``, ``retry_after``, ``max_value_bytes``: the cache's frozen
    :class:`~helpdesk_kit.cache.policy.CachePolicy` (each one's contract is there).
    ``rng``: where jitter and XFetch draw from (a seeded one makes them repeatable).
    ``lua``: whether warming may use its Lua script (None: if this Redis runs scripts; the
    script runner finds out on first use and keeps the answer).
    """

    def __init__(self, client: redis.Redis, keys: KeySchema | None = None, *, ttl: int = 300,
                 ttls: Mapping[str, int] | None = None, negative_ttl: int = 30,
                 jitter: float = 0.0, early_refresh: bool = False, xfetch_beta: float = 1.0,
                 lock_timeout: float = 2.0, lock_poll: float = 0.005,
                 generation_ttl: int = 3600, invalidation_retries: int = 2,
                 stale_guard: bool = True, retry_after: float = 1.0,
                 rng: random.Random | None = None, lua: bool | None = None,
                 max_value_bytes: int = MAX_VALUE_BYTES) -> None:
        self.client = client
        self.keys = keys or KeySchema()
        #: TTLs, lock timings and limits, frozen (the loading helpers read it as it is).
        self.policy = CachePolicy(
            ttl=ttl, ttls=ttls or {}, negative_ttl=negative_ttl, jitter=jitter,
            early_refresh=early_refresh, xfetch_beta=xfetch_beta, lock_timeout=lock_timeout,
            lock_poll=lock_poll, generation_ttl=generation_ttl,
            invalidation_retries=invalidation_retries, stale_guard=stale_guard,
            retry_after=retry_after, max_value_bytes=max_value_bytes)
        self.rng = rng or random.Random()
        #: Hits, misses and the rest, per entity (see :mod:`helpdesk_kit.cache.stats`).
        self.book = StatsBook()
        #: The one read of a cached value, and the "Redis failed, rest a while" state.
        self.reader = Reader(client, self.book, retry_after=retry_after,
                             max_value_bytes=max_value_bytes)
        #: The cache's Lua scripts: FCALL of its Functions library, or EVALSHA.
        self.scripts = CacheScripts(client)
        self.scripts.lua = lua
        #: How long the last load of each entity took, in seconds: XFetch's "delta".
        self.load_seconds: dict[Entity, float] = {}
        #: Sends the counters to Redis when they are published (None: they are not).
        self.publisher: StatsPublisher | None = None

    @classmethod
    def from_settings(cls, client: redis.Redis, settings: Settings, **options: Any) -> Cache:
        """A cache with the settings' key prefix and TTL (``HELPDESK_CACHE_TTL``)."""
        options.setdefault("max_value_bytes", settings.max_value_bytes)
        return cls(client, KeySchema(prefix=settings.key_prefix), ttl=settings.cache_ttl,
                   **options)

    def __repr__(self) -> str:
        return (f"Cache(prefix={self.keys.prefix!r}, ttl={self.policy.ttl}, "
                f"jitter={self.policy.jitter})")

    @property
    def ttl(self) -> int:
        """The default TTL in seconds (the policy's)."""
        return self.policy.ttl

    @property
    def negative_ttl(self) -> int:
        """How long a "no such row" stays cached, in seconds (the policy's)."""
        return self.policy.negative_ttl

    def ttl_for(self, entity: EntityName) -> int:
        """The TTL for a new value of ``entity``: its base TTL plus random jitter."""
        return self.policy.ttl_for(Entity(entity), self.rng)

    # --- the design's per-entity operations --------------------------------------------
    def cache_user(self, user: User) -> None:
        self.put(Entity.USER, user.id, user)

    def get_cached_user(self, user_id: int) -> User | None:
        return self.read(USER, user_id)

    def invalidate_user(self, user_id: int) -> None:
        self.invalidate(Entity.USER, user_id)

    def cache_ticket(self, ticket: Ticket) -> None:
        self.put(Entity.TICKET, ticket.id, ticket)

    def get_cached_ticket(self, ticket_id: int) -> Ticket | None:
        return self.read(TICKET, ticket_id)

    def invalidate_ticket(self, ticket_id: int) -> None:
        """Delete ``ticket:{id}`` and make every cached ticket list stale."""
        self.invalidate_tickets([ticket_id])

    def get_user(self, user_id: int, loader: Loader[User]) -> User | None:
        """Cache-aside read of a user; ``loader`` is e.g. ``lambda: store.get_user(7)``."""
        return self.read(USER, user_id, loader)

    def get_ticket(self, ticket_id: int, loader: Loader[Ticket]) -> Ticket | None:
        """Cache-aside read of a ticket (the design's ``obtenerTicket`` flow)."""
        return self.read(TICKET, ticket_id, loader)

    # --- generic operations ------------------------------------------------------------
    def put(self, entity: EntityName, ident: object, value: Any, ttl: int | None = None
            ) -> None:
        """``SET {entity}:{id} <json> EX ttl`` (the design's ``cacheUser``); Redis errors
        raise. ``ttl`` (seconds) overrides the entity's TTL and jitter for this one value."""
        codec = codec_for(Entity(entity))
        self._set(codec, self.keys.entity(codec.entity, ident), value, ttl)

    def get_cached(self, entity: EntityName, ident: object) -> Any:
        """The cached value or None (the design's ``getCachedUser``); never asks the database."""
        return self.read(codec_for(Entity(entity)), ident)

    def get_or_load(self, entity: EntityName, ident: object, loader: Loader[Any]) -> Any:
        """Cache-aside: the cached value, else ``loader()`` stored for next time.

        ``loader`` returns the row or None (no such row: cached as missing for
        ``negative_ttl``). Exceptions from ``loader`` reach the caller; Redis errors never do.
        """
        return self.read(codec_for(Entity(entity)), ident, loader)

    # --- the read ----------------------------------------------------------------------
    def read(self, codec: Codec[V], ident: object, loader: Loader[V] | None = None) -> V | None:
        """The cache-aside read of one row: the cached value, else ``loader()`` stored for
        next time. Without a loader, the cached value or None (the database is never asked).
        """
        value, _found = self._read(codec, ident, loader, pttl=self.policy.early_refresh)
        return value

    def _read(self, codec: Codec[V], ident: object, loader: Loader[V] | None, *,
              pttl: bool) -> tuple[V | None, Lookup[V]]:
        """:meth:`read`, and what the lookup found (the near cache keeps a row by its PTTL)."""
        entity = codec.entity
        key = self.keys.entity(entity, ident)
        found = self.reader.lookup(codec, key, pttl=pttl)
        if not found.reached:  # Redis failed just now, or rests after a failure
            value = None if loader is None else self._load(entity, loader)
            self._count(entity, CacheCounter.MISSES)
            return value, found
        if found.found:
            value = found.value
            if loader is not None and self._refresh_due(entity, found):
                value = self._refresh(codec, ident, key, loader, value)
            self._count(entity, CacheCounter.HITS)
            return value, found
        if loader is None:  # a cached-only read: a miss, and nobody loads
            self._count(entity, CacheCounter.MISSES)
            return None, found
        # a miss: one reader loads under the lock, the others wait for what it stores
        slot = Slot.of(self.keys, entity, ident)
        job = self._row_load(codec, key, loader)
        loaded = load_once(self.client, slot, job, scripts=self.scripts, policy=self.policy)
        value, waited = loaded
        if waited:  # another reader's load answered us, from Redis
            self._count(entity, CacheCounter.HITS)
        else:
            self._count(entity, CacheCounter.MISSES)
        return value, found

    def _refresh_due(self, entity: Entity, found: Lookup[object]) -> bool:
        if not self.policy.early_refresh:
            return False
        return xfetch_due(self.load_seconds.get(entity), found.pttl, self.policy, self.rng)

    def _refresh(self, codec: Codec[V], ident: object, key: str, loader: Loader[V],
                 current: V | None) -> V | None:
        """XFetch: reload a value that is still cached, if nobody else is doing it."""
        slot = Slot.of(self.keys, codec.entity, ident)
        job = self._row_load(codec, key, loader)
        reloaded = refresh(self.client, slot, job, current, scripts=self.scripts,
                           policy=self.policy)
        value, refreshed = reloaded
        if refreshed:
            self._count(codec.entity, CacheCounter.REFRESHES)
        return value

    def _row_load(self, codec: Codec[V], key: str, loader: Loader[V]) -> Load[V]:
        """How one row is loaded, read back from another reader, and written."""
        entity = codec.entity

        def decode(raw: bytes, _noted: str | None) -> tuple[bool, V | None]:
            return self.reader.decode(codec, key, raw)

        def encode(value: V | None, _noted: str | None) -> str:
            if value is None:
                return MISSING
            return codec.encode(value)

        return Load(run=functools.partial(self._load, entity, loader), decode=decode,
                    encode=encode, ttl=functools.partial(self._ttl, entity),
                    failed=functools.partial(self.reader.failed, entity))

    def _load(self, entity: Entity, loader: Loader[V]) -> V | None:
        """Run ``loader`` (the database), timing it for XFetch and counting the load."""
        started = time.perf_counter()
        value = loader()
        self.load_seconds[entity] = time.perf_counter() - started
        self._count(entity, CacheCounter.LOADS)
        return value

    def _ttl(self, entity: Entity, value: object) -> int:
        """Seconds to keep a loaded value: the negative TTL for "no such row"."""
        if value is None:
            return self.policy.negative_ttl
        return self.ttl_for(entity)

    def _count(self, entity: Entity, counter: CacheCounter) -> None:
        self.book.count(entity, counter)

    def forget_missing(self, entity: EntityName, ident: int) -> None:
        """Call after creating a row: clears a cached "missing" (and lists, for tickets)."""
        if Entity(entity) is Entity.TICKET:
            self.invalidate_tickets([ident])
        else:
            self.invalidate(entity, ident)

    # --- the design's "Listar 100 tickets" ---------------------------------------------
    def get_ticket_list(self, loader: Callable[[], list[Ticket]], *,
                        status: str | None = None, priority: str | None = None,
                        owner_id: int | None = None, limit: int = 100,
                        offset: int = 0) -> list[Ticket]:
        """A cached page of tickets for these filters; ``loader`` queries the database.
        How a page goes stale without being deleted: :mod:`helpdesk_kit.cache.lists`."""
        slot = lists.page_slot(self.keys, status, priority, owner_id, limit, offset)
        found = self.reader.lookup(PAGE, slot.key, generation_key=slot.generation)
        if not found.reached:  # Redis failed just now, or rests after a failure
            tickets = self._load(LIST, loader)
            self._count(LIST, CacheCounter.MISSES)
            return tickets or []
        if lists.is_current(found) and found.value is not None:
            self._count(LIST, CacheCounter.HITS)
            return found.value.tickets
        job = lists.page_load(self.reader, slot, functools.partial(self._load, LIST, loader),
                              ttl=functools.partial(self._ttl, LIST),
                              failed=functools.partial(self.reader.failed, LIST))
        loaded = load_once(self.client, slot, job, scripts=self.scripts, policy=self.policy)
        tickets, waited = loaded
        if waited:
            self._count(LIST, CacheCounter.HITS)
        else:
            self._count(LIST, CacheCounter.MISSES)
        return tickets or []

    # --- the design's optional sessions (session:{id}) ---------------------------------
    def cache_session(self, session_id: str, data: dict[str, Any], ttl: int | None = None
                      ) -> None:
        """``SET session:{id} <json> EX ttl`` (default: the ``"session"`` TTL)."""
        if not isinstance(data, dict):
            raise TypeError(f"session data must be a dict, not {type(data).__name__}")
        self._set(SESSION, self._session_key(session_id), data, ttl)

    def get_cached_session(self, session_id: str, ttl: int | None = None
                           ) -> dict[str, Any] | None:
        """The session, its expiry pushed back to ``ttl`` (``GETEX ... EX``): a cached row
        must expire to pick up changes, a session lives as long as its user is active.
        None if there is none (or Redis is down: counted, like any read)."""
        key = self._session_key(session_id)
        expire_s = self._ttl_or_default(Entity.SESSION, ttl)
        found = self.reader.lookup(SESSION, key, expire_s=expire_s)
        if found.found:
            self._count(Entity.SESSION, CacheCounter.HITS)
        else:
            self._count(Entity.SESSION, CacheCounter.MISSES)
        return found.value

    def invalidate_session(self, session_id: str) -> None:
        """``DEL session:{id}`` (log out); raises InvalidationError if Redis refuses."""
        key = self._session_key(session_id)
        self._invalidating(key, lambda pipe: pipe.delete(key))

    def _session_key(self, session_id: str) -> str:
        if not isinstance(session_id, str) or not session_id:
            raise ValueError(f"a session id is a non-empty string, not {session_id!r}")
        return self.keys.session(session_id)

    def _set(self, codec: Codec[V], key: str, value: V, ttl: int | None) -> None:
        self.client.set(key, codec.encode(value), ex=self._ttl_or_default(codec.entity, ttl))

    def _ttl_or_default(self, entity: Entity, ttl: int | None) -> int:
        if ttl is None:
            return self.ttl_for(entity)
        if isinstance(ttl, bool) or not isinstance(ttl, int) or ttl <= 0:
            raise ValueError(f"ttl must be a positive number of seconds, not {ttl!r}")
        return ttl

    # --- invalidation ------------------------------------------------------------------
    def invalidate(self, entity: EntityName, ident: object) -> None:
        """``DEL {entity}:{id}`` and bump its generation, right after the write committed."""
        entity = Entity(entity)
        key = self.keys.entity(entity, ident)
        generation = self.keys.generation(entity, ident)
        generation_ttl = self.policy.generation_ttl

        def build(pipe: Any) -> None:
            pipe.delete(key).incr(generation).expire(generation, generation_ttl)

        self._invalidating(key, build)

    def invalidate_tickets(self, ids: Iterable[int]) -> None:
        """Invalidate many tickets and every cached ticket list, in one MULTI/EXEC."""
        ids = list(ids)
        generation_ttl = self.policy.generation_ttl

        def build(pipe: Any) -> None:
            for ident in ids:
                generation = self.keys.generation(Entity.TICKET, ident)
                pipe.delete(self.keys.ticket(ident)).incr(generation).expire(generation,
                                                                             generation_ttl)
            pipe.incr(self.keys.generation(LIST))

        self._invalidating(f"{len(ids)} ticket(s) and the ticket lists", build)

    def invalidate_pattern(self, entity: EntityName) -> int:
        """Delete every ``{entity}:*`` key (SCAN, never KEYS); returns how many.
        See :func:`helpdesk_kit.cache.invalidation.invalidate_pattern`."""
        return invalidation.invalidate_pattern(self.client, self.keys, Entity(entity))

    def flush_all(self) -> None:
        """FLUSHDB, the design's counter-example: *every* key in the database goes (other
        prefixes, the queue...), every reader hits the database. A class's learner may not
        (it raises)."""
        with acl.explained(self.client, f"delete yours under {self.keys.prefix!r} by SCAN"):
            self.client.flushdb()
        log.warning("FLUSHDB: every key in this Redis database is gone")

    def _invalidating(self, what: str, build: Callable[[Any], Any]) -> None:
        invalidation.run(self.client, self.keys, what, build,
                         retries=self.policy.invalidation_retries)

    # --- warming (the design's warmupCache) --------------------------------------------
    def warm_users(self, store: HelpdeskStore, **options: Any) -> int:
        """Load users into the cache; see :meth:`helpdesk_kit.cache.warm.Warmer.warm_users`."""
        return self._warmer().warm_users(store, **options)

    def warm_tickets(self, store: HelpdeskStore, **options: Any) -> int:
        """Load recent tickets; see :meth:`helpdesk_kit.cache.warm.Warmer.warm_tickets`."""
        return self._warmer().warm_tickets(store, **options)

    def _warmer(self) -> Warmer:
        def put(entity: Entity, row: User | Ticket) -> None:  # the design's loop: our put
            self.put(entity, row.id, row)

        return Warmer(self.client, self.keys, self.scripts, self.policy, self.rng, put)

    # --- accounting --------------------------------------------------------------------
    def stats(self) -> dict[Entity, CacheStats]:
        """Counters per entity (``"user"``, ``"ticket"``, ``"tickets"`` for lists...)."""
        return self.book.snapshot()

    def total_stats(self) -> CacheStats:
        return self.book.total()

    def reset_stats(self) -> None:
        self.book.reset()

    def publish_stats(self, base: str, every_s: float = 5.0) -> StatsPublisher:
        """Publish the counters to a hash ``base:<id>`` from now on, in the background
        (``HELPDESK_PUBLISH_STATS``; see :mod:`helpdesk_kit.cache.published`)."""
        self.publisher = StatsPublisher(self.client, base, self.book, every_s=every_s)
        return self.publisher
