"""The cluster launcher and what needs a cluster of its own: TLS, FLUSHDB, the CLI, clean-up.

The shared session cluster must not be flushed or stopped, so these start small clusters of
their own (3 primaries, no replicas: ~1 s each).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from scaleout_servers import PASSWORD, lab_settings, need_binaries, open_backend
from tls_server import TlsUnavailable, make_certificate

from helpdesk_kit.backends import Backend, ClusterLab, connect
from helpdesk_kit.backends.cluster import hash_slot, node_clients
from helpdesk_kit.backends.launchers import TlsFiles
from helpdesk_kit.cache import Cache
from helpdesk_kit.config import Settings
from helpdesk_kit.db import open_store
from helpdesk_kit.db.sample import load_sample
from helpdesk_kit.errors import RedisBackendError
from helpdesk_kit.keys import KeySchema
from helpdesk_kit.vocab import BackendKind

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def tls_cluster() -> Iterator[ClusterLab]:
    """3 TLS-only primaries with a password: the Upstash-like path, on a cluster."""
    need_binaries()
    folder = Path(tempfile.mkdtemp(prefix="helpdesk-cluster-tls-"))
    try:
        cert = make_certificate(folder)
    except TlsUnavailable as exc:
        pytest.skip(f"no TLS here: {exc}")
    with ClusterLab(replicas=0, password=PASSWORD,
                    tls=TlsFiles(cert.cert, cert.key, cert.cert)) as lab:
        yield lab  # type: ignore[misc]  # Launcher.__enter__ returns the lab itself
    import shutil

    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def tls_backend(tls_cluster: ClusterLab, tmp_path: Path, key_prefix: str) -> Iterator[Backend]:
    yield from open_backend(lab_settings(tls_cluster.env(), tmp_path, key_prefix))


def test_tls_and_a_password_work_as_for_one_server(tls_backend: Backend,
                                                   tls_cluster: ClusterLab) -> None:
    assert tls_backend.kind == BackendKind.CLUSTER
    assert tls_cluster.url().startswith("rediss://") and PASSWORD not in tls_backend.description
    tls_backend.client.set("{t}:x", "over TLS")
    assert tls_backend.client.get("{t}:x") == "over TLS"


def test_a_plain_url_to_a_tls_cluster_fails_with_a_hint(tls_cluster: ClusterLab) -> None:
    plain = tls_cluster.url().replace("rediss://", "redis://").split("?")[0]
    with pytest.raises(RedisBackendError) as caught:
        connect(Settings(redis_cluster_url=plain, redis_socket_timeout=0.5))
    assert "REDIS_CLUSTER_URL" in str(caught.value) and PASSWORD not in str(caught.value)


def test_the_server_itself_answers_crossslot(tls_backend: Backend, key_prefix: str) -> None:
    """Sent straight to a node (past redis-py's own check), the cluster refuses it."""
    a, b = f"{key_prefix}a", f"{key_prefix}b"
    assert hash_slot(a) != hash_slot(b)
    node = tls_backend.client.get_redis_connection(tls_backend.client.get_node_from_key(a))
    with pytest.raises(redis.ResponseError, match="same slot"):  # redis-py drops "CROSSSLOT"
        node.execute_command("MGET", a, b)


def test_flush_all_flushes_every_primary(tls_backend: Backend, key_prefix: str) -> None:
    """The design's counter-example on a cluster: redis-py sends FLUSHDB to every primary, so
    ``Cache.flush_all`` empties the whole cluster (documented, not refused)."""
    cache = Cache(tls_backend.client, KeySchema(prefix=key_prefix, cluster=True))
    for n in range(30):
        tls_backend.client.set(cache.keys.ticket(n), "{}")
    held = {a: c.dbsize() for a, c in node_clients(tls_backend.client)}
    assert sum(1 for v in held.values() if v) == 3, held
    cache.flush_all()
    assert all(c.dbsize() == 0 for _, c in node_clients(tls_backend.client))


def test_stop_kills_every_node_and_removes_the_folder() -> None:
    need_binaries()
    lab = ClusterLab(replicas=0).start()
    nodes, folder = list(lab.nodes), lab.folder
    assert len(nodes) == 3 and all(n.alive for n in nodes) and folder.exists()
    lab.stop()
    assert not any(n.alive for n in nodes) and not folder.exists()


def test_a_failed_start_leaves_nothing_behind(monkeypatch: pytest.MonkeyPatch) -> None:
    need_binaries()
    lab = ClusterLab(replicas=0)

    def broken() -> None:
        raise RedisBackendError("joining the nodes failed: simulated")

    monkeypatch.setattr(lab, "_create", broken)
    with pytest.raises(RedisBackendError, match="simulated"):
        lab.start()
    assert lab.nodes and not any(n.alive for n in lab.nodes) and not lab.folder.exists()


def test_a_cluster_needs_three_primaries() -> None:
    with pytest.raises(ValueError, match="3 primaries"):
        ClusterLab(primaries=2)


def _cli_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("REDIS_", "HELPDESK_", "TURSO_"))}
    return {**env, "HELPDESK_DATA_DIR": str(tmp_path / "data")}


@pytest.mark.slow
def test_lab_cluster_command_prints_its_environment_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    """``helpdesk-kit lab cluster`` as a learner runs it; then ``worker --burst`` against the
    REDIS_CLUSTER_URL it printed drains a queue filled through the same variables."""
    need_binaries()
    lab = subprocess.Popen([sys.executable, "-m", "helpdesk_kit", "lab", "cluster"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           env=_cli_env(tmp_path), cwd=ROOT)
    try:
        exports: dict[str, str] = {}
        assert lab.stdout is not None
        for line in lab.stdout:
            if line.startswith("export "):
                name, _, value = line[len("export "):].strip().partition("=")
                exports[name] = value
            if line.startswith("# paste"):
                break
        assert exports["HELPDESK_REDIS_BACKEND"] == "cluster"
        env = {**_cli_env(tmp_path), **exports, "HELPDESK_KEY_PREFIX": "cli:"}
        settings = Settings.from_env(env)
        store = open_store(settings)
        load_sample(store, 10, 20, seed=42, progress=False)
        backend = connect(settings)
        from helpdesk_kit.app import helpdesk_queue

        queue = helpdesk_queue(backend.client, KeySchema.for_backend(backend.kind, "cli:"))
        for n in range(1, 4):
            queue.enqueue("send_notifications", {"ticketId": n, "usuarioId": 1, "tipo": "x"})
        done = subprocess.run([sys.executable, "-m", "helpdesk_kit", "worker", "--burst"],
                              capture_output=True, text=True, env=env, cwd=ROOT, timeout=60)
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout.strip().splitlines()[-1]) == {"processed": 3}
        assert queue.inspect().pending == 0 and store.counts()["notifications"] == 3
        backend.client.close()
        store.db.close()
    finally:
        lab.send_signal(signal.SIGINT)
        _, err = lab.communicate(timeout=30)
    assert lab.returncode == 0 and "stopped and removed" in err
