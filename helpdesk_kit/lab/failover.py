"""Failover drills: SIGKILL the primary under load, and measure what the kit lived through.

:func:`sentinel_drill` kills a :class:`~helpdesk_kit.backends.SentinelLab`'s primary (the
Sentinels promote a replica); :func:`cluster_drill` kills the
:class:`~helpdesk_kit.backends.ClusterLab` primary that serves the queue's ``{tasks}`` slot (its
replica takes over). Both run the helpdesk's load through it
(:func:`~helpdesk_kit.lab.failover_load.run_drill`: readers, a writer, a producer, a worker)
and return a :class:`~helpdesk_kit.lab.failover_load.DrillReport`: read and write outage,
seconds until the new primary serves, acknowledged tasks lost, stale cache entries, keys per
node before and after. ``durable=True`` makes the queue ``WAIT`` for every replica connected
at the time after each push, and raise when they do not all acknowledge it: a push the
producer was told is queued is then on every replica it could see. That narrows the loss; it
does not rule it out (``WAIT`` "does not make Redis a strongly consistent store").
"""

from __future__ import annotations

import dataclasses
import threading
from dataclasses import dataclass
from typing import Any

import redis

from ..backends import ClusterLab, SentinelLab, connect
from ..backends.cluster import is_cluster
from ..backends.connection import close_backend
from ..config import Settings
from ..db import HelpdeskStore
from ..errors import TaskError
from ..keys import KeySchema
from ..queue import TaskQueue
from .failover_load import DrillReport, Event, probe_registry, run_drill

__all__ = ["DrillReport", "Event", "GapResult", "cluster_drill", "replication_gap",
           "sentinel_drill"]


def _dbsize(node: Any) -> int:
    with node.client(timeout=1.0) as client:
        return int(client.dbsize())


def sentinel_drill(lab: SentinelLab, store: HelpdeskStore, keys: KeySchema, *,
                   durable: bool = False, reruns: int = 2, **options: Any) -> DrillReport:
    """A drill on a :class:`SentinelLab`: kill its primary, the Sentinels promote a replica.

    The lab keeps the dead node dead: ``lab.restart(lab.node_at(report.killed))`` brings it
    back as a replica (the next drill needs a replica to promote). A run that was not
    *steady* - the Sentinels had begun a failover of their own before the kill, or the new
    primary served sooner than they can even notice a dead one (``down-after-milliseconds``)
    - is set aside and run again, up to ``reruns`` times, under a new prefix; the report
    counts them (``unsteady_runs``) and its summary says so.
    """
    noticed_s = lab.down_after_ms / 1000
    attempt = 0
    while True:
        prefix = f"{keys.prefix}rerun{attempt}:" if attempt else keys.prefix
        report = _sentinel_run(lab, store, dataclasses.replace(keys, prefix=prefix),
                               durable, options)
        report.steady = report.steady and report.new_primary_serves_s >= noticed_s
        report.unsteady_runs = attempt
        if report.steady or attempt == reruns:
            return report
        lab.restart(lab.node_at(report.killed))
        attempt += 1


def _sentinel_run(lab: SentinelLab, store: HelpdeskStore, keys: KeySchema, durable: bool,
                  options: dict[str, Any]) -> DrillReport:
    backend = connect(Settings.from_env({**lab.env(), "REDIS_SOCKET_TIMEOUT": "0.5"}))
    killed: list[Any] = []

    def kill() -> str:
        killed.append(lab.kill_primary())
        return str(killed[0].address)

    try:
        return run_drill(
            backend.client, store, keys, kind="sentinel", kill=kill,
            wait_promoted=lambda: lab.wait_for_new_primary(killed[0]).address,
            who=lab.primary_address,
            keys_per_node=lambda: {lab.primary().address: _dbsize(lab.primary())},
            probe_key=f"{keys.tasks_pending}:probe", durable=durable, **options)
    finally:
        close_backend(backend)


