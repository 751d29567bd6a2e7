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

Three shapes, because ``WAIT`` counts the writes of its own connection only:

- :func:`write_and_wait`: the writes and the ``WAIT`` in one pipeline on one connection (to
  the node that holds ``key``). The queue's ``durable=True`` uses it.
- :class:`Fences`: for writes made in a batch of their own (the cache's invalidation: a
  MULTI/EXEC, or a cluster pipeline over several nodes), planned *before* the batch, then a
  small write of their own on every primary, and ``WAIT``: the replication stream is ordered,
  so a replica that has the later write has the earlier ones. The plan is what makes it the
  *same* server. A client that follows a failover sends its next command to the new primary,
  which may never have had the batch (written on the old one a moment before it died, never
  replicated) and answers ``WAIT`` all the same. So on one server the batch carries a fresh
  token in its own MULTI (``SET <prefix>fence:<token> <token>``) and the confirmation reads it
  back on the connection that waits: no token there, no confirmation. On a cluster each
  confirmation goes to the node client the slot map named before the batch, pinned to its
  address: a primary that died or was demoted since answers with an error, never a ``WAIT``.
- :func:`wait_for_replicas`: the same wait for writes already made, with no plan before them
  (a pattern invalidation, many commands): it cannot tell a failover in between.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import redis
from redis.exceptions import RedisClusterException

from .cluster import ClusterUnavailableError, is_cluster, node_clients
from .sentinel import is_sentinel

__all__ = ["FENCE_TTL_MS", "Fences", "connected_replicas", "replicas_to_wait_for",
           "wait_for_replicas", "write_and_wait"]

#: The fence keys expire by themselves: they only move the replication offset and hold a
#: batch's token until it is read back, within a ``WAIT`` timeout (one key a batch: seconds).
FENCE_TTL_MS = 10_000


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
        try:
            name = client.get_node_from_key(key).name
            replicated = client.get_node_from_key(key, replica=True) is not None
        except RedisClusterException as exc:  # a slot without a node: mid-failover
            raise ClusterUnavailableError(str(exc)) from exc
        if name in wanted and name not in found:
            found[name] = (wanted[name], key) if replicated else None
        if len(found) == len(wanted):
            break
    return [pair for pair in found.values() if pair is not None]


def wait_for_replicas(client: Any, fence: str, timeout_ms: int) -> bool:
    """Wait until every replica connected to *every* primary has all writes made so far.

    ``fence`` starts the names of the small keys written on each primary first (e.g.
    ``prefix + "fence"``; they expire in seconds). True if all of them acknowledged within
    ``timeout_ms``; False means some write may not survive a failover now. With no plan made
    before the writes, a failover in between goes unseen (:class:`Fences` sees it).
    """
    return Fences.plan(client, fence, token_in_batch=False).confirm(timeout_ms) is None


@dataclass(frozen=True)
class Fences:
    """Where one batch of writes must be confirmed, planned before the batch runs: a fresh
    token, and for every primary with a replica its node client and a key for the token
    (``<base>:<token>``; on a cluster ``<base>:<token>{n}``, one per primary).

    :meth:`plan`, then run the batch with :meth:`write` last in it, then :meth:`confirm`
    (see the module). A primary the plan could not find a key for is not confirmed.
    """

    #: the client the batch runs on (a cluster's, or one server's)
    client: Any
    #: this batch's own token: 32 random hex digits
    token: str
    #: (the primary's node client, the key for the token there), one per primary
    keys: tuple[tuple[Any, str], ...]
    #: whether the batch writes the token itself (one server: inside its MULTI). Not on a
    #: cluster: a token for every primary in one pipeline would let one unreachable primary
    #: stop every invalidation; there the pinned node clients show it is the same server.
    token_in_batch: bool

    @classmethod
    def plan(cls, client: Any, base: str, *, token_in_batch: bool = True) -> Fences:
        """A new token, and its key on every primary that has a replica (``token_in_batch``:
        the batch will :meth:`write` it; one server only)."""
        token = uuid.uuid4().hex
        return cls(client, token, tuple(_fence_keys(client, f"{base}:{token}")),
                   token_in_batch and not is_cluster(client))

    def write(self, pipe: Any) -> None:
        """Queue ``SET <key> <token> PX`` on the batch's MULTI (one server; nothing on a
        cluster)."""
        if self.token_in_batch:
            for _node, key in self.keys:
                pipe.set(key, self.token, px=FENCE_TTL_MS)

    def confirm(self, timeout_ms: int) -> str | None:
        """None once every planned primary's connected replicas have all it ran before;
        otherwise why not. One connection each: ``GET`` the token (it must be there if the
        batch wrote it), ``SET`` it (this connection's own write, after the batch on this very
        server: what ``WAIT`` counts), ``WAIT``. Connection errors reach the caller."""
        for node, key in self.keys:
            try:
                wanted = connected_replicas(node)
                pipe = node.pipeline(transaction=False)
                pipe.get(key)
                pipe.set(key, self.token, px=FENCE_TTL_MS)
                pipe.execute_command("WAIT", max(1, wanted), timeout_ms)
                found, _, acknowledged = pipe.execute()
            except (redis.ConnectionError, redis.TimeoutError, redis.ResponseError):
                if is_cluster(self.client):  # a dead or demoted primary: read the slot map
                    self.client.nodes_manager.initialize()  # again, for the next plan
                raise
            if self.token_in_batch and found != self.token:
                return ("the primary that answered never ran it: a failover came in between, "
                        "and the old entry may be back already")
            if wanted < 1 or int(acknowledged) < wanted:
                return (f"{acknowledged} of {max(1, wanted)} replica(s) acknowledged within "
                        f"{timeout_ms} ms")
        return None
