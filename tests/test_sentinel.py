"""A Sentinel-managed primary: connecting, the topology, the kit on it, waiting for replicas.

One primary + 2 replicas + 3 Sentinels serve the session (``sentinel_lab``, with a password);
each test has its own key prefix. The failovers are in tests/test_sentinel_failover.py.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from scaleout_servers import PASSWORD, lab_settings, need_binaries, open_backend
from tls_server import TlsUnavailable, make_certificate

from helpdesk_kit.app import HelpdeskApp, helpdesk_queue
from helpdesk_kit.backends import Backend, RedisServer, SentinelLab, connect, topology
from helpdesk_kit.backends.launchers import TlsFiles
from helpdesk_kit.backends.replication import replicas_to_wait_for, wait_for_replicas
from helpdesk_kit.backends.sentinel import is_sentinel, parse_sentinels
from helpdesk_kit.config import Settings
from helpdesk_kit.db.sample import load_sample
from helpdesk_kit.doctor import report
from helpdesk_kit.errors import ConfigError, RedisBackendError, TaskError
from helpdesk_kit.keys import KeySchema
from helpdesk_kit.vocab import BackendKind, Entity

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def sentinel_settings(sentinel_lab: SentinelLab, tmp_path: Path, key_prefix: str) -> Settings:
    return lab_settings(sentinel_lab.env(), tmp_path / "data", key_prefix)


@pytest.fixture
def primary(sentinel_settings: Settings) -> Iterator[Backend]:
    yield from open_backend(sentinel_settings)


@pytest.fixture
def app(sentinel_settings: Settings, primary: Backend) -> Iterator[HelpdeskApp]:
    with HelpdeskApp.from_settings(sentinel_settings) as result:
        load_sample(result.store, 20, 40, seed=42, progress=False)
        yield result


def _replicas(lab: SentinelLab) -> list:  # type: ignore[type-arg]
    address = lab.primary_address()
    return [n.client() for n in lab.data if n.alive and n.address != address]


# --- settings and connecting ---------------------------------------------------------------
def test_entries_are_addresses_or_urls_sharing_one_secret() -> None:
    target = parse_sentinels(("rediss://:s3cret@10.0.0.1:26379?ssl_ca_certs=/ca.pem",
                              "10.0.0.2:26380", "[::1]:26381"), "helpdesk")
    assert target.addresses == (("10.0.0.1", 26379), ("10.0.0.2", 26380), ("::1", 26381))
    assert target.options == {"ssl": True, "password": "s3cret", "ssl_ca_certs": "/ca.pem"}
    assert "s3cret" not in target.description and "(TLS)" in target.description
    assert "s3cret" not in repr(target)


@pytest.mark.parametrize("entries", [(), ("nohost",), ("host:port",), ("redis://:pw@/x",)])
def test_unusable_entries_are_a_config_error_without_the_secret(entries: tuple[str, ...]) -> None:
    with pytest.raises(ConfigError, match="REDIS_SENTINELS") as caught:
        parse_sentinels(entries, "mymaster")
    assert ":pw@" not in str(caught.value)


def test_auto_picks_sentinel_before_a_redis_url(sentinel_lab: SentinelLab,
                                                tmp_path: Path) -> None:
    env = {**sentinel_lab.env(), "REDIS_URL": "redis://127.0.0.1:1/0",
           "HELPDESK_REDIS_BACKEND": "auto", "HELPDESK_DATA_DIR": str(tmp_path)}
    backend = connect(Settings.from_env(env))
    try:
        assert backend.kind == BackendKind.SENTINEL and is_sentinel(backend.client)
        assert backend.client.ping() and PASSWORD not in backend.description
        assert "mymaster" in backend.description
    finally:
        backend.client.close()


def test_a_wrong_password_is_named_and_never_shown(sentinel_lab: SentinelLab) -> None:
    env = sentinel_lab.env()
    env["REDIS_SENTINELS"] = env["REDIS_SENTINELS"].replace(PASSWORD, "wrong-one")
    with pytest.raises(RedisBackendError) as caught:
        connect(Settings.from_env(env))
    message = str(caught.value)
    assert "REDIS_SENTINELS" in message and "password" in message
    assert "wrong-one" not in message and PASSWORD not in message and len(message) < 1500


def test_an_unknown_primary_name_says_no_master(sentinel_lab: SentinelLab) -> None:
    env = {**sentinel_lab.env(), "REDIS_SENTINEL_MASTER": "nobody"}
    with pytest.raises(RedisBackendError, match="nobody"):
        connect(Settings.from_env(env))


def test_the_kit_keeps_the_seeds_plain_key_names(app: HelpdeskApp) -> None:
    assert not app.keys.cluster and app.keys.ticket(7).endswith("ticket:7")


# --- topology --------------------------------------------------------------------------------
def test_doctor_shows_the_primary_and_its_replicas(sentinel_settings: Settings,
                                                   sentinel_lab: SentinelLab) -> None:
    result = report(sentinel_settings)
    assert result.redis_kind == BackendKind.SENTINEL and PASSWORD not in str(result)
    assert result.topology[0] == f"primary  {sentinel_lab.primary_address()}" + \
        result.topology[0].split(sentinel_lab.primary_address() or "")[1]
    assert sum("replica" in line and "online" in line for line in result.topology) == 2


def test_replication_offsets_catch_up(primary: Backend, key_prefix: str) -> None:
    for n in range(50):
        primary.client.set(f"{key_prefix}k{n}", "x" * 100)
    assert wait_for_replicas(primary.client, f"{key_prefix}fence", 2000)
    view = topology(primary.client)
    assert view is not None and len(view.nodes) == 3
    head = view.primaries[0].offset
    assert head is not None and head > 0
    replicas = view.replicas_of(view.primaries[0])
    assert all(r.offset is not None and r.offset <= head for r in replicas)


# --- the kit on a replicated primary ---------------------------------------------------------
def test_cache_aside_and_lists(app: HelpdeskApp) -> None:
    assert app.cache is not None
    first = app.get_ticket(3)["ticket"]
    assert app.get_ticket(3)["ticket"] == first
    assert app.list_tickets(limit=10)["tickets"] == app.list_tickets(limit=10)["tickets"]
    assert app.cache.stats()[Entity.TICKET].hits == 1


def test_an_invalidation_is_on_the_replicas_when_it_returns(app: HelpdeskApp,
                                                            sentinel_lab: SentinelLab) -> None:
    cache = app.cache
    assert cache is not None and replicas_to_wait_for(cache.client) == 1
    app.get_ticket(4)
    app.update_ticket(4, title="renamed")  # DEL + INCR, then WAIT for a replica
    gen = cache.keys.generation(Entity.TICKET, 4)
    seen = [r.get(gen) for r in _replicas(sentinel_lab)]
    assert seen == ["1", "1"], f"every replica has the bumped generation: {seen}"


def test_durable_enqueue_is_on_a_replica_when_it_returns(primary: Backend, key_prefix: str,
                                                         sentinel_lab: SentinelLab) -> None:
    queue = helpdesk_queue(primary.client, KeySchema(prefix=key_prefix))
    queue.durable = True
    task = queue.enqueue("send_notifications", {"ticketId": 3, "usuarioId": 1, "tipo": "x"})
    held = [r.lrange(queue.keys.tasks_pending, 0, -1) for r in _replicas(sentinel_lab)]
    assert len(held) == 2 and all(any(task.id in raw for raw in lists) for lists in held)


def test_durable_enqueue_without_a_replica_refuses_to_promise(redis_server: RedisServer,
                                                              key_prefix: str) -> None:
    client = redis_server.client()
    queue = helpdesk_queue(client, KeySchema(prefix=key_prefix))
    queue.durable, queue.replica_timeout_ms = True, 50
    with pytest.raises(TaskError, match="no replica confirmed"):
        queue.enqueue("send_notifications", {"ticketId": 3, "usuarioId": 1, "tipo": "x"})
    assert replicas_to_wait_for(client) == 0
    client.delete(queue.keys.tasks_pending)
    client.close()


@pytest.mark.parametrize("mode", ["reliable", "streams"])
def test_helpdesk_queue_durable_wires_wait_from_the_environment(
        sentinel_lab: SentinelLab, tmp_path: Path, key_prefix: str, mode: str) -> None:
    """HELPDESK_QUEUE_DURABLE=all,2s: the app wired from the environment waits for every
    replica after each push - the ticket's notification is on both replicas when
    create_ticket returns - and doctor says so."""
    env = {**sentinel_lab.env(), "HELPDESK_QUEUE_DURABLE": "all,2s",
           "HELPDESK_QUEUE_MODE": mode}
    settings = lab_settings(env, tmp_path / "data", key_prefix)
    with HelpdeskApp.from_settings(settings) as app:
        load_sample(app.store, 5, 10, seed=42, progress=False)
        queue = app.queue
        assert queue is not None and queue.durable
        assert (queue.replicas, queue.replica_timeout_ms) == (None, 2000)
        created = app.create_ticket(2, "durable")
        assert created["success"] and created["notification"] == "queued"
        key = queue.keys.tasks_stream if mode == "streams" else queue.keys.tasks_pending
        for replica in _replicas(sentinel_lab):
            with replica:
                held = str(replica.xrange(key) if mode == "streams" else replica.lrange(key, 0, -1))
            assert created["taskId"] in held
        app.redis.delete(key)  # type: ignore[union-attr]
    assert ("durable pushes: WAIT for every connected replica, up to 2000 ms "
            "(HELPDESK_QUEUE_DURABLE)") in str(report(settings))


def test_a_durable_push_that_times_out_is_refused_but_still_on_the_primary(
        sentinel_lab: SentinelLab, tmp_path: Path, key_prefix: str) -> None:
    """WAIT undoes nothing: three replicas asked of a set that has two, the push raises -
    and the task is on the primary all the same (the producer must not assume either way)."""
    env = {**sentinel_lab.env(), "HELPDESK_QUEUE_DURABLE": "3,100ms"}
    with HelpdeskApp.from_settings(lab_settings(env, tmp_path / "data", key_prefix)) as app:
        queue = app.queue
        assert queue is not None and queue.replicas == 3
        with pytest.raises(TaskError, match="fewer than 3 replica"):
            queue.enqueue("send_notifications", {"ticketId": 3, "usuarioId": 1, "tipo": "x"})
        assert app.redis is not None and app.redis.llen(queue.keys.tasks_pending) == 1
        app.redis.delete(queue.keys.tasks_pending)


# --- the launcher ------------------------------------------------------------------------------
def test_bad_shapes_are_refused() -> None:
    with pytest.raises(ValueError):
        SentinelLab(sentinels=1, quorum=2)


def test_tls_sentinels_and_a_tls_primary(tmp_path: Path) -> None:
    """Every port TLS-only, one password: the Sentinels, the primary, its replica."""
    need_binaries()
    folder = Path(tempfile.mkdtemp(prefix="helpdesk-sentinel-tls-"))
    try:
        cert = make_certificate(folder)
    except TlsUnavailable as exc:
        pytest.skip(f"no TLS here: {exc}")
    with SentinelLab(replicas=1, sentinels=1, quorum=1, password=PASSWORD,
                     tls=TlsFiles(cert.cert, cert.key, cert.cert)) as lab:
        env = lab.env()
        assert env["REDIS_SENTINELS"].startswith("rediss://")
        backend = connect(Settings.from_env({**env, "HELPDESK_DATA_DIR": str(tmp_path)}))
        assert "(TLS)" in backend.description and backend.client.set("x", "1")
        backend.client.close()
    assert not folder.joinpath("nothing").exists()
    import shutil

    shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.slow
def test_lab_sentinel_command_prints_its_environment(tmp_path: Path) -> None:
    need_binaries()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REDIS_", "HELPDESK_"))}
    lab = subprocess.Popen([sys.executable, "-m", "helpdesk_kit", "lab", "sentinel"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           env={**env, "HELPDESK_DATA_DIR": str(tmp_path)}, cwd=ROOT)
    try:
        exports: dict[str, str] = {}
        assert lab.stdout is not None
        for line in lab.stdout:
            if line.startswith("export "):
                name, _, value = line[len("export "):].strip().partition("=")
                exports[name] = value
            if line.startswith("# paste"):
                break
        backend = connect(Settings.from_env({**exports, "HELPDESK_DATA_DIR": str(tmp_path)}))
        assert backend.kind == BackendKind.SENTINEL and backend.client.ping()
        view = topology(backend.client)
        assert view is not None and len(view.nodes) == 3
        backend.client.close()
    finally:
        lab.send_signal(signal.SIGINT)
        _, err = lab.communicate(timeout=30)
    assert lab.returncode == 0 and "stopped and removed" in err
