"""A Redis Cluster of real processes: 3 primaries and 3 replicas on loopback, in a temp folder.

The design's last "next step" (*Cluster: escalado horizontal*): ``ClusterLab()`` starts six
``redis-server --cluster-enabled yes`` nodes and joins them with the cluster's own commands -
what ``redis-cli --cluster create ... --cluster-replicas 1`` sends, written out (so no
``redis-cli`` is needed: the embedded Valkey server ships without one): the 16,384 hash slots
split over 3 primaries (``CLUSTER ADDSLOTSRANGE``), every node introduced to the first
(``CLUSTER MEET``), each replica attached to its primary (``CLUSTER REPLICATE``). A replica
takes over when its primary dies (``cluster-node-timeout``, short here, decides how soon).
Point the kit at it with :meth:`ClusterLab.env`.
"""

from __future__ import annotations

from ..errors import RedisBackendError
from .binaries import KIT_SERVER
from .launchers import Launcher, Node, TlsFiles, free_port, wait_for

__all__ = ["ClusterLab", "slot_ranges"]

SLOTS = 16384


def slot_ranges(primaries: int) -> list[tuple[int, int]]:
    """The 16,384 slots split into ``primaries`` contiguous ranges, as redis-cli splits them
    (``[(0, 5460), (5461, 10922), (10923, 16383)]`` for three)."""
    size = SLOTS / primaries
    bounds = [round(size * n) for n in range(primaries + 1)]
    return [(bounds[n], bounds[n + 1] - 1) for n in range(primaries)]