def cluster_drill(lab: ClusterLab, store: HelpdeskStore, keys: KeySchema, *,
                  durable: bool = False, **options: Any) -> DrillReport:
    """A drill on a :class:`ClusterLab`: kill the primary that serves the queue's ``{tasks}``
    slot; its replica takes over, and the dead node is restarted (it rejoins as the new
    primary's replica). ``keys`` must be a cluster schema (hash tags)."""
    backend = connect(Settings.from_env({**lab.env(), "REDIS_SOCKET_TIMEOUT": "0.5"}))
    client = backend.client
    if not is_cluster(client):  # the lab's environment names a cluster: never another kind
        close_backend(backend)
        raise TypeError(f"a cluster drill needs a cluster client, got {type(client).__name__}")
    address = client.get_node_from_key(keys.tasks_pending).name
    target = next(n for n in lab.nodes if n.address == address)
    replica = lab.replica_of(target)
    if replica is None:
        close_backend(backend)
        raise ValueError(f"{address} has no replica: nothing could take over")

    def who() -> str | None:
        roles = lab.roles()
        return next((n.address for n in (target, replica) if roles.get(n.address) == "master"),
                    None)

    def promoted() -> str:
        lab.wait_for_failover()
        # The promoted replica has no replica of its own: a supervisor restarts the dead
        # node, which rejoins as one (until then WAIT 1, and so durable pushes, must fail).
        lab.restart(target)
        return str(replica.address)

    try:
        return run_drill(
            client, store, keys, kind="cluster", kill=lambda: lab.kill(target).address,
            wait_promoted=promoted, who=who,
            keys_per_node=lambda: {n.address: _dbsize(n) for n in lab.primaries()},
            probe_key=f"{keys.tasks_pending}:probe", durable=durable, **options)
    finally:
        close_backend(backend)


@dataclass(frozen=True)
class GapResult:
    """What :func:`replication_gap` counted: pushes sent, pushes acknowledged, how many of
    the pushes (acknowledged or not: every one was applied on the old primary) the new
    primary has, and how many acknowledged ones it does not have."""

    durable: bool
    pushed: int
    acknowledged: int
    lost: int
    new_primary: str
    #: Pushes the new primary holds, of all ``pushed`` (a refused durable push was applied
    #: on the old primary all the same: WAIT undoes nothing).
    kept: int = 0
    #: Why each refused push was refused (``TaskError: ...``), in order: what a failed run
    #: shows first.
    refusals: tuple[str, ...] = ()


def replication_gap(lab: SentinelLab, keys: KeySchema, *, durable: bool, pushes: int = 10,
                    timeout_ms: int = 100) -> GapResult:
    """Asynchronous replication, made visible: cut the replicas off, push, kill the primary.

    On loopback a replica is microseconds behind, so a random kill rarely loses anything;
    here the gap is made on purpose. Each replica's link to the primary is cut
    (``CLIENT KILL TYPE master``) and cannot come back (a wrong ``masterauth`` for a moment),
    ``pushes`` tasks are enqueued, the primary is SIGKILLed, the replicas are given their
    password back, and the Sentinels promote one. Without ``durable`` every push was
    acknowledged - and is gone; with it, each push waited ``timeout_ms`` for a replica and
    was refused (TaskError): gone as well (it was applied on the old primary), but nothing
    the producer was told is queued is missing. The lab keeps the dead node dead
    (``lab.restart`` it for the next drill).
    """
    # The set must have settled before the gap is made: right after a previous drill's
    # restart, a busy machine can still be settling who is who.
    primary = lab.wait_steady()
    replicas = [n for n in lab.data if n.alive and n is not primary]
    backend = connect(Settings.from_env({**lab.env(), "REDIS_SOCKET_TIMEOUT": "5"}))
    queue = TaskQueue(backend.client, keys, registry=probe_registry(set(), threading.Lock()),
                      durable=durable, replica_timeout_ms=timeout_ms)
    acked: list[str] = []
    sent: list[str] = []
    refusals: list[str] = []
    try:
        for node in replicas:
            with node.client() as client:
                client.config_set("masterauth", "not-the-password")
                client.client_kill_filter(_type="master")
        for n in range(pushes):
            task = queue.make_task("probe", {"n": n})
            sent.append(task.id)
            # refused (TaskError, RedisError): not acknowledged, the producer would try again
            try:
                acked.append(queue.enqueue_task(task).id)
            except (TaskError, redis.RedisError) as exc:
                refusals.append(f"{type(exc).__name__}: {exc}")
        lab.kill_primary()
        for node in replicas:
            with node.client() as client:
                client.config_set("masterauth", lab.password or "")
        new = lab.wait_for_new_primary(primary)
        held = " ".join(map(str, backend.client.lrange(keys.tasks_pending, 0, -1)))
    finally:
        close_backend(backend)
    lost = sum(1 for task_id in acked if task_id not in held)
    kept = sum(1 for task_id in sent if task_id in held)
    return GapResult(durable, pushes, len(acked), lost, new.address, kept, tuple(refusals))
