"""Benchmarks, run on demand (``make bench``, ``python -m bench [--quick] [cache queue ...]``).

Each ``bench_*`` module starts its own private redis-server, measures the kit against a
baseline *and* its peers (RQ, arq, cashews) in the same run, interleaved, and returns ratio
tables (:mod:`bench.report`): absolute numbers drift +-50% on a shared 2-core machine, ratios
measured side by side hold. A peer that cannot be installed shows "not run" and why; no
number is ever typed in. Speed is never asserted in the unit tests.

The servers listen on loopback TCP (a free port), not a unix socket: cashews and arq only
speak TCP, and every side of a comparison must pay the same transport.

A loopback round trip costs several times more when client and server run on two cores than
when they share one (each round trip is then a switch on one core), and an unpinned run
flips between the two. Where a ratio must hold to a target whatever the machine, the
benchmark fixes the placement (:func:`cores`): the client on one core, redis-server on
another, as a server and its clients run in production.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import NamedTuple

import redis

from helpdesk_kit.backends import RedisServer, fail_fast_retry
from helpdesk_kit.db.sqld import free_port

__all__ = ["HOST", "Server", "cores", "tcp_client", "tcp_redis", "tcp_server"]

HOST = "127.0.0.1"


class Server(NamedTuple):
    """A private redis-server: its port, and its process id (for :func:`cores`)."""

    port: int
    pid: int | None


@contextlib.contextmanager
def tcp_redis() -> Iterator[int]:
    """A private redis-server on ``127.0.0.1:<free port>`` (no persistence); yields the port."""
    with tcp_server() as server:
        yield server.port


@contextlib.contextmanager
def tcp_server() -> Iterator[Server]:
    """The same, yielding its port and process id."""
    port = free_port()
    with RedisServer("redis-server", "--port", str(port), "--bind", HOST) as server:
        yield Server(port, server.process.pid if server.process else None)


@contextlib.contextmanager
def cores(server: Server, *, apart: bool) -> Iterator[str]:
    """Pin this process and ``server`` to two cores (``apart``) or to one, for the block;
    yields how they ran ("" if pinning is not possible here: fewer than 2 cores, no
    ``sched_setaffinity``). The old placement is restored after."""
    allowed = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    if len(allowed) < 2 or server.pid is None:
        yield ""
        return
    mine, theirs = allowed[0], allowed[1] if apart else allowed[0]
    server_before = os.sched_getaffinity(server.pid)
    os.sched_setaffinity(0, {mine})
    os.sched_setaffinity(server.pid, {theirs})
    try:
        yield (f"client on core {mine}, redis-server on core {theirs}" if apart else
               f"client and redis-server on core {mine}")
    finally:
        os.sched_setaffinity(0, allowed)
        with contextlib.suppress(ProcessLookupError):
            os.sched_setaffinity(server.pid, server_before)


def tcp_client(port: int, **options: object) -> redis.Redis:
    """The kit's kind of client (text replies, fail-fast) on that server."""
    return redis.Redis(host=HOST, port=port, decode_responses=True, retry=fail_fast_retry(),
                       **options)  # type: ignore[arg-type]