class ClusterLab(Launcher):
    """``primaries`` primaries with ``replicas`` replicas each, as one Redis Cluster.

    ``node_timeout_ms`` is how long a node may be silent before the others call it failed
    (its replica is promoted a second or so later); ``password`` and ``tls`` apply to every
    node, the cluster bus and replication included.
    """

    kind = "cluster"

    def __init__(self, primaries: int = 3, replicas: int = 1, *, node_timeout_ms: int = 2000,
                 password: str | None = None, tls: TlsFiles | None = None,
                 binary: str = KIT_SERVER) -> None:
        if primaries < 3 or replicas < 0:
            raise ValueError("a Redis Cluster needs at least 3 primaries (and replicas >= 0)")
        super().__init__(password=password, tls=tls, binary=binary)
        self.primary_count = primaries
        self.replicas_each = replicas
        self.node_timeout_ms = node_timeout_ms
        self._bus: dict[int, int] = {}  # node port -> its cluster bus port (kept on restart)

    def _node_args(self, port: int) -> list[str]:
        bus = self._bus.setdefault(port, free_port())
        args = [self.binary, *self.base_args(port), "--cluster-enabled", "yes",
                "--cluster-config-file", "nodes.conf", "--cluster-port", str(bus),
                "--cluster-node-timeout", str(self.node_timeout_ms),
                "--repl-ping-replica-period", "1"]
        if self.tls:
            args += ["--tls-cluster", "yes"]
        return args

    def _start(self) -> None:
        total = self.primary_count * (1 + self.replicas_each)
        for n in range(1, total + 1):
            self.spawn(f"node{n}", self._node_args)
        self._create()
        wait_for(self._healthy, 30, "every node to report cluster_state:ok")
        wait_for(self._replicas_listed, 30, "every replica to be listed in CLUSTER SLOTS")

    def _create(self) -> None:
        """Join the nodes: slots to the primaries, everyone meets everyone, replicas follow."""
        primaries = self.nodes[:self.primary_count]
        replicas = self.nodes[self.primary_count:]
        for node, (first, last) in zip(primaries, slot_ranges(self.primary_count),
                                       strict=True):
            with node.client() as client:
                client.execute_command("CLUSTER", "ADDSLOTSRANGE", first, last)
        introducer = self.nodes[0]
        for node in self.nodes[1:]:
            with node.client() as client:  # gossip then tells the others about each other
                client.execute_command("CLUSTER", "MEET", "127.0.0.1", introducer.port,
                                       self._bus[introducer.port])
        wait_for(self._everyone_known, 30, "every node to know every other node")
        for index, node in enumerate(replicas):
            primary = primaries[index % self.primary_count]
            with primary.client() as client:
                primary_id = client.cluster("MYID")
            with node.client() as client:
                client.execute_command("CLUSTER", "REPLICATE", primary_id)

    def _everyone_known(self) -> bool:
        """Each node's ``CLUSTER NODES`` lists all of them (REPLICATE needs its primary known)."""
        for node in self.nodes:
            with node.client(timeout=0.5) as client:
                if len(client.cluster("NODES")) != len(self.nodes):
                    return False
        return True

    def _replicas_listed(self) -> bool:
        """``CLUSTER SLOTS`` names each range's replicas. A replica stays out of it while its
        replication offset is still 0 (the cluster calls it "loading"), and redis-py then does
        not know it: a client made now could not read from it. Its primary's first PING
        (``repl-ping-replica-period``, one second in the lab) moves the offset."""
        with self.nodes[0].client(timeout=0.5) as client:
            ranges = client.execute_command("CLUSTER", "SLOTS")
        return all(len(entry) - 2 == 1 + self.replicas_each for entry in ranges)

    def _healthy(self) -> bool:
        """Every live node: state ok, all slots served, the same number of primaries in its
        view as there should be (gossip has told it who replicates whom), replicas in sync."""
        live = [n for n in self.nodes if n.alive]
        for node in live:
            with node.client(timeout=0.5) as client:
                info = client.cluster("INFO")
                if (info.get("cluster_state") != "ok"
                        or int(info.get("cluster_slots_ok", 0)) != SLOTS):
                    return False
                view = client.cluster("NODES")  # {address: {"flags": ...}}
                masters = [n for n in view.values()
                           if "master" in n["flags"] and "fail" not in n["flags"]]
                if len(masters) != self.primary_count:
                    return False
                role = client.info("replication")
            if role["role"] == "slave" and role.get("master_link_status") != "up":
                return False
        return True

    # --- what it is ----------------------------------------------------------------------
    def url(self, node: Node | None = None) -> str:
        """``redis://host:port`` of one node (any will do: the client finds the others).

        With a password it is in the URL: never log it (:func:`~helpdesk_kit.config.redact_url`).
        """
        target = node or next(n for n in self.nodes if n.alive)
        scheme = "rediss" if self.tls else "redis"
        auth = f":{self.password}@" if self.password else ""
        query = f"?ssl_ca_certs={self.tls.ca}" if self.tls else ""
        return f"{scheme}://{auth}{target.address}{query}"

    def urls(self) -> str:
        """Every live node, comma-separated: the first as a URL (its password and TLS apply
        to all), the rest as ``host:port`` - a new process then needs any one of them up."""
        live = [n for n in self.nodes if n.alive]
        return ",".join([self.url(live[0]), *(n.address for n in live[1:])])

    def env(self) -> dict[str, str]:
        """The environment that points the kit at this cluster (``helpdesk-kit lab`` prints
        it): every node is named, so one dead node never stops a new process."""
        return {"HELPDESK_REDIS_BACKEND": "cluster", "REDIS_CLUSTER_URL": self.urls()}

    def roles(self) -> dict[str, str]:
        """``{"127.0.0.1:P": "master" | "slave"}`` for every live node, each asked itself."""
        result = {}
        for node in self.nodes:
            if node.alive:
                with node.client(timeout=0.5) as client:
                    result[node.address] = str(client.info("replication")["role"])
        return result

    def primaries(self) -> list[Node]:
        roles = self.roles()
        return [n for n in self.nodes if roles.get(n.address) == "master"]

    def replica_of(self, primary: Node) -> Node | None:
        """The live replica that follows ``primary`` now (the one that would take over)."""
        for node in self.nodes:
            if node.alive and node is not primary:
                with node.client(timeout=0.5) as client:
                    info = client.info("replication")
                if (info["role"] == "slave"
                        and int(info.get("master_port", 0)) == primary.port):
                    return node
        return None

    # --- breaking it -----------------------------------------------------------------------
    def kill(self, node: Node) -> Node:
        """SIGKILL one node: a crash, no goodbye to the other nodes."""
        node.kill()
        return node

    def wait_for_failover(self, timeout: float = 30) -> None:
        """Wait until every slot is served again (a replica took over the dead primary's)."""
        wait_for(self._healthy, timeout, "the cluster to serve every slot again")

    def restart(self, node: Node, timeout: float = 30) -> Node:
        """Start a killed node again on its port; it rejoins (as a replica if it was replaced)."""
        if not node.start():
            raise RedisBackendError(f"{node.address} is taken: cannot restart {node.name}")
        wait_for(self._healthy, timeout, f"{node.address} to rejoin the cluster")
        return node
