"""The Redis key schema: every key name the kit uses is built here and nowhere else.

The names are the design's (``user:{id}``, ``ticket:{id}``, ``tasks:pending``, ``session:{id}``),
under an optional prefix (``HELPDESK_KEY_PREFIX``) so a class can share one Redis server.

Redis Cluster: commands that touch several keys at once (``LMOVE tasks:pending ->
tasks:processing:w1``) need all of them in one hash slot. With ``cluster=True`` the queue keys
share the hash tag ``{tasks}`` (``{tasks}:pending``); the default keeps the design's names.
The cache's pairs get a tag too: a cached row and its generation counter (the guard script
reads one and writes the other) are ``{ticket:5}`` and ``gen:{ticket:5}``; a cached list page
and the list generation (one ``MGET``, one guarded set) are ``{tickets}:status=..`` and
``gen:{tickets}``. Redis hashes only the text inside the first ``{...}``, so each pair lands
in one slot.
"""

from __future__ import annotations

from dataclasses import dataclass

from .vocab import BackendKind, Entity

__all__ = ["KeySchema"]


@dataclass(frozen=True)
class KeySchema:
    """Builds key names. ``prefix`` is prepended verbatim (use e.g. ``"class42:"``)."""

    prefix: str = ""
    cluster: bool = False

    @classmethod
    def for_backend(cls, kind: str, prefix: str = "") -> KeySchema:
        """The schema a backend of ``kind`` needs: hash tags on a Redis Cluster
        (:attr:`BackendKind.CLUSTER <helpdesk_kit.vocab.BackendKind.CLUSTER>`), the design's
        plain names everywhere else - chosen from the backend, never by hand."""
        return cls(prefix=prefix, cluster=kind == BackendKind.CLUSTER)

    # --- cache (strings holding JSON) ---------------------------------------------------
    def user(self, user_id: int) -> str:
        """``user:{id}`` - STRING, the cached user row as JSON (seed: ``cacheUser``)."""
        return self.entity(Entity.USER, user_id)

    def ticket(self, ticket_id: int) -> str:
        """``ticket:{id}`` - STRING, the cached ticket row as JSON (seed: ``cacheTicket``)."""
        return self.entity(Entity.TICKET, ticket_id)

    def session(self, session_id: str) -> str:
        """``session:{id}`` - STRING, session data as JSON (optional in the seed)."""
        return f"{self.prefix}{Entity.SESSION}:{session_id}"

    def entity(self, entity: str, ident: object) -> str:
        """``{entity}:{id}`` for any cached entity (``user``, ``ticket``, ``tickets``...);
        with ``cluster=True`` the hash-tagged ``{{entity}:{id}}``."""
        return f"{self.prefix}{self._tagged(f'{entity}:{ident}')}"

    def pattern(self, entity: str) -> str:
        """``{entity}:*`` - a SCAN match pattern for every key of one entity."""
        return f"{self.prefix}{'{' if self.cluster else ''}{entity}:*"

    def _tagged(self, name: str) -> str:
        """``name`` as a hash tag (``{name}``) on Redis Cluster; unchanged on one server."""
        return f"{{{name}}}" if self.cluster else name

    @property
    def fence(self) -> str:
        """``fence:<token>`` - STRING (expires in seconds), one per invalidation on a replicated
        Redis: written with it and after it, so that ``WAIT`` covers it and shows which server
        ran it (:mod:`helpdesk_kit.backends.replication`); on a cluster one per primary,
        ``fence:<token>{0}``, ``fence:<token>{1}``... This is the names' start."""
        return f"{self.prefix}fence"

    @property
    def all_keys(self) -> str:
        """SCAN match pattern for every key under this prefix (tests clean with it)."""
        return f"{self.prefix}*"

    def ticket_list(self, status: str | None, priority: str | None, owner_id: int | None,
                    limit: int, offset: int) -> str:
        """``tickets:status=..:priority=..:owner=..:limit=..:offset=..`` - STRING, one cached
        page of the design's "Listar 100 tickets" (JSON with the list generation it was built at).
        With ``cluster=True``: ``{tickets}:status=..``, in the slot of ``gen:{tickets}``.
        """
        page = self.ticket_list_page(status, priority, owner_id, limit, offset)
        return f"{self.prefix}{self._tagged('tickets')}:{page}"

    @staticmethod
    def ticket_list_page(status: str | None, priority: str | None, owner_id: int | None,
                         limit: int, offset: int) -> str:
        """``status=..:priority=..:owner=..:limit=..:offset=..``: names one page (and its lock)."""
        return (f"status={status or 'any'}:priority={priority or 'any'}"
                f":owner={'any' if owner_id is None else owner_id}:limit={limit}:offset={offset}")

    def generation(self, entity: str, ident: object = None) -> str:
        """``gen:{entity}:{id}`` (or ``gen:{entity}``) - STRING counter, INCR on invalidation.

        The cache's stale-read guard: a reader notes it before loading from the database and
        stores only if it has not changed (see :mod:`helpdesk_kit.cache`).

        With ``cluster=True``: ``gen:{{entity}:{id}}`` (the slot of its value) or
        ``gen:{{entity}}`` (the slot of the list pages, for ``tickets``).
        """
        name = entity if ident is None else f"{entity}:{ident}"
        return f"{self.prefix}gen:{self._tagged(name)}"

    def entity_generation(self, entity: str) -> str:
        """``gen:{entity}:all`` - STRING counter, INCR when ``invalidate_pattern(entity)`` runs.

        Readers note it before loading and drop what they stored if it moved (the per-key
        counters cannot be bumped for keys a SCAN does not see).
        """
        return f"{self.prefix}gen:{entity}:all"

    def lock(self, entity: str, ident: object) -> str:
        """``lock:{entity}:{id}`` - STRING with a PX timeout: who is loading this key now."""
        return f"{self.prefix}lock:{self._tagged(f'{entity}:{ident}')}"

    # --- task queue --------------------------------------------------------------------
    @property
    def _tasks(self) -> str:
        return f"{self.prefix}{{tasks}}" if self.cluster else f"{self.prefix}tasks"

    @property
    def tasks_pending(self) -> str:
        """``tasks:pending`` - LIST of task JSON; RPUSH to enqueue, LPOP/LMOVE to take (seed)."""
        return f"{self._tasks}:pending"

    def tasks_processing(self, worker_id: str) -> str:
        """``tasks:processing:{worker}`` - LIST, tasks a worker holds but has not acked yet."""
        return f"{self._tasks}:processing:{worker_id}"

    @property
    def tasks_delayed(self) -> str:
        """``tasks:delayed`` - ZSET of task JSON scored by the time (ms) it may run again."""
        return f"{self._tasks}:delayed"

    @property
    def tasks_dead(self) -> str:
        """``tasks:dead`` - LIST of dead letters: the task JSON with its error."""
        return f"{self._tasks}:dead"

    @property
    def tasks_workers(self) -> str:
        """``tasks:workers`` - SET of worker ids that may hold a processing list."""
        return f"{self._tasks}:workers"

    def worker_heartbeat(self, worker_id: str) -> str:
        """``tasks:heartbeat:{worker}`` - STRING with a TTL; gone means the worker is dead."""
        return f"{self._tasks}:heartbeat:{worker_id}"

    @property
    def tasks_stats(self) -> str:
        """``tasks:stats`` - HASH of counters (done, failed, dead) for the metrics module."""
        return f"{self._tasks}:stats"

    @property
    def cache_stats(self) -> str:
        """``cache:stats`` - where caches publish their counters when ``HELPDESK_PUBLISH_STATS``
        is on: one HASH per cache object, ``cache:stats:<id>`` (hits, misses...), read by the
        class dashboard (:mod:`helpdesk_kit.cache.published`)."""
        return f"{self.prefix}cache:stats"

    @property
    def notifications_channel(self) -> str:
        """``notifications`` - pub/sub CHANNEL where send_notifications publishes (the design's
        PubSub)."""
        return f"{self.prefix}notifications"

    # --- the streams queue (lesson 14) ---------------------------------------------------
    @property
    def tasks_stream(self) -> str:
        """``tasks:stream`` - STREAM of tasks (field ``task``: the task JSON), read by the
        consumer group ``workers`` in streams mode. With ``cluster=True``: ``{tasks}:stream``,
        in the slot of the other streams-mode keys (one MULTI touches several)."""
        return f"{self._tasks}:stream"

    @property
    def tasks_stream_delayed(self) -> str:
        """``tasks:stream:delayed`` - ZSET of task JSON scored by when (ms) it may run again;
        due tasks are added to the stream again (streams mode's ``tasks:delayed``)."""
        return f"{self._tasks}:stream:delayed"

    @property
    def tasks_stream_dead(self) -> str:
        """``tasks:stream:dead`` - LIST of the streams queue's dead letters (JSON with error)."""
        return f"{self._tasks}:stream:dead"

    @property
    def tasks_stream_stats(self) -> str:
        """``tasks:stream:stats`` - HASH of the streams queue's counters (done, failed, dead,
        recovered, trimmed)."""
        return f"{self._tasks}:stream:stats"

    # --- the ticket event log and its read model (lesson 15) -----------------------------
    @property
    def _events(self) -> str:
        return f"{self.prefix}{{events}}" if self.cluster else f"{self.prefix}events"

    @property
    def ticket_events(self) -> str:
        """``events:tickets`` - STREAM, one entry per ticket change (fields ``kind``,
        ``ticket``, ``version``, ``at``, ``data``): the event-sourcing log."""
        return f"{self._events}:tickets"

    @property
    def open_by_priority(self) -> str:
        """``events:open_by_priority`` - HASH priority -> open tickets: the read model a
        consumer group keeps from :attr:`ticket_events` (its ``XACK`` shares a MULTI with
        this key, so with ``cluster=True`` both are under the hash tag ``{events}``)."""
        return f"{self._events}:open_by_priority"

    @property
    def ticket_states(self) -> str:
        """``events:ticket_states`` - HASH ticket id -> ``{"status", "priority",
        "version"}`` JSON: what the read model knows of each ticket (to apply each change
        once, and to move a count when a priority or status changes)."""
        return f"{self._events}:ticket_states"

    # --- rate limits (lesson 13) ---------------------------------------------------------
    def rate_limit(self, action: str, user_id: object) -> str:
        """``ratelimit:{action}:{user}`` - ZSET of the moments (µs) ``user`` did ``action``
        in the current window: the Lua rate limiter's sliding log (``ratelimit:tickets:7``)."""
        return f"{self.prefix}ratelimit:{self._tagged(f'{action}:{user_id}')}"
