"""What a connection to Redis is: a client, its kind, and what that server can do.

The kit's clients fail fast (:func:`fail_fast_retry`), and :func:`probe` asks a server what it
supports without changing it, so lessons can explain a missing feature instead of crashing.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from ..vocab import BackendKind
from . import acl

__all__ = ["NOT_ASKED", "Backend", "Capabilities", "fail_fast_retry", "probe"]


def fail_fast_retry() -> Retry:
    """One immediate retry, then the error: the kit's clients fail fast on purpose.

    redis-py's default retries with exponential backoff for seconds, which turns "Redis is down"
    into a frozen notebook. One retry still survives a dropped idle connection; after that the
    cache counts the error and reads fall through to the database (fail-open).
    """
    return Retry(NoBackoff(), 1)


@dataclass(frozen=True)
class Capabilities:
    """What a backend can show a learner; lessons skip or explain what is missing."""

    server_version: str | None
    info: bool
    lua: bool
    maxmemory_configurable: bool
    #: The ACL user this connection is logged in as (``default``), None where not known.
    acl_user: str | None = None
    #: Lesson commands this user may not run (``{"FLUSHDB", "INFO", "CONFIG"}`` for a learner
    #: of a class): found by probes that never run them (see :mod:`.acl`).
    denied: frozenset[str] = frozenset()
    #: Which server answers: ``Redis``, or ``Valkey`` (a fork of Redis 7.2 that says so in
    #: ``INFO server``: ``server_name:valkey``, ``valkey_version``).
    server_name: str = "Redis"

    @property
    def server(self) -> str:
        """``Redis 7.0.15``, ``Valkey 9.1.2``: what to show a learner."""
        return f"{self.server_name} {self.server_version or '(version not known)'}"

    def may(self, command: str) -> bool:
        """False if this Redis user may not run ``command`` (``"FLUSHDB"``, ``"INFO"``...)."""
        return command.upper() not in self.denied

    def why_not(self, command: str) -> str | None:
        """The sentence to show when ``command`` is denied, else None."""
        return None if self.may(command) else acl.may_not_run(command, self.acl_user)

    def no_info(self) -> str | None:
        """Why a lesson cannot show ``INFO`` here (the user may not; this Redis has none,
        as fakeredis), or None when it can."""
        if self.info:
            return None
        return (self.why_not("INFO")
                or "this Redis has no INFO (fakeredis): these fields need a real redis-server")


#: What a backend that did not answer at start can do: nothing known yet.
NOT_ASKED = Capabilities(None, info=False, lua=False, maxmemory_configurable=False)


@dataclass
class Backend:
    """A connected Redis client plus what it is (``kind``) and what it can do.

    ``answering`` is False for a Redis that did not answer when it was connected
    (``connect(down_ok=True)``): the client connects on its first use, as redis-py clients
    do, and ``capabilities`` is :data:`NOT_ASKED`.
    """

    client: redis.Redis
    kind: BackendKind
    description: str
    capabilities: Capabilities
    notice: str | None = None
    answering: bool = True

    def __repr__(self) -> str:
        return f"Backend(kind={self.kind!r}, description={self.description!r})"


def probe(client: redis.Redis) -> Capabilities:
    """Ask the server what it supports; fakeredis and managed services lack some commands.

    Read-only: it never changes the server, which may be a shared or production one (your
    ``REDIS_URL``). ``maxmemory_configurable`` means the CONFIG command is allowed (CONFIG GET
    answers ``maxmemory``); many managed services disable CONFIG altogether. It does not prove
    that CONFIG SET would be accepted - a server may still refuse it by ACL.

    It also finds the ACL user's name and the lesson commands it may not run (a learner of a
    class may not FLUSHDB, INFO, CONFIG...), with probes that never run them (:mod:`.acl`);
    INFO and CONFIG GET are then asked only if allowed. Two more round trips, both read-only.
    """
    version: str | None = None
    name = "Redis"
    info = lua = maxmemory = False
    user = acl.whoami(client)
    denied = acl.denied_commands(client) if user is not None else frozenset()
    if "INFO" not in denied:
        with contextlib.suppress(redis.ResponseError):
            server = client.info("server")
            if server.get("valkey_version"):  # Valkey also answers redis_version:7.2.4
                name = "Valkey"
                reported = server.get("valkey_version")
            else:
                reported = server.get("redis_version")
            version = str(reported) if reported else None  # some managed services omit it
            info = True
    if "INFO" in denied:  # a class's learner: HELLO still tells the version
        version = acl.hello_version(client)
    with contextlib.suppress(redis.ResponseError, ImportError):  # fakeredis without lupa
        lua = client.eval("return 1", 0) == 1
    if "CONFIG" not in denied:
        with contextlib.suppress(redis.ResponseError):
            maxmemory = client.config_get("maxmemory").get("maxmemory") is not None
    return Capabilities(version, info, lua, maxmemory, user, denied, name)
