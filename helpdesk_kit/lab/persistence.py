"""Lesson 17: crash a Redis in the middle of the helpdesk's enqueues, and count what is lost.

:func:`crash_under_load` runs one drill on a fresh server of a
:class:`~helpdesk_kit.backends.launch_persistent.PersistentServers` lab:

1. a producer thread enqueues the helpdesk's ``send_notifications`` tasks one by one, the way
   the app does after a comment (``RPUSH tasks:pending``), and notes the id of every task whose
   push Redis *acknowledged*, with how long the push took;
2. for an RDB drill, after ``snapshot_at`` acknowledged pushes it takes a snapshot (``BGSAVE``,
   then waits until ``INFO persistence`` says it is written) and carries on;
3. once ``pushes`` are acknowledged the server gets ``SIGKILL`` while the producer is still
   pushing: the push in flight is never acknowledged;
4. the server is started again from its files, and every acknowledged id is looked for in
   ``tasks:pending``.

The :class:`CrashRun` it returns counts acknowledged, recovered and **lost** tasks (acknowledged
and not there after the restart), and the tasks found that were never acknowledged (applied,
but the reply died with the server: a producer that retries them enqueues them twice). A drill
reads the clock only to time the pushes, which are reported, never judged.
"""

from __future__ import annotations

import statistics
import threading
import time
from dataclasses import dataclass, field

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from ..app import helpdesk_queue
from ..backends.launch_persistent import PersistentServers, persistence_config
from ..backends.launchers import Node, wait_for
from ..keys import KeySchema
from ..queue import Task
from ..vocab import FsyncPolicy, Persistence

__all__ = ["CrashRun", "crash_under_load", "queued_ids", "snapshot_now"]

#: What each drill pushes: the notification ``add_comment`` enqueues (ticket 7, user 3).
PAYLOAD = {"ticketId": 7, "usuarioId": 3, "tipo": "comentario_agregado"}


@dataclass
class CrashRun:
    """One drill: what the producer was told, and what the restarted server had."""

    label: str
    #: ids of the tasks whose push Redis acknowledged, in order
    acknowledged: list[str] = field(default_factory=list)
    #: seconds each acknowledged push took (the producer's view: round trip and any fsync)
    push_seconds: list[float] = field(default_factory=list)
    #: how many pushes the RDB snapshot holds (None: no snapshot was taken)
    snapshot: int | None = None
    #: ids found in ``tasks:pending`` after the restart
    recovered: list[str] = field(default_factory=list)

    @property
    def lost(self) -> int:
        """Acknowledged, then gone: the producer was told "queued" and nobody will run it."""
        return len(set(self.acknowledged) - set(self.recovered))

    @property
    def unacknowledged_kept(self) -> int:
        """Found after the restart though never acknowledged (the push the kill cut off)."""
        return len(set(self.recovered) - set(self.acknowledged))

    @property
    def median_push_s(self) -> float:
        return statistics.median(self.push_seconds) if self.push_seconds else float("nan")

    def __str__(self) -> str:
        return (f"{self.label}: {len(self.acknowledged)} acknowledged, "
                f"{len(self.recovered)} after the restart, {self.lost} lost")


def queued_ids(client: redis.Redis, keys: KeySchema) -> list[str]:
    """The ids of the tasks in ``tasks:pending`` (``LRANGE 0 -1``), in queue order."""
    return [Task.from_json(raw).id for raw in client.lrange(keys.tasks_pending, 0, -1)]


def snapshot_now(client: redis.Redis, timeout: float = 30.0) -> None:
    """``BGSAVE``, then wait until the child has written the snapshot and the server has taken
    it in (``rdb_bgsave_in_progress:0``); raise if it failed (``rdb_last_bgsave_status``).

    The snapshot holds every write acknowledged before ``BGSAVE`` answered: the fork happens
    inside the command.
    """
    client.bgsave()
    wait_for(lambda: client.info("persistence")["rdb_bgsave_in_progress"] == 0, timeout,
             "the BGSAVE to finish")
    status = client.info("persistence")["rdb_last_bgsave_status"]
    if status != "ok":
        raise redis.RedisError(f"BGSAVE failed: rdb_last_bgsave_status is {status!r}")


def crash_under_load(servers: PersistentServers, persistence: Persistence,
                     fsync: FsyncPolicy = FsyncPolicy.EVERYSEC, *, pushes: int = 300,
                     snapshot_at: int | None = None, keys: KeySchema | None = None) -> CrashRun:
    """Start a server kept by ``persistence``, kill it under load, restart it, count.

    ``snapshot_at`` (RDB): take a ``BGSAVE`` after that many acknowledged pushes. The server
    and its files are removed at the end; the lab itself stays up for the next drill.
    """
    keys = keys or KeySchema(prefix="drill:")
    label = persistence if persistence != Persistence.AOF else f"aof, appendfsync {fsync}"
    name = str(label).replace(", appendfsync ", "-")
    node = servers.add(name, persistence_config(persistence, fsync))
    run = CrashRun(str(label))
    try:
        producer = threading.Thread(target=_produce, args=(node, keys, run, snapshot_at),
                                    name=f"producer-{name}", daemon=True)
        producer.start()
        while len(run.acknowledged) < pushes and producer.is_alive():
            time.sleep(0.0005)
        servers.crash(node)  # mid-load: the producer is pushing right now
        producer.join(10)
        servers.restart(node)
        client = node.client()
        try:
            run.recovered = queued_ids(client, keys)
        finally:
            client.close()
    finally:
        servers.remove(node)
    return run


def _produce(node: Node, keys: KeySchema, run: CrashRun, snapshot_at: int | None) -> None:
    """Push until the server dies; never retry (a retried push may be a second copy)."""
    client = node.client(timeout=5.0, retry=Retry(NoBackoff(), 0))
    queue = helpdesk_queue(client, keys)
    try:
        while True:
            task = queue.make_task("send_notifications", PAYLOAD)
            started = time.perf_counter()
            try:
                queue.enqueue_task(task)
            except redis.RedisError:  # the kill: this push was never acknowledged
                return
            run.push_seconds.append(time.perf_counter() - started)
            run.acknowledged.append(task.id)
            if snapshot_at is not None and len(run.acknowledged) == snapshot_at:
                snapshot_now(client)
                run.snapshot = snapshot_at
    finally:
        client.close()
