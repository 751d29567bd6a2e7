"""A primary, its replicas and the Sentinels that watch it: real processes, in a temp folder.

The design's first "next step" (*Sentinel/Replication: alta disponibilidad*) on one machine:
``SentinelLab()`` starts a primary, 2 replicas (``--replicaof``) and 3 Sentinels
(``redis-server sentinel.conf --sentinel``) that agree, with a quorum of 2, when the primary is
down, and then promote a replica. Timings are short on purpose (``down-after-milliseconds
1000``, ``failover-timeout 3000``): a failover takes a few seconds, not a minute, so a lesson
or a test can watch one. Point the kit at it with :meth:`SentinelLab.env`.
"""

from __future__ import annotations

from collections.abc import Callable

import redis

from ..errors import RedisBackendError
from .binaries import KIT_SERVER
from .launchers import Launcher, Node, TlsFiles, wait_for

__all__ = ["SentinelLab"]


class SentinelLab(Launcher):
    """``replicas`` replicas of one primary, watched by ``sentinels`` Sentinels.

    ``password`` protects the data nodes *and* the Sentinels (one secret, as the kit's
    ``REDIS_SENTINELS`` form expects); ``tls`` makes every port TLS-only. ``stop()`` (also at
    exit) kills every process and removes the folder.
    """

    kind = "sentinel"

    def __init__(self, replicas: int = 2, sentinels: int = 3, *, master: str = "mymaster",
                 quorum: int = 2, down_after_ms: int = 1000, failover_timeout_ms: int = 3000,
                 password: str | None = None, tls: TlsFiles | None = None,
                 binary: str = KIT_SERVER) -> None:
        if replicas < 0 or sentinels < 1 or not 1 <= quorum <= sentinels:
            raise ValueError("need replicas >= 0, sentinels >= 1 and 1 <= quorum <= sentinels")
        super().__init__(password=password, tls=tls, binary=binary)
        self.replica_count = replicas
        self.sentinel_count = sentinels
        self.quorum = quorum
        self.master = master
        self.down_after_ms = down_after_ms
        self.failover_timeout_ms = failover_timeout_ms
        self.data: list[Node] = []
        self.sentinels: list[Node] = []
        self._first_primary = 0

    # --- starting ------------------------------------------------------------------------
    def _start(self) -> None:
        primary = self.spawn("primary", lambda port: [self.binary, *self.base_args(port)])
        self.data.append(primary)
        self._first_primary = primary.port
        for n in range(1, self.replica_count + 1):
            self.data.append(self.spawn(f"replica{n}", self._replica_args(primary)))
        # Sentinels start after the replicas are linked: a Sentinel finds replicas in the
        # primary's INFO, which it asks at start and then only every 10 s.
        self._wait_replicated(primary)
        for n in range(1, self.sentinel_count + 1):
            self.sentinels.append(self.spawn(f"sentinel{n}", self._sentinel_args))
        wait_for(self._sentinels_agree, 20, "the Sentinels to find the replicas and each other")

    def _replica_args(self, primary: Node) -> Callable[[int], list[str]]:
        return lambda port: [self.binary, *self.base_args(port), "--replicaof", "127.0.0.1",
                             str(primary.port)]

    def _sentinel_args(self, port: int) -> list[str]:
        """Write this Sentinel's own conf file (Sentinels rewrite it) and start from it."""
        folder = self.folder / f"sentinel-{port}"
        folder.mkdir(parents=True, exist_ok=True)
        lines = ["bind 127.0.0.1", f"dir {folder}"]
        if self.tls:
            lines += ["port 0", f"tls-port {port}", f"tls-cert-file {self.tls.cert}",
                      f"tls-key-file {self.tls.key}", f"tls-ca-cert-file {self.tls.ca}",
                      "tls-auth-clients no", "tls-replication yes"]
        else:
            lines.append(f"port {port}")
        lines += [f"sentinel monitor {self.master} 127.0.0.1 {self._first_primary} {self.quorum}",
                  f"sentinel down-after-milliseconds {self.master} {self.down_after_ms}",
                  f"sentinel failover-timeout {self.master} {self.failover_timeout_ms}",
                  f"sentinel parallel-syncs {self.master} 1"]
        if self.password:
            lines += [f"sentinel auth-pass {self.master} {self.password}",
                      f"requirepass {self.password}", f"sentinel sentinel-pass {self.password}"]
        conf = folder / "sentinel.conf"
        conf.write_text("\n".join(lines) + "\n")
        conf.chmod(0o600)  # it holds the password
        return [self.binary, str(conf), "--sentinel"]

    def _wait_replicated(self, primary: Node, replicas: int | None = None,
                         timeout: float = 60) -> None:  # a full resync on a busy machine
        want = self.replica_count if replicas is None else replicas
        with primary.client() as client:
            wait_for(lambda: sum(1 for k, v in client.info("replication").items()
                                 if k.startswith("slave") and isinstance(v, dict)
                                 and v.get("state") == "online") >= want,
                     timeout, f"{want} replica(s) of {primary.address} to be in sync")

    def _sentinels_agree(self) -> bool:
        for sentinel in self.sentinels:
            with sentinel.client(timeout=0.5) as client:
                state = client.sentinel_master(self.master)
            if (int(state["num-slaves"]) < self.live_replica_count()
                    or int(state["num-other-sentinels"]) < self.sentinel_count - 1):
                return False
        return True

    # --- what it is ----------------------------------------------------------------------
    @property
    def sentinel_addresses(self) -> list[str]:
        return [s.address for s in self.sentinels]

    def env(self) -> dict[str, str]:
        """The environment that points the kit at this lab (``helpdesk-kit lab`` prints it).

        With a password or TLS each address is a URL (``redis://:PASSWORD@host:port``): that
        secret is in the result, so never log it; :func:`~helpdesk_kit.config.redact_url`.
        """
        scheme = "rediss" if self.tls else "redis"
        auth = f":{self.password}@" if self.password else ""
        query = f"?ssl_ca_certs={self.tls.ca}" if self.tls else ""
        if auth or query:
            entries = [f"{scheme}://{auth}{a}{query}" for a in self.sentinel_addresses]
        else:
            entries = self.sentinel_addresses
        return {"HELPDESK_REDIS_BACKEND": "sentinel", "REDIS_SENTINELS": ",".join(entries),
                "REDIS_SENTINEL_MASTER": self.master}

    def primary_address(self) -> str | None:
        """``host:port`` of the primary as the first Sentinel that answers names it."""
        for sentinel in self.sentinels:
            if not sentinel.alive:
                continue
            try:
                with sentinel.client(timeout=0.5) as client:
                    host, port = client.sentinel_get_master_addr_by_name(self.master)
                return f"{host}:{port}"
            except (redis.RedisError, TypeError):  # down, busy, or it names nobody (None)
                continue
        return None

    def node_at(self, address: str | None) -> Node:
        for node in self.data:
            if node.address == address:
                return node
        raise RedisBackendError(f"no data node of this lab at {address}")

    def primary(self) -> Node:
        return self.node_at(self.primary_address())

    def live_replica_count(self) -> int:
        return sum(1 for node in self.data if node.alive) - 1

    # --- breaking it -----------------------------------------------------------------------
    def kill_primary(self) -> Node:
        """SIGKILL the current primary (no shutdown, no last write); returns its node."""
        node = self.primary()
        node.kill()
        return node

    def wait_for_new_primary(self, old: Node, timeout: float = 30) -> Node:
        """Wait until every Sentinel names another primary, healthy, and it answers as one.

        Not only ``GET-MASTER-ADDR-BY-NAME``: mid-failover it already names the promoted
        replica while ``SENTINEL MASTERS`` (what clients check) still flags the old one as
        down - a client cannot find the new primary until the switch is complete.
        """
        def promoted() -> bool:
            address = self.primary_address()
            if address is None or address == old.address:
                return False
            for sentinel in self.sentinels:
                with sentinel.client(timeout=0.5) as client:
                    state = client.sentinel_master(self.master)
                if (f"{state['ip']}:{state['port']}" != address or state["is_sdown"]
                        or state["is_odown"]):
                    return False
            with self.node_at(address).client(timeout=0.5) as client:
                return bool(client.info("replication")["role"] == "master")

        wait_for(promoted, timeout, f"the Sentinels to replace {old.address}")
        return self.primary()

    def wait_steady(self, timeout: float = 60) -> Node:
        """Wait until the set has settled, and return its primary.

        Settled: the node the Sentinels name answers ``ROLE`` as a primary, every live
        replica is in sync with it, and every Sentinel sees them all. Right after a drill (or
        when a busy machine made the Sentinels fail over on their own) the name can point at
        a node that is still, or again, a replica: a write there is refused (``READONLY``).
        """
        def named_primary_is_one() -> bool:
            address = self.primary_address()
            if address is None or not any(node.address == address for node in self.data):
                return False
            with self.node_at(address).client() as client:
                role = client.execute_command("ROLE")
            return role[0] in ("master", b"master")

        wait_for(named_primary_is_one, timeout, "the primary the Sentinels name to be one")
        primary = self.primary()
        self._wait_replicated(primary, self.live_replica_count(), timeout)
        wait_for(self._sentinels_agree, timeout, "the Sentinels to see every replica")
        return primary

    def restart(self, node: Node, timeout: float = 60) -> Node:
        """Bring a killed node back as a replica of today's primary (the old primary rejoins
        demoted: the Sentinels would demote it anyway). Waits until it is in sync and every
        Sentinel sees it, so the next failover can pick it.

        A replica the Sentinels have not yet moved to today's primary (they correct one only
        ``failover-timeout`` after it looked wrong, and a busy machine can make them miss the
        moment) is pointed at it after ``timeout / 4``, as an operator would (``REPLICAOF``);
        then up to ``timeout`` more for the resync. Fails with :class:`RedisBackendError`."""
        primary = self.primary()
        node.args = self._replica_args(primary)
        if not node.start():
            raise RedisBackendError(f"{node.address} is taken: cannot restart {node.name}")
        try:
            self._wait_replicated(primary, self.live_replica_count(), timeout / 4)
        except RedisBackendError:
            try:
                self._reattach(primary)
                self._wait_replicated(primary, self.live_replica_count(), timeout)
            except (RedisBackendError, redis.RedisError) as exc:
                raise RedisBackendError(f"{exc}; the data nodes say: {self._roles()}") from None
        wait_for(self._sentinels_agree, timeout, f"the Sentinels to see {node.address} again")
        return node

    def _roles(self) -> str:
        """Each live data node's role, its primary and its link (for an error message)."""
        said = []
        for other in (n for n in self.data if n.alive):
            try:
                with other.client(timeout=1.0) as client:
                    info = client.info("replication")
                link = info.get("master_link_status", "-")
                said.append(f"{other.address} {info.get('role')} of "
                            f"{info.get('master_port', '-')} link {link}")
            except redis.RedisError as exc:
                said.append(f"{other.address} did not answer ({exc})")
        return "; ".join(said)

    def _reattach(self, primary: Node) -> None:
        """``REPLICAOF`` today's primary on every live data node that follows another one."""
        for other in self.data:
            if other is primary or not other.alive:
                continue
            with other.client(timeout=1.0) as client:
                info = client.info("replication")
                if info.get("role") != "slave" or int(info.get("master_port", 0)) != primary.port:
                    client.replicaof("127.0.0.1", primary.port)
