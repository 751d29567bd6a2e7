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
  The cache's pattern invalidation uses it on Sentinel and Cluster backends.
- :class:`Fences`: the same, *proved on the right server*. A client that follows a failover
  sends its next command to the new primary: writes applied on the old one a moment before it
  died, never replicated, and a ``WAIT`` answered by the new one would look confirmed while
  the new primary lacks them. So the writes themselves carry a fresh token (``SET
  fence:<token> <token>``, in the same MULTI, or on each node's connection of a cluster
  pipeline), and the confirmation reads it back, writes, and waits, on one connection: a
  server without the token did not run those writes, and nothing is confirmed. The cache's
  invalidation by key uses it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import redis

from .cluster import is_cluster, node_clients
from .sentinel import is_sentinel

__all__ = ["FENCE_TTL_MS", "TOKEN_TTL_MS", "Fences", "connected_replicas", "replicas_to_wait_for",
           "wait_for_replicas", "write_and_wait"]

#: The fence keys expire by themselves: they only exist to move the replication offset, and to
#: show which server ran a batch of writes, for the moment it takes to confirm them.
FENCE_TTL_MS = 60_000
#: A batch's token (:class:`Fences`) is read back right after the batch, within a
#: ``WAIT`` timeout: it need not outlive that by much (one key per batch, so not a minute).
TOKEN_TTL_MS = 10_000


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


@dataclass(frozen=True)
class Fences:
    """One batch of writes' proof of where it ran: a fresh token, and the key on each primary
    that holds it (``{base}:<token>``; on a cluster ``{base}:<token>{n}``, one per primary).

    :meth:`plan` them, :meth:`write` them into the batch's own pipeline (after its writes),
    then :meth:`confirm`: on each primary, the token must be there and every replica
    connected there must have it.
    """

    #: the client the batch runs on (a cluster's, or one server's)
    client: Any
    #: this batch's own token: 32 random hex digits
    token: str
    #: (the primary's own client, the key it holds the token in), one per primary
    keys: tuple[tuple[Any, str], ...]

    @classmethod
    def plan(cls, client: Any, base: str) -> Fences:
        """A new token, and its key on every primary that has a replica."""
        token = uuid.uuid4().hex
        return cls(client, token, tuple(_fence_keys(client, f"{base}:{token}")))

    def write(self, pipe: Any) -> None:
        """Queue ``SET <key> <token> PX`` for every primary on the batch's pipeline (a
        MULTI on one server; a cluster pipeline sends each on that node's connection, after
        the node's other writes)."""
        for _node, key in self.keys:
            pipe.set(key, self.token, px=TOKEN_TTL_MS)

    def confirm(self, timeout_ms: int) -> bool:
        """True if, on every primary, the token is there and every connected replica has
        it within ``timeout_ms``. One connection each: ``GET`` the token, ``PEXPIRE`` it (a
        write of this connection, after the batch on this very server: what ``WAIT``
        counts), ``WAIT``. Connection errors reach the caller."""
        for node, key in self.keys:
            try:
                wanted = connected_replicas(node)
                pipe = node.pipeline(transaction=False)
                pipe.get(key)
                pipe.pexpire(key, TOKEN_TTL_MS)
                pipe.execute_command("WAIT", max(1, wanted), timeout_ms)
                found, _, acknowledged = pipe.execute()
            except (redis.ConnectionError, redis.TimeoutError, redis.ResponseError):
                if is_cluster(self.client):  # read the slot map again, as wait_for_replicas
                    self.client.nodes_manager.initialize()
                raise
            if found not in (self.token, self.token.encode()):
                return False  # this server never ran the batch: a failover in between
            if wanted < 1 or int(acknowledged) < wanted:
                return False
        return True
