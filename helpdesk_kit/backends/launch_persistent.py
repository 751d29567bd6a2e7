"""Private redis-servers that keep their data on disk: started, crashed and started again.

Every other launcher of the kit starts Redis with ``--save "" --appendonly no``: its data dies
with the process, which is what a cache wants. Lesson 17 asks what survives, so here each
server is a :class:`~helpdesk_kit.backends.launchers.Node` in its own folder, started from its
own ``redis.conf``:

* its data files (``dump.rdb``, the AOF directory ``appendonlydir/``) live in that folder and
  outlive the process, so a restart loads whatever the server left on disk;
* the server knows its config file, so ``CONFIG REWRITE`` has a file to write, and a restart
  reads what was written - and only that: a ``CONFIG SET`` nobody rewrote is gone;
* :meth:`PersistentServers.crash` is ``SIGKILL`` (no shutdown, no last save), and
  :meth:`PersistentServers.restart` starts the same command line on the same port.

The folder and every server go when :meth:`~helpdesk_kit.backends.launchers.Launcher.stop`
runs (also at exit).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from ..errors import RedisBackendError
from ..vocab import FsyncPolicy, Persistence
from .launchers import Launcher, Node

__all__ = ["PersistentServers", "persistence_config"]

#: The name of each server's config file, in its folder.
CONFIG_FILE = "redis.conf"


def persistence_config(persistence: Persistence, fsync: FsyncPolicy = FsyncPolicy.EVERYSEC
                       ) -> dict[str, str]:
    """The ``redis.conf`` lines (name -> value) for one way of keeping data.

    RDB here has no automatic ``save`` points: the lesson takes its snapshots itself
    (``BGSAVE``), so it knows exactly which writes a snapshot holds. ``fsync`` matters for AOF
    only.
    """
    if persistence == Persistence.NONE:
        return {"save": '""', "appendonly": "no"}
    if persistence == Persistence.RDB:
        return {"save": '""', "appendonly": "no", "dbfilename": "dump.rdb"}
    return {"save": '""', "appendonly": "yes", "appendfsync": str(fsync)}


class PersistentServers(Launcher):
    """redis-servers with a folder and a ``redis.conf`` each, added one by one with
    :meth:`add`; crash them (SIGKILL) and start them again on the same port."""

    kind = "persistence"

    def _start(self) -> None:
        """Nothing to start up front: :meth:`add` starts each server when it is wanted."""

    def __enter__(self) -> PersistentServers:
        self.start()
        return self

    def add(self, name: str, config: dict[str, str]) -> Node:
        """Write ``<folder>/<name>/redis.conf`` from ``config`` and start a server from it.

        The file holds every setting except the port (given on the command line, a free one);
        ``bind`` is loopback only and ``dir`` the server's folder, where its data files go.
        """
        folder = self.folder / name
        if folder.exists():
            raise RedisBackendError(f"a server named {name!r} was added already")
        folder.mkdir(parents=True)
        lines = ["bind 127.0.0.1", f"dir {folder}", *(f"{k} {v}" for k, v in config.items())]
        conf = folder / CONFIG_FILE
        conf.write_text("\n".join(lines) + "\n")
        conf.chmod(0o600)
        return self.spawn(name, lambda port: [self.binary, str(conf), "--port", str(port)])

    def crash(self, node: Node) -> None:
        """SIGKILL: the process ends at once - no shutdown, no save, no last AOF write."""
        node.kill()

    def restart(self, node: Node) -> Node:
        """Start the same config file on the same port; returns once it answers PING (after
        it has loaded whatever it finds on disk)."""
        if not node.start(timeout=30.0):
            raise RedisBackendError(f"{node.address} is taken: cannot restart {node.name}")
        return node

    def remove(self, node: Node) -> None:
        """Stop ``node`` and delete its folder, data files included."""
        node.stop()
        self.nodes.remove(node)
        shutil.rmtree(node.folder, ignore_errors=True)

    @staticmethod
    def data_files(node: Node) -> list[str]:
        """The files the server wrote in its folder (its log and config left out), sorted,
        relative to the folder: ``dump.rdb``, ``appendonlydir/appendonly.aof.1.incr.aof``..."""
        skip = {CONFIG_FILE, node.log.name}
        return sorted(str(path.relative_to(node.folder)) for path in Path(node.folder).rglob("*")
                      if path.is_file() and path.name not in skip)
