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

__all__ = ["Backend", "Capabilities", "fail_fast_retry", "probe"]


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


@dataclass
class Backend:
    """A connected Redis client plus what it is (``kind``) and what it can do."""

    client: redis.Redis
    kind: BackendKind
    description: str
    capabilities: Capabilities
    notice: str | None = None

    def __repr__(self) -> str:
        return f"Backend(kind={self.kind!r}, description={self.description!r})"


def probe(client: redis.Redis) -> Capabilities:
    """Ask the server what it supports; fakeredis and managed services lack some commands.

    Read-only: it never changes the server, which may be a shared or production one (your
    ``REDIS_URL``). ``maxmemory_configurable`` means the CONFIG command is allowed (CONFIG GET
    answers ``maxmemory``); many managed services disable CONFIG altogether. It does not prove
    that CONFIG SET would be accepted - a server may still refuse it by ACL.
    """
    version: str | None = None
    info = lua = maxmemory = False
    with contextlib.suppress(redis.ResponseError):
        reported = client.info("server").get("redis_version")
        version = str(reported) if reported else None  # some managed services leave it out
        info = True
    with contextlib.suppress(redis.ResponseError, ImportError):  # fakeredis without lupa
        lua = client.eval("return 1", 0) == 1
    with contextlib.suppress(redis.ResponseError):
        maxmemory = client.config_get("maxmemory").get("maxmemory") is not None
    return Capabilities(version, info, lua, maxmemory)
