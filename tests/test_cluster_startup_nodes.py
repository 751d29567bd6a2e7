"""``REDIS_CLUSTER_URL`` names several nodes: a dead first one does not stop a new process.

A 6-node cluster of its own (the test kills a node), with a password and a short node
timeout. Tasks are queued and replicated, the primary named *first* in the variable is
SIGKILLed, its replica takes over, and only then does a worker start - with the dead node
still first in its list. It drains the queue. Named alone, the dead node stops the worker at
once, with the reason: what every process started after such a crash used to hit.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from classroom_server import HELPDESK_KIT, kit_env
from scaleout_servers import PASSWORD, need_binaries

from helpdesk_kit.app import helpdesk_queue
from helpdesk_kit.backends import ClusterLab, connect
from helpdesk_kit.backends.replication import wait_for_replicas
from helpdesk_kit.config import Settings
from helpdesk_kit.db import open_store
from helpdesk_kit.db.sample import load_sample
from helpdesk_kit.keys import KeySchema

pytestmark = pytest.mark.slow

PREFIX = "startup:"
TASKS = 5


@pytest.fixture(scope="module")
def lab() -> Iterator[ClusterLab]:
    need_binaries()
    with ClusterLab(password=PASSWORD, node_timeout_ms=1000) as started:
        yield started  # type: ignore[misc]  # Launcher.__enter__ returns the lab itself


def _worker(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([HELPDESK_KIT, "worker", "--burst"], env=env, capture_output=True,
                          text=True, timeout=120, check=False)


def test_a_worker_started_after_the_first_named_node_died_drains_the_queue(
        lab: ClusterLab, tmp_path: Path) -> None:
    first = lab.primaries()[0]
    others = [node.address for node in lab.nodes if node is not first]
    named = ",".join([lab.url(first), *others])  # the first entry carries the password
    env = kit_env(tmp_path / "data", HELPDESK_REDIS_BACKEND="cluster",
                  REDIS_CLUSTER_URL=named, HELPDESK_KEY_PREFIX=PREFIX)
    settings = Settings.from_env(env)
    store = open_store(settings)
    load_sample(store, 10, 20, seed=42, progress=False)
    backend = connect(settings)
    keys = KeySchema.for_backend(backend.kind, PREFIX)
    queue = helpdesk_queue(backend.client, keys)
    for n in range(1, TASKS + 1):
        queue.enqueue("send_notifications", {"ticketId": n, "usuarioId": 1, "tipo": "x"})
    assert wait_for_replicas(backend.client, keys.fence, 5000)  # a replica has every task
    backend.client.close()

    lab.kill(first)
    lab.wait_for_failover()  # its replica serves its slots now: the cluster is healthy

    alone = _worker({**env, "REDIS_CLUSTER_URL": lab.url(first)})
    assert alone.returncode == 2  # named alone, the dead node stops the worker...
    assert "none of the 1 node(s) named answered" in alone.stderr
    assert PASSWORD not in alone.stdout + alone.stderr
    done = _worker(env)  # ...named first of several, it does not
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {"processed": TASKS}
    assert store.counts()["notifications"] == TASKS
    with connect(settings).client as client:
        assert helpdesk_queue(client, keys).inspect().pending == 0
    assert PASSWORD not in done.stdout + done.stderr
    store.db.close()
