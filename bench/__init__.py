"""Benchmarks, run on demand (``make bench``, ``python -m bench [--quick] [cache queue ...]``).

Each ``bench_*`` module starts its own private redis-server, measures the kit against a
baseline *and* its peers (RQ, arq, cashews) in the same run, interleaved, and returns ratio
tables (:mod:`bench.report`): absolute numbers drift +-50% on a shared 2-core machine, ratios
measured side by side hold. A peer that cannot be installed shows "not run" and why; no
number is ever typed in. Speed is never asserted in the unit tests.

The servers listen on loopback TCP (a free port), not a unix socket: cashews and arq only
speak TCP, and every side of a comparison must pay the same transport.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import redis

from helpdesk_kit.backends import RedisServer, fail_fast_retry
from helpdesk_kit.db.sqld import free_port

__all__ = ["HOST", "tcp_client", "tcp_redis"]

HOST = "127.0.0.1"


@contextlib.contextmanager
def tcp_redis() -> Iterator[int]:
    """A private redis-server on ``127.0.0.1:<free port>`` (no persistence); yields the port."""
    port = free_port()
    with RedisServer("redis-server", "--port", str(port), "--bind", HOST):
        yield port


def tcp_client(port: int, **options: object) -> redis.Redis:
    """The kit's kind of client (text replies, fail-fast) on that server."""
    return redis.Redis(host=HOST, port=port, decode_responses=True, retry=fail_fast_retry(),
                       **options)  # type: ignore[arg-type]
