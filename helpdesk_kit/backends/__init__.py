"""How the kit gets a Redis: a URL, a private redis-server, fakeredis, a Sentinel-managed
primary or a Cluster (see :func:`connect`); the local launchers of each
(:class:`RedisServer`, :class:`SentinelLab`, :class:`ClusterLab`); and the one way the kit
runs its Lua scripts on any of them (:mod:`.scripts`: a Functions library, EVALSHA where
there is none, per node on a cluster)."""

from __future__ import annotations

from .client import Backend, Capabilities, fail_fast_retry, probe
from .connection import FAKEREDIS_NOTICE, connect
from .launch_cluster import ClusterLab
from .launch_sentinel import SentinelLab
from .scan import delete_matching
from .server import RedisServer
from .topology import NodeView, Topology, topology

__all__ = [
    "FAKEREDIS_NOTICE",
    "Backend",
    "Capabilities",
    "ClusterLab",
    "NodeView",
    "RedisServer",
    "SentinelLab",
    "Topology",
    "connect",
    "delete_matching",
    "fail_fast_retry",
    "probe",
    "topology",
]
