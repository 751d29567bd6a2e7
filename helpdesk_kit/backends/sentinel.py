"""A Sentinel-managed primary: ask the Sentinels who the primary is, and follow it on failover.

The settings (``REDIS_SENTINELS``, ``REDIS_SENTINEL_MASTER``) name the Sentinels, never the
primary: it moves. redis-py's :class:`redis.sentinel.Sentinel` asks them for the primary's
address each time it opens a connection, so after a failover the next connection reaches the
new primary by itself (the first calls after the crash fail; the cache reads from the database
meanwhile, the worker retries).

``REDIS_SENTINELS`` is a comma-separated list (:mod:`helpdesk_kit.backends.addresses`):
``host:port`` entries or ``redis://``/``rediss://`` URLs. The password, user and TLS options
of the first entry that has them apply to every Sentinel *and* to the primary and replicas
(one secret for the whole set, as :class:`SentinelLab` sets it up).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import redis
from redis.sentinel import Sentinel, SentinelConnectionPool

from ..errors import ConfigError
from .addresses import parse_addresses
from .client import fail_fast_retry

__all__ = ["SentinelTarget", "is_sentinel", "parse_sentinels", "sentinel_client"]


@dataclass(frozen=True)
class SentinelTarget:
    """Parsed ``REDIS_SENTINELS``: the addresses, and the options every connection shares."""

    addresses: tuple[tuple[str, int], ...]
    master: str
    options: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def description(self) -> str:
        """``mymaster via Sentinels 127.0.0.1:26379, ...`` - no secret in it."""
        tls = " (TLS)" if self.options.get("ssl") else ""
        where = ", ".join(f"{h}:{p}" for h, p in self.addresses)
        return f"primary {self.master!r} via Sentinels {where}{tls}"


def parse_sentinels(entries: tuple[str, ...] | list[str], master: str) -> SentinelTarget:
    """Read ``REDIS_SENTINELS`` entries (see the module docstring); ConfigError if unusable."""
    if not entries:
        raise ConfigError("HELPDESK_REDIS_BACKEND=sentinel needs REDIS_SENTINELS "
                          "(host:port,host:port of the Sentinels)")
    found = parse_addresses(entries, "REDIS_SENTINELS", 26379, "Sentinels")
    return SentinelTarget(found.addresses, master, found.options)


def sentinel_client(target: SentinelTarget, timeout: float) -> redis.Redis:
    """A client of the current primary that finds the new one after a failover.

    Fails fast like every kit client (:func:`~helpdesk_kit.backends.fail_fast_retry`): during
    a failover a call errors at once instead of hanging, and a later call reconnects.
    """
    # One dict of connection options: spread as keywords, a dict of floats could otherwise
    # be taken for Sentinel's own parameters (min_other_sentinels, force_master_ip).
    connection: dict[str, Any] = {
        **target.options,
        "socket_timeout": timeout,
        "socket_connect_timeout": timeout,
    }
    asking = {**connection, "retry": fail_fast_retry()}  # the Sentinels fail fast too
    manager = Sentinel(list(target.addresses), sentinel_kwargs=asking, **connection)
    return manager.master_for(target.master, decode_responses=True, retry=fail_fast_retry())


def is_sentinel(client: Any) -> bool:
    """True for a client :func:`sentinel_client` made (its pool asks the Sentinels)."""
    return isinstance(getattr(client, "connection_pool", None), SentinelConnectionPool)


def close_sentinel(client: redis.Redis) -> None:
    """Close the client and the connections to the Sentinels it asked."""
    pool = client.connection_pool
    client.close()
    if isinstance(pool, SentinelConnectionPool):
        pool.sentinel_manager.close()
