"""A Redis Cluster's numbers per primary, and the cluster-wide totals made from them.

On one server ``INFO`` is the server's. On a cluster every primary has its own: its keys, its
memory, its evictions, its hits and misses. :func:`node_metrics` reports each primary's
(labelled ``node="host:port"``: the snapshot, ``/api/metrics`` under ``nodes`` and ``/metrics``
all show them), and :func:`cluster_info` adds them up into one ``INFO``-shaped dict, so every
server metric of the snapshot is the cluster's total - the design's ``keys`` is the sum of the
primaries' DBSIZE. Replicas hold copies: they are not counted.
"""

from __future__ import annotations

from typing import Any

from ..backends.cluster import is_cluster, node_clients
from . import catalogue
from .catalogue import Metric

__all__ = ["cluster_info", "node_metrics", "total_dbsize"]

#: INFO fields that add up over the primaries (each holds its own share of the data).
_SUMMED = ("used_memory", "used_memory_peak", "maxmemory", "evicted_keys", "expired_keys",
           "instantaneous_ops_per_sec", "keyspace_hits", "keyspace_misses")


def _infos(client: Any) -> list[tuple[str, dict[str, Any], int]]:
    """(address, INFO, DBSIZE) of every primary, asked of each node itself."""
    return [(address, node.info(), int(node.dbsize())) for address, node in node_clients(client)]


def total_dbsize(client: Any) -> int:
    """The design's ``keys`` on a cluster: DBSIZE of every primary, added up."""
    return sum(int(node.dbsize()) for _, node in node_clients(client))


def cluster_info(client: Any) -> dict[str, Any]:
    """One INFO for the whole cluster: sums over the primaries (uptime: the youngest's;
    ``avg_ttl``: weighted by each node's keys with a TTL)."""
    infos = _infos(client)
    merged: dict[str, Any] = {}
    for name in _SUMMED:
        values = [int(info[name]) for _, info, _ in infos if name in info]
        if values:
            merged[name] = sum(values)
    uptimes = [int(info["uptime_in_seconds"]) for _, info, _ in infos
               if "uptime_in_seconds" in info]
    if uptimes:
        merged["uptime_in_seconds"] = min(uptimes)
    policies = {str(info.get("maxmemory_policy")) for _, info, _ in infos}
    merged["maxmemory_policy"] = policies.pop() if len(policies) == 1 else "mixed"
    expires = sum(int(info.get("db0", {}).get("expires", 0)) for _, info, _ in infos)
    weighted = sum(int(info.get("db0", {}).get("expires", 0))
                   * int(info.get("db0", {}).get("avg_ttl", 0)) for _, info, _ in infos)
    merged["db0"] = {"keys": sum(size for _, _, size in infos), "expires": expires,
                     "avg_ttl": weighted // expires if expires else 0}
    return merged


def node_metrics(client: Any) -> list[Metric]:
    """Keys, memory, evictions and keyspace hit rate of each primary (nothing off a cluster)."""
    if not is_cluster(client):
        return []
    found: list[Metric] = []
    for address, info, size in _infos(client):
        labels = {"node": address}
        found.append(catalogue.NODE_KEYS.measure(size, f"DBSIZE on {address}", labels=labels))
        found.append(catalogue.NODE_MEMORY_USED_BYTES.measure(int(info["used_memory"]),
                                                      f"INFO used_memory on {address}",
                                                      labels=labels))
        found.append(catalogue.NODE_EVICTED_KEYS.measure(int(info["evicted_keys"]),
                                                 f"INFO evicted_keys on {address}",
                                                 labels=labels))
        hits = int(info["keyspace_hits"])
        misses = int(info["keyspace_misses"])
        source = f"INFO keyspace_hits / (keyspace_hits + keyspace_misses) on {address}"
        if hits + misses:
            found.append(catalogue.NODE_KEYSPACE_HIT_RATE.measure(hits / (hits + misses), source,
                                                          labels=labels))
        else:
            found.append(catalogue.NODE_KEYSPACE_HIT_RATE.measure(None, source, "no reads yet",
                                                          labels=labels))
    return found
