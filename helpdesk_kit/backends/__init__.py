"""How the kit gets a Redis: a URL, a private redis-server, or fakeredis (see :func:`connect`)."""

from __future__ import annotations

from .client import Backend, Capabilities, fail_fast_retry, probe
from .connection import FAKEREDIS_NOTICE, connect
from .scan import delete_matching
from .server import RedisServer

__all__ = [
    "FAKEREDIS_NOTICE",
    "Backend",
    "Capabilities",
    "RedisServer",
    "connect",
    "delete_matching",
    "fail_fast_retry",
    "probe",
]
