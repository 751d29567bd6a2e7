"""The design's Redis is Upstash, reached over TLS (``rediss://``): that path, against a real
server.

One TLS-only redis-server (``--port 0``, a self-signed certificate, a password) serves the whole
module. Every check goes through the kit's own entry points - ``Settings.from_env`` and
``connect``, the cache, the queue, and the ``worker`` and ``doctor`` commands as processes - so a
wrong scheme, a lost ``ssl_ca_certs`` or a leaked password shows up here, not in class.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from conftest import missing
from tls_server import TlsRedis, TlsUnavailable, make_certificate

import helpdesk_kit
from helpdesk_kit.app import helpdesk_queue
from helpdesk_kit.backends import Backend, delete_matching
from helpdesk_kit.cache import Cache
from helpdesk_kit.config import Settings
from helpdesk_kit.db import HelpdeskStore
from helpdesk_kit.db.sqld import free_port
from helpdesk_kit.errors import RedisBackendError
from helpdesk_kit.keys import KeySchema
from helpdesk_kit.models import Ticket

#: A fresh secret per run: any test that finds it in output has caught a leak.
PASSWORD = "Pw-" + secrets.token_urlsafe(16)
#: Variables a developer's shell may set that would point the subprocesses elsewhere.
_OURS = ("REDIS_URL", "HELPDESK_REDIS_BACKEND", "HELPDESK_KEY_PREFIX", "HELPDESK_DATA_DIR",
         "TURSO_DATABASE_URL", "TURSO_AUTH_TOKEN", "REDIS_SOCKET_TIMEOUT")
_INSTALL = "install redis-server and openssl (apt-get install redis-server openssl)"


@pytest.fixture(scope="module")
def tls_folder() -> Iterator[Path]:
    """A temp folder for the certificates and the server's log, removed after the module."""
    for tool in ("openssl", "redis-server"):
        if shutil.which(tool) is None:
            missing("redis", f"{tool} is not on PATH: {_INSTALL}")
    folder = Path(tempfile.mkdtemp(prefix="helpdesk-tls-"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def tls(tls_folder: Path) -> Iterator[TlsRedis]:
    """The module's TLS-only redis-server; skips (fails in CI) if this machine cannot run one."""
    try:
        server = TlsRedis(tls_folder, make_certificate(tls_folder), PASSWORD).start()
    except TlsUnavailable as exc:
        missing("redis", f"no TLS redis-server here ({exc}); {_INSTALL}")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def other_ca(tls_folder: Path) -> Path:
    """A second self-signed certificate: a CA that never signed the server's certificate."""
    try:
        return make_certificate(tls_folder, "other").cert
    except TlsUnavailable as exc:
        missing("redis", f"{exc}; {_INSTALL}")
        raise  # missing() never returns; this keeps the type checker sure of it


def _env(tls: TlsRedis, prefix: str, data_dir: Path) -> dict[str, str]:
    """What a learner's shell would hold to use the TLS server: the design's variables."""
    return {"REDIS_URL": tls.url(), "HELPDESK_REDIS_BACKEND": "url",
            "HELPDESK_KEY_PREFIX": prefix, "HELPDESK_DATA_DIR": str(data_dir),
            "REDIS_SOCKET_TIMEOUT": "2"}


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """``python -m helpdesk_kit ARGS`` in a clean environment plus ``env``."""
    base = {k: v for k, v in os.environ.items() if k not in _OURS}
    return subprocess.run([sys.executable, "-m", "helpdesk_kit", *args], env={**base, **env},
                          capture_output=True, text=True, timeout=60, check=False)


def _connect_error(url: str, tmp_path: Path, timeout: float = 1.0) -> str:
    """The one-line message ``connect`` gives for ``url`` (no driver traceback attached)."""
    settings = Settings(redis_url=url, redis_backend="url", data_dir=tmp_path,
                        redis_socket_timeout=timeout)
    with pytest.raises(RedisBackendError) as info:
        helpdesk_kit.connect(settings)
    assert info.value.__cause__ is None and info.value.__suppress_context__
    message = str(info.value)
    assert "\n" not in message and PASSWORD not in message
    return message


@pytest.fixture
def tls_backend(tls: TlsRedis, key_prefix: str, tmp_path: Path) -> Iterator[Backend]:
    """A Backend built as the app builds it, from REDIS_URL=rediss://...; our keys removed."""
    settings = Settings.from_env(_env(tls, key_prefix, tmp_path / "data"))
    backend = helpdesk_kit.connect(settings)
    yield backend
    delete_matching(backend.client, f"{key_prefix}*")
    backend.client.close()


# --- connecting -----------------------------------------------------------------------------
def test_rediss_url_connects_and_hides_the_password(tls_backend: Backend, tls: TlsRedis) -> None:
    assert tls_backend.kind == "url"
    assert tls_backend.description.startswith(f"Redis at rediss://:***@127.0.0.1:{tls.port}/0")
    assert PASSWORD not in tls_backend.description and PASSWORD not in repr(tls_backend)
    client = tls_backend.client
    assert client.connection_pool.connection_class is redis.SSLConnection
    # The server has no plain port at all, so this answer can only have come over TLS.
    assert client.config_get("port")["port"] == "0"
    assert client.config_get("tls-port")["tls-port"] == str(tls.port)
    assert tls_backend.capabilities.info and tls_backend.capabilities.lua


def test_cache_aside_over_tls(tls_backend: Backend, keys: KeySchema,
                              store: HelpdeskStore) -> None:
    cache = Cache(tls_backend.client, keys)
    ticket, user = store.get_ticket(1), store.get_user(1)
    assert ticket is not None and user is not None
    loads: list[int] = []

    def load() -> Ticket | None:
        loads.append(1)
        return ticket

    assert cache.get_ticket(1, load) == ticket  # miss: loaded and stored
    assert cache.get_ticket(1, load) == ticket  # hit: decoded from Redis
    assert len(loads) == 1
    assert 0 < tls_backend.client.ttl(keys.ticket(1)) <= 300
    cache.cache_user(user)
    assert cache.get_cached_user(1) == user


def test_queue_enqueue_reserve_ack_over_tls(tls_backend: Backend, keys: KeySchema) -> None:
    queue = helpdesk_queue(tls_backend.client, keys)
    sent = queue.enqueue("close_inactive_tickets", {"days": 30})
    assert queue.inspect().pending == 1
    got = queue.reserve("tls-worker")
    assert got is not None and got.id == sent.id and got.payload == {"days": 30}
    assert tls_backend.client.llen(keys.tasks_processing("tls-worker")) == 1
    queue.ack("tls-worker", got)
    assert tls_backend.client.llen(keys.tasks_processing("tls-worker")) == 0
    stats = queue.inspect()
    assert (stats.pending, stats.dead, stats.done) == (0, 0, 1)


# --- the commands, as separate processes ------------------------------------------------------
def test_worker_command_drains_the_queue_over_tls(tls: TlsRedis, tls_backend: Backend,
                                                 keys: KeySchema, key_prefix: str,
                                                 store: HelpdeskStore, tmp_path: Path) -> None:
    queue = helpdesk_queue(tls_backend.client, keys)
    queue.enqueue("send_notifications", {"ticketId": 1, "usuarioId": 2, "tipo": "ticket_creado"})
    queue.enqueue("close_inactive_tickets", {"days": 30})
    queue.enqueue("archive_old_interactions", {"days": 60})
    # The ``store`` fixture seeded tmp_path/"data": the worker opens the same database file.
    done = _run(["worker", "--burst", "--sample-now"], _env(tls, key_prefix, tmp_path / "data"))
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.splitlines()[-1]) == {"processed": 3}
    stats = queue.inspect()
    assert (stats.pending, stats.processing, stats.dead, stats.done) == (0, 0, 0, 3)
    assert store.notification_count() == 1  # the handler really ran against the database
    assert PASSWORD not in done.stdout + done.stderr


def test_doctor_command_over_tls(tls: TlsRedis, key_prefix: str, tmp_path: Path) -> None:
    done = _run(["doctor"], _env(tls, key_prefix, tmp_path / "data"))
    assert done.returncode == 0, done.stderr[-2000:]
    assert f"Redis at rediss://:***@127.0.0.1:{tls.port}/0" in done.stdout
    assert "[backend: url]" in done.stdout and "INFO yes" in done.stdout
    assert PASSWORD not in done.stdout + done.stderr


# --- what goes wrong, in plain words ------------------------------------------------------
def test_a_wrong_ca_names_the_certificate_problem(tls: TlsRedis, other_ca: Path,
                                                  tmp_path: Path) -> None:
    message = _connect_error(tls.url(ca=other_ca), tmp_path)
    assert "TLS certificate verify failed" in message and "ssl_ca_certs" in message
    assert f"rediss://:***@127.0.0.1:{tls.port}" in message


def test_a_missing_ca_file_says_which_setting(tls: TlsRedis, tmp_path: Path) -> None:
    message = _connect_error(tls.url(ca=tmp_path / "no-such-ca.pem"), tmp_path)
    assert "TLS file named in REDIS_URL" in message and "ssl_ca_certs" in message


@pytest.mark.parametrize("password", ["wrong-pw-" + secrets.token_hex(4), ""],
                         ids=["wrong", "missing"])  # no secret in a test id
def test_a_wrong_or_missing_password_over_tls(tls: TlsRedis, tmp_path: Path,
                                              password: str) -> None:
    message = _connect_error(tls.url(password=password), tmp_path)
    assert "refused the password" in message and "certificate" not in message
    assert not password or password not in message


def test_plain_redis_url_to_a_tls_port_suggests_rediss(tls: TlsRedis, tmp_path: Path) -> None:
    message = _connect_error(f"redis://:{PASSWORD}@127.0.0.1:{tls.port}/0", tmp_path)
    assert "only speaks TLS, use rediss://" in message


def test_rediss_to_a_plain_text_port_says_the_handshake_failed(tmp_path: Path) -> None:
    """A port that answers the TLS hello in plain text: redis-py's SSLError, in plain words."""
    with socket.socket() as plain:
        plain.bind(("127.0.0.1", 0))
        plain.listen()
        plain.settimeout(5)

        def answer() -> None:  # every connection (the kit retries once) gets plain text
            while True:
                try:
                    conn, _ = plain.accept()
                except OSError:  # closed by the test, or nobody came
                    return
                with conn:
                    conn.sendall(b"-ERR this port speaks plain text\r\n")

        threading.Thread(target=answer, daemon=True).start()
        port = plain.getsockname()[1]
        message = _connect_error(f"rediss://:{PASSWORD}@127.0.0.1:{port}/0", tmp_path)
    assert "TLS handshake failed" in message and "WRONG_VERSION_NUMBER" in message


def test_rediss_to_a_silent_port_hints_at_tls(tmp_path: Path) -> None:
    """A plain Redis never answers a TLS hello (it waits for a newline): a timeout, with a hint."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        message = _connect_error(f"rediss://:{PASSWORD}@127.0.0.1:{port}/0", tmp_path, 0.2)
    assert "REDIS_SOCKET_TIMEOUT" in message and "does this port speak TLS" in message


# --- the fixture's own promises ---------------------------------------------------------------
def test_a_taken_port_is_retried_on_another(tls: TlsRedis, tmp_path: Path) -> None:
    """The race between picking a free port and binding it: the start moves to another port."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        taken = holder.getsockname()[1]
        ports = iter([taken, free_port()])
        server = TlsRedis(tmp_path, tls.certificate, PASSWORD).start(pick_port=lambda: next(ports))
        try:
            assert server.port != taken
            with server.client() as client:
                assert client.ping()
        finally:
            server.stop()
    assert (tmp_path / f"redis-{taken}.log").read_text().count("Address already in use") >= 1


def test_a_server_without_tls_is_reported_not_retried(tls: TlsRedis, tmp_path: Path) -> None:
    """A redis-server built without TLS rejects ``--tls-port``: say so at once, no retry loop."""
    fake = tmp_path / "redis-server-no-tls"
    fake.write_text("#!/bin/sh\necho \"*** FATAL CONFIG FILE ERROR: Bad directive 'tls-port'\"\n"
                    "exit 1\n")
    fake.chmod(0o755)
    picked: list[int] = []

    def pick() -> int:
        picked.append(free_port())
        return picked[-1]

    with pytest.raises(TlsUnavailable, match="Bad directive"):
        TlsRedis(tmp_path, tls.certificate, PASSWORD, binary=str(fake)).start(pick_port=pick)
    assert len(picked) == 1
