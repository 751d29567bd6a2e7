"""Real redis-server processes on loopback ports: the pieces the Sentinel and Cluster labs use.

A :class:`Node` is one ``redis-server`` on ``127.0.0.1:<free port>`` in its own folder (a data
node, a Sentinel or a cluster node: Debian's one binary is all three). A :class:`Launcher` owns
a temporary folder and the nodes in it: ``stop()`` (also run at exit, and by a failed
``start()``) kills every one of them and removes the folder, so a lab leaves nothing behind.
The two setups themselves are :class:`~helpdesk_kit.backends.launch_sentinel.SentinelLab`
and :class:`~helpdesk_kit.backends.launch_cluster.ClusterLab`.

Ports are picked free (a bind to port 0) and may still be taken by someone else before the
server binds them: :meth:`Launcher.spawn` then tries another one.
"""

from __future__ import annotations

import atexit
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis

from ..errors import RedisBackendError
from ..processes import stop_process
from .binaries import KIT_SERVER, server_program
from .client import fail_fast_retry

__all__ = ["Launcher", "Node", "TlsFiles", "free_port", "wait_for"]

#: What redis-server logs when the port was taken between ``free_port()`` and its bind.
_PORT_TAKEN = "Address already in use"
_HOST = "127.0.0.1"


def free_port() -> int:
    """A loopback TCP port nobody listens on right now (labs never use fixed ports)."""
    with socket.socket() as s:
        s.bind((_HOST, 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class TlsFiles:
    """A certificate, its key and the CA that signed it (PEM files): every node speaks TLS."""

    cert: Path
    key: Path
    ca: Path

    def server_args(self) -> list[str]:
        """The options that make a node TLS-only, replicate and gossip over TLS too."""
        return ["--tls-cert-file", str(self.cert), "--tls-key-file", str(self.key),
                "--tls-ca-cert-file", str(self.ca), "--tls-auth-clients", "no",
                "--tls-replication", "yes"]

    def client_kwargs(self) -> dict[str, Any]:
        return {"ssl": True, "ssl_ca_certs": str(self.ca)}


class Node:
    """One ``redis-server`` process on ``127.0.0.1:port``, its files in ``folder``.

    ``args(port)`` gives the command line for a port, so a restart (after ``kill()``) can
    bind the same port again: clients and Sentinels know a node by its address.
    """

    def __init__(self, name: str, folder: Path, args: Callable[[int], list[str]], port: int,
                 password: str | None, tls: TlsFiles | None) -> None:
        self.name = name
        self.folder = folder
        self.args = args
        self.port = port
        self.password = password
        self.tls = tls
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"{_HOST}:{self.port}"

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @property
    def log(self) -> Path:
        return self.folder / "redis.log"

    def client(self, timeout: float = 2.0, **kwargs: Any) -> redis.Redis:
        """A client of this one node (not cluster-aware, not Sentinel-aware)."""
        options: dict[str, Any] = {"decode_responses": True, "socket_timeout": timeout,
                                   "socket_connect_timeout": timeout, "retry": fail_fast_retry(),
                                   "password": self.password}
        options.update(self.tls.client_kwargs() if self.tls else {})
        options.update(kwargs)
        return redis.Redis(_HOST, self.port, **options)

    def start(self, timeout: float = 10.0) -> bool:
        """Start and wait until it answers PING. False if the port was taken meanwhile."""
        self.folder.mkdir(parents=True, exist_ok=True)
        with self.log.open("wb") as out:  # a fresh log: it says why *this* start failed
            self.process = subprocess.Popen(self.args(self.port), stdout=out,
                                            stderr=subprocess.STDOUT, cwd=self.folder)
        deadline = time.monotonic() + timeout
        probe = self.client(timeout=0.5)
        try:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    text = self.log.read_text(errors="replace")
                    if _PORT_TAKEN in text:
                        return False
                    raise RedisBackendError(
                        f"redis-server ({self.name}) exited at start: {text.strip()[-400:]}")
                try:
                    if probe.ping():
                        return True
                except redis.RedisError:  # not listening yet (or still loading)
                    time.sleep(0.02)
        finally:
            probe.close()
        raise RedisBackendError(f"redis-server ({self.name}) did not answer within {timeout} s")

    def kill(self) -> None:
        """SIGKILL: no shutdown, no last write - a crash, as the failover drills want."""
        if self.alive:
            assert self.process is not None
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()

    def stop(self) -> None:
        stop_process(self.process)
        self.process = None


class Launcher:
    """A temporary folder of :class:`Node` processes, stopped and removed together."""

    #: Folder name prefix in the temp dir (one per kind of lab).
    kind = "lab"

    def __init__(self, *, password: str | None = None, tls: TlsFiles | None = None,
                 binary: str = KIT_SERVER) -> None:
        self.binary = server_program(binary)
        self.password = password
        self.tls = tls
        self.folder = Path(tempfile.mkdtemp(prefix=f"helpdesk-{self.kind}-"))
        self.nodes: list[Node] = []
        atexit.register(self.stop)

    def base_args(self, port: int) -> list[str]:
        """What every data node gets: loopback only, no persistence, maybe TLS and a password.

        ``repl-diskless-sync-delay 0``: a primary sends a new replica its data at once instead
        of waiting 5 s for more replicas to share the transfer (a lab starts in ~1 s, not 6).
        """
        args = ["--bind", _HOST, "--save", "", "--appendonly", "no",
                "--repl-diskless-sync-delay", "0"]
        if self.tls:
            args += ["--port", "0", "--tls-port", str(port), *self.tls.server_args()]
        else:
            args += ["--port", str(port)]
        if self.password:
            args += ["--requirepass", self.password, "--masterauth", self.password]
        return args

    def spawn(self, name: str, args: Callable[[int], list[str]], attempts: int = 5) -> Node:
        """Start a node on a free port (another one if that port got taken); keep it."""
        for _ in range(attempts):
            node = Node(name, self.folder / name, args, free_port(), self.password, self.tls)
            if node.start():
                self.nodes.append(node)
                return node
            node.stop()
        raise RedisBackendError(f"no free port for {name} in {attempts} attempts")

    def start(self) -> Launcher:
        """Start everything; on any failure stop what did start, then raise."""
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        """Stop every node and remove the folder (safe to call twice)."""
        for node in self.nodes:
            node.stop()
        shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> Launcher:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def wait_for(condition: Callable[[], bool], timeout: float, what: str,
             poll: float = 0.05) -> None:
    """Poll ``condition`` (Redis errors count as "not yet") until true; else raise."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if condition():
                return
        except redis.RedisError:
            pass
        time.sleep(poll)
    raise RedisBackendError(f"timed out after {timeout} s waiting for {what}")
