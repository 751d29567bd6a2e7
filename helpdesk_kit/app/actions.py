"""The app: the design's server actions (``obtenerTicket``, ``crearTicket``, ...) in Python.

This is where the store, the cache and the queue meet, exactly as the design wires them:

* reads are cache-aside (``get_ticket`` logs ``Cache HIT`` / ``Cache MISS`` like the design);
* writes go to the database first, then invalidate the cache at once (the design's
  "Invalidación Inmediata"), so the next read goes to the database and re-caches;
* slow side effects (notifications) are *enqueued*, so the action returns fast; ``inline=True``
  runs the same handler inside the request instead, for comparing the two.

Every action returns the design's result shape: ``{"success": True, ...}`` or
``{"success": False, "error": "..."}``. Input is checked before anything is written, so a
rejected action leaves nothing half-done. Built without a cache and a queue
(``HelpdeskApp(store)``) it is the same app "without Redis": reads go to the database and
notifications run inline - which is what :mod:`helpdesk_kit.lab.compare` measures against.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

import redis

from ..backends import Backend
from ..cache import Cache, NearCache
from ..config import BackendChoice, Settings
from ..db import HelpdeskStore
from ..db.store import check_choice
from ..errors import HelpdeskError, InputError, InvalidationError
from ..keys import KeySchema
from ..models import PRIORITIES, STATUSES, Ticket, User, utcnow
from ..queue import RetryPolicy, StreamQueue, TaskQueue
from ..vocab import Entity
from .events import EventLog
from .handlers import TaskContext
from .notifications import Notifier
from .ratelimit import RateLimiter
from .results import Result, merge
from .validation import check_id, check_int, check_text, check_ticket_changes
from .wiring import wire

__all__ = ["HelpdeskApp", "Result"]

log = logging.getLogger("helpdesk_kit.app")
T = TypeVar("T")

MAX_PAGE = 500


class HelpdeskApp:
    """The helpdesk's actions over a store, an optional cache and an optional queue.

    ``clock`` gives "now" for new rows (pass one returning ``db.sample.SAMPLE_NOW`` for
    reproducible lessons). Use as a context manager, or call :meth:`close`.
    """

    def __init__(self, store: HelpdeskStore, cache: Cache | None = None,
                 queue: TaskQueue | StreamQueue | None = None, *,
                 clock: Callable[[], datetime] = utcnow,
                 backend: Backend | None = None) -> None:
        self.store = store
        self.cache = cache
        self.queue = queue
        self.clock = clock
        self.backend = backend  # set by from_settings: the app then owns the client
        self.notifier = Notifier(queue, self.task_context)
        #: Optional: at most N tickets per user and window (lesson 13's Lua limiter).
        self.rate_limiter: RateLimiter | None = None
        #: Optional: the ticket event log every change is appended to (lesson 15).
        self.events: EventLog | None = None
        self.closed = False

    @classmethod
    def from_settings(cls, settings: Settings | None = None,
                      prefer: BackendChoice | None = None, *,
                      retry: RetryPolicy | None = None, clock: Callable[[], datetime] = utcnow,
                      **cache_options: Any) -> HelpdeskApp:
        """The one place that wires the kit: Redis, store, cache and queue from ``settings``.

        Connects Redis, opens the store, builds the cache (the near cache when
        ``HELPDESK_NEAR_CACHE`` is on), the queue ``HELPDESK_QUEUE_MODE`` names (``retry``: its
        retry policy) and the ticket event log, all on one key schema (hash tags on a Cluster):
        see :mod:`helpdesk_kit.app.wiring`. ``app.backend`` says which Redis it got, and
        :meth:`task_context` gives a worker what the task handlers need.

        A Redis that does not answer yet does not stop it (``app.backend.answering`` is then
        False): reads come from the database and are counted as the cache's errors, and the
        cache works as soon as Redis answers - no restart.
        """
        wired = wire(settings or Settings.from_env(), prefer, retry=retry, **cache_options)
        app = cls(wired.store, wired.cache, wired.queue, clock=clock, backend=wired.backend)
        app.events = wired.events
        return app

    def __repr__(self) -> str:
        redis_part = "with Redis" if self.cache or self.queue else "without Redis"
        return f"HelpdeskApp({self.store.db.url!r}, {redis_part})"

    @property
    def redis(self) -> redis.Redis | None:
        """The Redis client the cache or the queue uses (None for the app without Redis)."""
        if self.cache is not None:
            return self.cache.client
        return self.queue.client if self.queue is not None else None

    # --- reads (cache-aside) ------------------------------------------------------------
    def _read(self, entity: Entity, ident: object, load: Callable[[], T],
              cached: Callable[[Cache, Callable[[], T]], T]) -> T:
        """Run a cache-aside read and log HIT or MISS: MISS means the database was asked.

        ``load()`` asks the database; ``cached(cache, loader)`` is the cache's read, given the
        loader to run on a miss. Without a cache, the database answers.
        """
        cache = self.cache
        if cache is None:
            return load()
        asked_db = False

        def loader() -> T:
            nonlocal asked_db
            asked_db = True
            return load()

        value = cached(cache, loader)
        log.info("Cache %s %s:%s", "MISS" if asked_db else "HIT", entity, ident)
        return value

    def _ticket(self, ticket_id: int) -> Ticket | None:
        return self._read(Entity.TICKET, ticket_id, lambda: self.store.get_ticket(ticket_id),
                          lambda cache, loader: cache.get_ticket(ticket_id, loader))

    def _user(self, user_id: int) -> User | None:
        return self._read(Entity.USER, user_id, lambda: self.store.get_user(user_id),
                          lambda cache, loader: cache.get_user(user_id, loader))

    def get_ticket(self, ticket_id: int) -> Result:
        """The design's ``obtenerTicket``: ``{"success": True, "ticket": Ticket | None}``."""
        return self._action(lambda: {"ticket": self._ticket(check_id("ticket_id", ticket_id))})

    def get_user(self, user_id: int) -> Result:
        """``{"success": True, "user": User | None}``, cache-aside like ``get_ticket``."""
        return self._action(lambda: {"user": self._user(check_id("user_id", user_id))})

    def list_tickets(self, *, status: str | None = None, priority: str | None = None,
                     owner_id: int | None = None, limit: int = 100, offset: int = 0) -> Result:
        """The design's "Listar 100 tickets": newest activity first, one cached page per filter."""
        def run() -> Result:
            if status is not None:
                check_choice("status", status, STATUSES, InputError)
            if priority is not None:
                check_choice("priority", priority, PRIORITIES, InputError)
            if owner_id is not None:
                check_id("owner_id", owner_id)
            check_int("limit", limit, 1, MAX_PAGE)
            check_int("offset", offset, 0)
            filters: dict[str, Any] = {"status": status, "priority": priority,
                                       "owner_id": owner_id, "limit": limit, "offset": offset}
            tickets = self._read(
                Entity.TICKETS, f"{status or 'any'}/{priority or 'any'}/{owner_id or 'any'}",
                lambda: self.store.list_tickets(**filters),
                lambda cache, loader: cache.get_ticket_list(loader, **filters))
            return {"tickets": tickets}

        return self._action(run)

    # --- writes -------------------------------------------------------------------------
    def create_ticket(self, requester_id: int, title: str, description: str = "",
                      priority: str = "medium", owner_id: int | None = None, *,
                      inline: bool = False) -> Result:
        """The design's ``crearTicket``: insert, then enqueue the ``ticket_creado`` notification.

        Returns ``{"success": True, "ticketId": id, "taskId": ..., "notification": "queued"}``
        (``"inline"`` when the handler ran inside this call).
        """
        def run() -> Result:
            self._require_user("requester_id", requester_id)
            check_text("title", title)
            if not isinstance(description, str):
                raise InputError("description must be text")
            check_choice("priority", priority, PRIORITIES, InputError)
            if owner_id is not None:
                self._require_user("owner_id", owner_id)
            if self.rate_limiter is not None:  # last check: a refused input used no slot
                self.rate_limiter.require(requester_id)
            ticket = self.store.create_ticket(requester_id, title.strip(), description,
                                              priority, owner_id, now=self.clock())
            # a "no such ticket" cached for this id, and every cached list, are now wrong
            stale = self._invalidate_ticket(ticket.id)
            logged = self._record(lambda events: events.created(ticket))
            sent = self.notifier.notify(ticket.id, requester_id, "ticket_creado", inline)
            return merge({"ticketId": ticket.id}, sent, stale, logged)

        return self._action(run)

    def update_ticket(self, ticket_id: int, **changes: Any) -> Result:
        """The design's ``actualizarTicket``: write the database, then invalidate at once.

        ``changes`` are some of title, description, status, priority, owner_id.
        """
        def run() -> Result:
            check_id("ticket_id", ticket_id)
            changes.update(check_ticket_changes(changes))
            if changes.get("owner_id") is not None:
                self._require_user("owner_id", changes["owner_id"])
            ticket = self.store.update_ticket(ticket_id, now=self.clock(), **changes)
            if ticket is None:
                raise InputError(f"ticket {ticket_id} does not exist")
            return merge({"ticket": ticket}, self._invalidate_ticket(ticket_id),
                          self._record(lambda events: events.updated(ticket, changes)))

        return self._action(run)

    def add_comment(self, ticket_id: int, author_id: int, body: str, *,
                    inline: bool = False) -> Result:
        """Add a comment: insert (bumps the ticket's activity), invalidate, enqueue a notice.

        The other side hears about it: the requester, or the owner when the requester wrote.
        """
        def run() -> Result:
            check_id("ticket_id", ticket_id)
            self._require_user("author_id", author_id)
            check_text("body", body)
            ticket = self._ticket(ticket_id)
            if ticket is None:
                raise InputError(f"ticket {ticket_id} does not exist")
            comment = self.store.add_interaction(ticket_id, author_id, body, now=self.clock())
            stale = self._invalidate_ticket(ticket_id)
            logged = self._record(lambda events: events.commented(  # with its new version
                self.store.get_ticket(ticket_id) or ticket, comment))
            notify = ticket.requester_id
            if author_id == ticket.requester_id and ticket.owner_id is not None:
                notify = ticket.owner_id
            sent = self.notifier.notify(ticket_id, notify, "comentario_agregado", inline)
            return merge({"commentId": comment.id}, sent, stale, logged)

        return self._action(run)

    def task_context(self, now: datetime | None = None) -> TaskContext:
        """What the task handlers get from this app: its store, cache, Redis client and keys.

        ``now=None`` means the real clock (each task's enqueue time); pass
        ``db.sample.SAMPLE_NOW`` for the sample's reproducible results.
        """
        return TaskContext(self.store, self.cache, self.redis, self.keys, now, self.events)

    @property
    def keys(self) -> KeySchema:
        """The key schema of the cache (or the queue); the default one without Redis."""
        if self.cache is not None:
            return self.cache.keys
        return self.queue.keys if self.queue is not None else KeySchema()

    # --- helpers ------------------------------------------------------------------------
    def _require_user(self, name: str, user_id: object) -> User:
        user = self._user(check_id(name, user_id))
        if user is None:
            raise InputError(f"{name}: user {user_id} does not exist")
        return user

    def _record(self, append: Callable[[EventLog], object]) -> Result:
        """Append to the event log after a committed write (a failure is a warning)."""
        return {} if self.events is None else self.events.record(append)

    def _invalidate_ticket(self, ticket_id: int) -> Result:
        """Invalidate after a committed write; a failure is a ``warning``, never silent.

        The write is in the database, so the action still succeeded: answering
        ``success: False`` would invite a retry that adds a second comment or ticket.
        """
        if self.cache is None:
            return {}
        try:
            self.cache.invalidate_ticket(ticket_id)
        except InvalidationError as exc:
            log.error("ticket %s was saved, but the cache may serve the old copy: %s",
                      ticket_id, exc)
            return {"warning": f"saved, but the cache may be stale until its TTL: {exc}"}
        return {}

    def _action(self, run: Callable[[], Result]) -> Result:
        """The design's result shape; any kit error becomes ``{"success": False, ...}``."""
        if self.closed:
            return {"success": False, "error": "the app is closed"}
        try:
            return {"success": True, **run()}
        except HelpdeskError as exc:
            log.warning("action failed: %s", exc)
            return {"success": False, "error": str(exc)}

    # --- lifetime -----------------------------------------------------------------------
    def close(self) -> None:
        """Release the store (and the Redis client, if :meth:`from_settings` opened it)."""
        if self.closed:
            return
        self.closed = True
        self.store.db.close()
        if self.cache is not None and self.cache.publisher is not None:
            self.cache.publisher.publish()  # what it counted since the last tick
        if isinstance(self.cache, NearCache):  # its tracking connection and thread
            self.cache.close()
        if self.backend is not None:
            self.backend.client.close()

    def __enter__(self) -> HelpdeskApp:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
