"""Wait for a replica (``WAIT``): make an acknowledged write survive a failover.

Replication is asynchronous: a primary answers "OK" before its replicas have the write. If it
dies in that moment, the replica promoted in its place never had it - a task the producer was
told is queued, or an invalidation the writer was told is done, is gone. ``WAIT n timeout``
blocks until ``n`` replicas acknowledged every earlier write *of this connection* and returns
how many did.

**How many replicas?** ``WAIT 1`` is the classic answer, and it is not enough with two
replicas: the Sentinels promote the replica *they believe* is furthest along, from offsets they
read a moment ago, so the one that did not acknowledge yet can win - measured here, it did,
and a confirmed invalidation came back stale. So the kit waits for **every replica connected
now** (``ROLE`` lists them; at least one): whichever is promoted has the write.

Two shapes, because ``WAIT`` counts the writes of its own connection only:

- :func:`write_and_wait`: the writes and the ``WAIT`` in one pipeline on one connection (to
  the node that holds ``key``). The queue's ``durable=True`` uses it.
- :func:`wait_for_replicas`: after writes made elsewhere (a MULTI/EXEC, a cluster pipeline
  over several nodes), a small write of its own on every primary, then ``WAIT``: the
  replication stream is ordered, so a replica that has the later write has the earlier ones.
  The cache's invalidation uses it on Sentinel and Cluster backends.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import redis

from .cluster import is_cluster, node_clients
from .sentinel import is_sentinel

__all__ = ["FENCE_TTL_MS", "connected_replicas", "replicas_to_wait_for", "wait_for_replicas",
           "write_and_wait"]

#: The fence keys expire by themselves: they only exist to move the replication offset.
FENCE_TTL_MS = 60_000


def replicas_to_wait_for(client: Any) -> int:
    """1 on a replicated backend (a Sentinel-managed primary, a cluster with replicas), else 0.

    One server has no replica to wait for and no failover to survive; fakeredis neither.
    """
    if is_cluster(client):
        return 1 if client.get_replicas() else 0
    return 1 if is_sentinel(client) else 0


def _node_for(client: Any, key: str) -> redis.Redis:
    """The plain client of the node that serves ``key`` (the client itself off a cluster)."""
    if not is_cluster(client):
        return client
    return client.get_redis_connection(client.get_node_from_key(key))


def connected_replicas(node: Any) -> int:
    """How many replicas are connected to this primary now (``ROLE``; 0 on a replica)."""
    role = node.execute_command("ROLE")
    return len(role[2]) if role and role[0] == "master" else 0


def write_and_wait(client: Any, key: str, build: Callable[[Any], object],
                   timeout_ms: int, replicas: int | None = None) -> tuple[list[Any], bool]:
    """Run ``build(pipe)`` then ``WAIT`` on one connection to ``key``'s node. Returns (the
    writes' replies, whether enough replicas acknowledged them).

    ``replicas`` is how many must: None waits for every replica connected now (``ROLE``, one
    more round trip; at least one must be connected), a number waits for that many. Every
    command ``build`` queues must be for keys in ``key``'s slot (the queue's keys share the
    ``{tasks}`` tag). A WAIT that times out undoes nothing: the writes stay applied on the
    primary, and may or may not reach a replica later.
    """
    node = _node_for(client, key)
    wanted = connected_replicas(node) if replicas is None else replicas
    pipe = node.pipeline(transaction=False)
    build(pipe)
    pipe.execute_command("WAIT", max(1, wanted), timeout_ms)
    *replies, acknowledged = pipe.execute()
    return replies, wanted >= 1 and int(acknowledged) >= wanted


def _fence_keys(client: Any, base: str) -> list[tuple[redis.Redis, str]]:
    """One (node client, key that node serves) per primary that has a replica:
    ``{base}{0}``, ``{base}{1}``... (a primary without one has nothing a failover could
    promote, so nothing to wait for: after its replica took over, until another joins)."""
    if not is_cluster(client):
        return [(client, base)]
    wanted = dict(node_clients(client))
    found: dict[str, tuple[redis.Redis, str] | None] = {}
    for n in range(100 * len(wanted)):  # ~len(wanted) tries each; bounded all the same
        key = f"{base}{{{n}}}"
        name = client.get_node_from_key(key).name
        if name in wanted and name not in found:
            replicated = client.get_node_from_key(key, replica=True) is not None
            found[name] = (wanted[name], key) if replicated else None
        if len(found) == len(wanted):
            break
    return [pair for pair in found.values() if pair is not None]


def wait_for_replicas(client: Any, fence: str, timeout_ms: int) -> bool:
    """Wait until every replica connected to *every* primary has all writes made so far.

    ``fence`` names the small key written on each primary first (e.g. ``prefix + "fence"``;
    it expires after a minute). True if all of them acknowledged within ``timeout_ms``;
    False means some write may not survive a failover now.
    """
    for node, key in _fence_keys(client, fence):
        try:
            wanted = connected_replicas(node)
            pipe = node.pipeline(transaction=False)
            pipe.set(key, "1", px=FENCE_TTL_MS)
            pipe.execute_command("WAIT", max(1, wanted), timeout_ms)
            if wanted < 1 or int(pipe.execute()[-1]) < wanted:
                return False
        except (redis.ConnectionError, redis.TimeoutError, redis.ResponseError):
            if is_cluster(client):  # a dead or demoted primary: read the slot map again,
                client.nodes_manager.initialize()  # so the next call fences the new one
            raise
    return True
