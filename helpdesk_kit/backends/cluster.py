"""A Redis Cluster client, and the per-node view the kit needs on one.

``REDIS_CLUSTER_URL`` names one node or several, comma-separated
(``redis://[user:password@]host:port`` or ``rediss://...?ssl_ca_certs=CA``, then more URLs or
plain ``host:port``: the first entry's password and TLS apply to all, as with
``REDIS_SENTINELS``; see :mod:`helpdesk_kit.backends.addresses`). They are redis-py's
*startup nodes*: :class:`redis.cluster.RedisCluster` asks the first that answers for the
others and for which node serves each of the 16,384 hash slots, and sends every command to
the node of its key's slot. Name several: with one, a process started while that node is
dead cannot reach the cluster at all, however healthy the rest of it is.

What does not fit "one key, one node" is in this module:

- :func:`node_clients`: a plain client per primary, for what must run on *every* primary
  (SCAN of a pattern, INFO for metrics, a WAIT after writes);
- :func:`hash_slot`: the slot of a key (what the hash tags in :mod:`helpdesk_kit.keys` decide).

A command whose keys live in different slots (``MGET user:1 user:2`` without a shared tag, an
``LMOVE`` between lists of two slots, a script over two slots) is refused by the cluster with
``CROSSSLOT``; the kit's key schema keeps each such group in one slot
(``KeySchema(cluster=True)``, chosen by itself on a cluster:
:meth:`~helpdesk_kit.keys.KeySchema.for_backend`).
"""

from __future__ import annotations

from typing import Any, TypeGuard

import redis
from redis.cluster import ClusterNode, ClusterPipeline, RedisCluster, key_slot
from redis.exceptions import RedisClusterException

from .addresses import AddressList, parse_addresses
from .client import fail_fast_retry

__all__ = ["SLOTS", "ClusterUnavailableError", "CrossSlotError", "KitCluster", "cluster_client",
           "group_by_node", "hash_slot", "is_cluster", "node_clients", "startup_nodes"]

#: Every key maps to one of this many slots: CRC16(key or its {tag}) mod 16384.
SLOTS = 16384


class _Pipeline(ClusterPipeline):
    """redis-py's cluster pipeline, with ``delete``/``unlink`` returning the pipeline like
    every other command (redis-py 8.1 returns None there, which breaks
    ``pipe.delete(key).incr(gen)``, the chain the cache's invalidation builds)."""

    # The two overrides return self, as a pipeline's commands do (redis-py's return None).
    def delete(self, *names: Any) -> _Pipeline:  # type: ignore[override]
        super().delete(*names)
        return self

    def unlink(self, *names: Any) -> _Pipeline:  # type: ignore[override]
        super().unlink(*names)
        return self

    def execute(self, raise_on_error: bool = True) -> list[Any]:
        try:
            return super().execute(raise_on_error)
        except RedisClusterException as exc:  # see KitCluster: a RedisError, for fail-open code
            raise _as_redis_error(exc) from exc


class KitCluster(RedisCluster):
    """:class:`RedisCluster` whose errors are all :class:`redis.RedisError`.

    redis-py raises ``RedisClusterException`` (and ``SlotNotCoveredError``), which are *not*
    RedisErrors, when the slot map has a hole - exactly while a dead primary's replica is
    being promoted. The kit's fail-open code catches RedisError; here those become
    :class:`ClusterUnavailableError` (a ConnectionError), so a failover reads from the
    database instead of crashing the caller.
    """

    def execute_command(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().execute_command(*args, **kwargs)
        except RedisClusterException as exc:
            raise _as_redis_error(exc) from exc

    def pipeline(self, transaction: Any = None, shard_hint: Any = None) -> Any:
        pipe = super().pipeline(transaction, shard_hint)
        # Same object, our subclass: redis-py builds it with a dozen internal arguments that
        # change between versions; a subclass that only adds methods can take it as it is.
        pipe.__class__ = _Pipeline
        return pipe


class ClusterUnavailableError(redis.ConnectionError):
    """The cluster cannot serve a slot right now (a failover is under way, or a node is lost)."""


class CrossSlotError(redis.ResponseError):
    """One command named keys of different slots: the server would answer ``CROSSSLOT``."""


def _as_redis_error(exc: RedisClusterException) -> redis.RedisError:
    """redis-py checks the slots of a multi-key command itself and raises a non-RedisError;
    say it as the server would (CROSSSLOT: a mistake in the key names, not an outage)."""
    if "same key slot" in str(exc) or "same slot" in str(exc):
        return CrossSlotError(f"CROSSSLOT Keys in request don't hash to the same slot ({exc})")
    return ClusterUnavailableError(f"{type(exc).__name__}: {exc}")


def startup_nodes(urls: str) -> AddressList:
    """``REDIS_CLUSTER_URL``'s nodes and shared options; ConfigError if an entry is unusable."""
    entries = [entry.strip() for entry in urls.split(",") if entry.strip()]
    return parse_addresses(entries, "REDIS_CLUSTER_URL", 6379, "cluster nodes")


def cluster_client(urls: str, timeout: float) -> KitCluster:
    """A cluster-aware client from ``REDIS_CLUSTER_URL`` (one node or several); fails fast
    like every kit client.

    Its one retry (:func:`~helpdesk_kit.backends.fail_fast_retry`) also re-reads the slot map,
    so after a failover the first call may fail and the next reaches the promoted replica.
    """
    nodes = startup_nodes(urls)
    return KitCluster(startup_nodes=[ClusterNode(host, port) for host, port in nodes.addresses],
                      decode_responses=True, socket_timeout=timeout,
                      socket_connect_timeout=timeout, retry=fail_fast_retry(), **nodes.options)


def is_cluster(client: Any) -> TypeGuard[RedisCluster]:
    """True for a Redis Cluster client (or one of its pipelines)."""
    return isinstance(client, RedisCluster)


def hash_slot(key: str) -> int:
    """The slot (0..16383) of ``key``: CRC16 of the part inside its first ``{...}``, if any."""
    return int(key_slot(key.encode()))


def node_clients(client: RedisCluster, replicas: bool = False) -> list[tuple[str, redis.Redis]]:
    """``[("host:port", client of that node), ...]`` for every primary (and replica if asked),
    as the cluster client knows them now, sorted by address (a stable order to show)."""
    nodes = client.get_nodes() if replicas else client.get_primaries()
    return sorted(((node.name, client.get_redis_connection(node)) for node in nodes),
                  key=lambda pair: pair[0])


def group_by_node(client: Any, keys: list[str]) -> list[tuple[redis.Redis, list[int]]]:
    """Which primary serves each key now: ``[(client of that node, [indexes into keys])]``.

    For work that must be batched per node (warming: one round trip per node per page) with
    commands a cluster pipeline refuses (EVALSHA). A stale map answers MOVED: a RedisError.
    Off a cluster (one server, whatever its key schema) it is one group: the client itself.
    """
    if not is_cluster(client):
        return [(client, list(range(len(keys))))]
    groups: dict[str, tuple[redis.Redis, list[int]]] = {}
    for index, key in enumerate(keys):
        try:
            node = client.get_node_from_key(key)
        except RedisClusterException as exc:  # a slot without a node: mid-failover
            raise ClusterUnavailableError(str(exc)) from exc
        entry = groups.setdefault(node.name, (client.get_redis_connection(node), []))
        entry[1].append(index)
    return [groups[name] for name in sorted(groups)]
