"""Who is who on a replicated Redis: the primary and its replicas, or a cluster's nodes and slots.

``helpdesk-kit doctor`` prints it, lessons 10 and 11 show it, and the metrics count keys per
node with it. Read-only: ``INFO replication`` and ``CLUSTER NODES``, nothing changed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..vocab import BackendKind
from .cluster import SLOTS, is_cluster
from .sentinel import is_sentinel

__all__ = ["NodeView", "Topology", "topology"]


@dataclass(frozen=True)
class NodeView:
    """One node as its primary (or the cluster) sees it."""

    address: str
    role: str  # "primary" or "replica"
    #: a replica's primary (``host:port``); None for a primary
    follows: str | None = None
    #: a cluster primary's slot ranges, inclusive: ((0, 5460),)
    slots: tuple[tuple[int, int], ...] = ()
    #: replication offset: bytes of the write stream this node has (a replica lags by the gap)
    offset: int | None = None
    #: a replica's state as its primary reports it ("online"...) or the cluster's link state
    state: str | None = None

    @property
    def slot_count(self) -> int:
        return sum(end - start + 1 for start, end in self.slots)

    def line(self) -> str:
        if self.role == "primary":
            slots = ""
            if self.slots:
                ranges = ", ".join(f"{a}-{b}" for a, b in self.slots)
                slots = f"  slots {ranges} ({self.slot_count:,} of {SLOTS:,})"
            offset = "" if self.offset is None else f"  offset {self.offset:,}"
            return f"primary  {self.address}{slots}{offset}"
        offset = "" if self.offset is None else f", offset {self.offset:,}"
        state = f" ({self.state}{offset})" if self.state else ""
        return f"  replica {self.address} of {self.follows}{state}"


@dataclass(frozen=True)
class Topology:
    """The nodes of a Sentinel-managed set or a cluster, primaries first, each with replicas."""

    kind: BackendKind
    nodes: tuple[NodeView, ...]

    @property
    def primaries(self) -> list[NodeView]:
        return [n for n in self.nodes if n.role == "primary"]

    def replicas_of(self, primary: NodeView) -> list[NodeView]:
        return [n for n in self.nodes if n.follows == primary.address]

    def lines(self) -> list[str]:
        out: list[str] = []
        for primary in self.primaries:
            out.append(primary.line())
            out += [replica.line() for replica in self.replicas_of(primary)]
        return out

    def __str__(self) -> str:
        return "\n".join(self.lines())


def _sentinel_topology(client: Any) -> Topology:
    host, port = client.connection_pool.get_master_address()
    info = client.info("replication")
    primary = f"{host}:{port}"
    nodes = [NodeView(primary, "primary", offset=int(info.get("master_repl_offset", 0)))]
    for name, value in sorted(info.items()):
        if name.startswith("slave") and isinstance(value, dict):
            nodes.append(NodeView(f"{value['ip']}:{value['port']}", "replica", primary,
                                  offset=int(value.get("offset", 0)),
                                  state=str(value.get("state", ""))))
    return Topology(BackendKind.SENTINEL, tuple(nodes))


def _cluster_topology(client: Any) -> Topology:
    table = client.cluster_nodes()
    by_id = {entry["node_id"]: address for address, entry in table.items()}
    nodes = []
    for address, entry in sorted(table.items()):
        flags = entry.get("flags", "")
        if "fail" in flags and "pfail" not in flags:
            state = "failed"
        else:
            state = "connected" if entry.get("connected") else "disconnected"
        if "master" in flags:
            slots = tuple(sorted((int(r[0]), int(r[-1])) for r in entry.get("slots", [])))
            if slots or "fail" not in flags:  # a failed primary that lost its slots is gone
                nodes.append(NodeView(address, "primary", slots=slots, state=state))
        else:
            nodes.append(NodeView(address, "replica", by_id.get(entry.get("master_id")),
                                  state=state))
    return Topology(BackendKind.CLUSTER, tuple(nodes))


def topology(client: Any) -> Topology | None:
    """The nodes behind ``client``; None for a single server (there is nothing to show)."""
    if is_cluster(client):
        return _cluster_topology(client)
    if is_sentinel(client):
        return _sentinel_topology(client)
    return None
