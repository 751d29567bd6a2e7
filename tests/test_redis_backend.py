"""Which Redis the kit uses, what it can do, and how a wrong REDIS_URL is reported."""

from __future__ import annotations

import logging
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from conftest import free_port, missing

from helpdesk_kit.backends import (
    FAKEREDIS_NOTICE,
    Backend,
    RedisServer,
    binaries,
    connect,
    delete_matching,
    probe,
)
from helpdesk_kit.backends import connection as redis_backend
from helpdesk_kit.backends import server as redis_server
from helpdesk_kit.backends.client import NOT_ASKED
from helpdesk_kit.config import Settings
from helpdesk_kit.errors import RedisBackendError, RedisUnreachableError
from helpdesk_kit.keys import KeySchema

PASSWORD = "Pw-" + uuid.uuid4().hex


@pytest.fixture(scope="module")
def password_port() -> Iterator[int]:
    """A private redis-server on a free TCP port that requires PASSWORD."""
    if shutil.which("redis-server") is None:
        missing("redis", "install redis-server")
    port = free_port()
    folder = tempfile.mkdtemp(prefix="helpdesk-test-redis-")
    process = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--requirepass", PASSWORD,
         "--save", "", "--appendonly", "no", "--dir", folder],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 5
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.fail("password redis-server did not start")
            time.sleep(0.01)
    yield port
    process.terminate()
    process.wait(timeout=5)
    shutil.rmtree(folder, ignore_errors=True)


def _settings(url: str | None, tmp_path: Path, timeout: float = 1.0) -> Settings:
    return Settings(redis_url=url, data_dir=tmp_path, redis_socket_timeout=timeout)


def _connect_error(url: str, tmp_path: Path, timeout: float = 1.0) -> RedisBackendError:
    with pytest.raises(RedisBackendError) as info:
        connect(_settings(url, tmp_path, timeout), prefer="url")
    error = info.value
    assert error.__cause__ is None and error.__suppress_context__  # no driver traceback
    assert "\n" not in str(error)
    return error


# --- REDIS_URL -----------------------------------------------------------------------------
@pytest.mark.parametrize("userinfo", [f":{PASSWORD}", f"default:{PASSWORD}"],
                         ids=["password-only", "user-and-password"])  # no secret in an id
def test_url_with_the_right_password_works(password_port: int, tmp_path: Path,
                                           userinfo: str, key_prefix: str) -> None:
    url = f"redis://{userinfo}@127.0.0.1:{password_port}/0"
    backend = connect(_settings(url, tmp_path))
    try:
        assert backend.kind == "url"
        key = KeySchema(prefix=key_prefix).ticket(1)
        backend.client.set(key, "{}", ex=5)
        assert backend.client.get(key) == "{}"
        backend.client.delete(key)
        assert PASSWORD not in backend.description and PASSWORD not in repr(backend)
        assert backend.capabilities.info and backend.capabilities.server_version
    finally:
        backend.client.close()


@pytest.mark.parametrize("userinfo", [":wrong-pw-123", "default:wrong-pw-123", ""])
def test_url_with_a_wrong_or_missing_password_is_one_clear_error(
        password_port: int, tmp_path: Path, userinfo: str) -> None:
    at = "@" if userinfo else ""
    error = _connect_error(f"redis://{userinfo}{at}127.0.0.1:{password_port}", tmp_path)
    assert "password" in str(error)
    assert "wrong-pw-123" not in str(error) and PASSWORD not in str(error)


def test_unix_url_reaches_the_private_server(redis_server: RedisServer,
                                             tmp_path: Path) -> None:
    backend = connect(_settings(redis_server.url, tmp_path))
    assert redis_server.url.startswith("unix://")
    assert backend.kind == "url" and backend.client.ping()
    backend.client.close()


def test_unknown_scheme_is_a_clear_error(tmp_path: Path) -> None:
    error = _connect_error(f"http://user:{PASSWORD}@127.0.0.1:6379", tmp_path)
    assert "redis://, rediss:// or unix://" in str(error)
    assert PASSWORD not in str(error)


def test_refused_port_is_a_clear_error(tmp_path: Path) -> None:
    error = _connect_error(f"redis://:{PASSWORD}@127.0.0.1:{free_port()}", tmp_path)
    assert "cannot connect" in str(error) and PASSWORD not in str(error)
    assert isinstance(error, RedisUnreachableError)  # worth waiting for, unlike a bad setting


def test_down_ok_gives_a_backend_for_a_redis_that_is_not_there_yet(tmp_path: Path) -> None:
    url = f"redis://:{PASSWORD}@127.0.0.1:{free_port()}/0"
    backend = connect(_settings(url, tmp_path), prefer="url", down_ok=True)
    try:
        assert not backend.answering and backend.capabilities == NOT_ASKED
        assert backend.notice is not None and "cannot connect" in backend.notice
        assert PASSWORD not in backend.notice + backend.description + repr(backend)
        with pytest.raises(redis.ConnectionError):  # its client connects on first use
            backend.client.ping()
    finally:
        backend.client.close()


@pytest.mark.parametrize("url", [
    "redis://:wrong-pw-123@127.0.0.1:{port}",
    "rediss://default:wrong-pw-123@127.0.0.1:{port}?ssl_ca_certs=/nonexistent/ca.pem",
    "http://127.0.0.1:{port}"], ids=["password", "tls-file", "scheme"])
def test_down_ok_still_refuses_a_wrong_setting(password_port: int, tmp_path: Path,
                                               url: str) -> None:
    """Waiting would not fix a wrong password, a missing TLS file or a bad scheme. (TLS
    spoken to a plain port is only a timeout, like a slow server: that one is waited for.)"""
    with pytest.raises(RedisBackendError) as info:
        connect(_settings(url.format(port=password_port), tmp_path, 0.3), prefer="url",
                down_ok=True)
    assert not isinstance(info.value, RedisUnreachableError)


def test_silent_server_times_out_with_the_socket_timeout(tmp_path: Path) -> None:
    """A port that accepts connections but never answers: the socket timeout ends the wait."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        error = _connect_error(f"redis://:{PASSWORD}@127.0.0.1:{port}", tmp_path, timeout=0.2)
    assert "REDIS_SOCKET_TIMEOUT" in str(error) and PASSWORD not in str(error)


def test_rediss_against_a_plain_server_is_a_clear_error(password_port: int,
                                                         tmp_path: Path) -> None:
    error = _connect_error(f"rediss://default:{PASSWORD}@127.0.0.1:{password_port}", tmp_path,
                           timeout=0.3)
    assert "rediss://default:***@" in str(error) and PASSWORD not in str(error)


def test_forcing_url_without_redis_url_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(RedisBackendError, match="needs REDIS_URL"):
        connect(_settings(None, tmp_path), prefer="url")


# --- the private server and fakeredis -----------------------------------------------------
def test_auto_without_url_starts_a_private_server(redis_server: RedisServer,
                                                  tmp_path: Path) -> None:
    backend = connect(_settings(None, tmp_path))
    assert backend.kind == "server" and backend.notice is None
    server = redis_backend._private_server
    assert server is not None and str(server.socket) in backend.description
    assert server.socket.is_socket()
    # No persistence: nothing is saved, nothing appended.
    assert backend.client.config_get("save")["save"] == ""
    assert backend.client.config_get("appendonly")["appendonly"] == "no"
    assert backend.client.config_get("port")["port"] == "0"  # no TCP port at all
    again = connect(_settings(None, tmp_path), prefer="server")
    assert again.description == backend.description  # one private server per process


def test_url_wins_over_the_private_server(redis_server: RedisServer, tmp_path: Path) -> None:
    backend = connect(_settings(redis_server.url, tmp_path))
    assert backend.kind == "url"
    backend.client.close()


def test_private_server_stops_and_leaves_nothing_at_exit(redis_server: RedisServer) -> None:
    script = textwrap.dedent("""
        from helpdesk_kit.backends import connection as redis_backend
        from helpdesk_kit.config import Settings
        backend = redis_backend.connect(Settings(), prefer="server")
        server = redis_backend._private_server
        print(server.process.pid, server.dir, flush=True)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=30, check=True)
    pid, folder = done.stdout.split()
    assert not Path(folder).exists()
    assert not Path(f"/proc/{pid}").exists() or "zombie" in Path(
        f"/proc/{pid}/status").read_text().lower()


def test_no_redis_server_on_path_falls_back_to_fake_with_a_notice(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty folder: no redis-server here
    monkeypatch.setattr(binaries, "embedded_server", lambda: None)  # and no embedded one
    assert shutil.which("redis-server") is None
    with caplog.at_level(logging.WARNING, logger="helpdesk_kit.backends"):
        backend = connect(_settings(None, tmp_path))
    assert backend.kind == "fake" and backend.notice == FAKEREDIS_NOTICE
    notices = [r.getMessage() for r in caplog.records]
    assert notices == [FAKEREDIS_NOTICE] and "\n" not in FAKEREDIS_NOTICE


def test_forcing_server_without_the_binary_says_how_to_install(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(binaries.shutil, "which", lambda name: None)
    monkeypatch.setattr(binaries, "embedded_server", lambda: None)
    monkeypatch.setattr(redis_backend, "_private_server", None)
    with pytest.raises(RedisBackendError, match="apt-get install redis-server"):
        connect(_settings(None, tmp_path), prefer="server")


def test_forcing_fake_ignores_url_and_shares_one_fake_server(tmp_path: Path,
                                                             key_prefix: str) -> None:
    settings = _settings(f"redis://:{PASSWORD}@127.0.0.1:1", tmp_path)
    first = connect(settings, prefer="fake")
    second = connect(settings.with_(redis_backend="fake"))
    key = KeySchema(prefix=key_prefix).user(7)
    first.client.set(key, "x")
    try:
        assert first.kind == second.kind == "fake"
        assert second.client.get(key) == "x"  # app, worker and widgets see the same data
    finally:
        first.client.delete(key)


# --- capabilities (both backends) ----------------------------------------------------------
def test_capabilities_match_what_the_server_really_does(backend: Backend) -> None:
    caps = backend.capabilities
    client = backend.client
    if caps.info:
        assert caps.server_version == client.info("server")["redis_version"]
    else:
        assert caps.server_version is None
        with pytest.raises(redis.ResponseError):
            client.info("server")
    assert caps.lua == (client.eval("return 1", 0) == 1)
    if caps.maxmemory_configurable:
        assert "maxmemory" in client.config_get("maxmemory")
    else:  # fakeredis even accepts CONFIG SET, but cannot read it back or act on it
        with pytest.raises(redis.ResponseError):
            client.config_get("maxmemory")
    expected = {"real": (True, True), "fake": (False, False)}[
        "fake" if backend.kind == "fake" else "real"]
    assert (caps.info, caps.maxmemory_configurable) == expected
    assert caps.lua  # fakeredis[lua] is a dependency


def test_probe_leaves_maxmemory_as_it_was(real_redis: redis.Redis) -> None:
    before = real_redis.config_get("maxmemory")["maxmemory"]
    probe(real_redis)
    assert real_redis.config_get("maxmemory")["maxmemory"] == before


def test_probe_never_writes_to_the_server(real_redis: redis.Redis,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """REDIS_URL may be a shared or production server: probing must only read."""
    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError("probe() must not run CONFIG SET")

    monkeypatch.setattr(real_redis, "config_set", forbidden)
    assert probe(real_redis).maxmemory_configurable


def test_a_server_that_exits_at_start_leaves_nothing_behind() -> None:
    if shutil.which("redis-server") is None:
        missing("redis", "install redis-server")
    server = RedisServer("redis-server", "--no-such-option", "yes")
    with pytest.raises(RedisBackendError, match="exited at start"):
        server.start()
    assert server.process is None
    assert not server.dir.exists()


def test_restarting_a_server_registers_one_exit_handler(monkeypatch: pytest.MonkeyPatch
                                                        ) -> None:
    if shutil.which("redis-server") is None:
        missing("redis", "install redis-server")
    registered: list[object] = []
    monkeypatch.setattr(redis_server.atexit, "register", registered.append)
    server = RedisServer()
    for _ in range(2):
        with server:
            assert server.client().ping()
    assert registered == [server.stop]
    assert not server.dir.exists()


def test_a_failing_probe_closes_the_client_and_says_so(
        redis_server: RedisServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    probed: list[redis.Redis] = []
    closed: list[bool] = []

    def broken_probe(client: redis.Redis) -> None:
        probed.append(client)
        monkeypatch.setattr(client, "close", lambda: closed.append(True))
        raise redis.ConnectionError("connection dropped while probing")

    monkeypatch.setattr(redis_backend, "probe", broken_probe)
    with pytest.raises(RedisBackendError, match="Cannot use REDIS_URL=unix://"):
        connect(_settings(redis_server.url, tmp_path), prefer="url")
    assert len(probed) == 1 and closed == [True]


def test_backend_roundtrip_on_both(backend: Backend, keys: KeySchema) -> None:
    backend.client.set(keys.ticket(1), '{"id": 1}', ex=300)
    assert backend.client.get(keys.ticket(1)) == '{"id": 1}'  # decoded str, not bytes
    assert 0 < backend.client.ttl(keys.ticket(1)) <= 300


def test_probe_without_a_reported_version_says_none() -> None:
    """Some managed services answer INFO without redis_version: no "None" string."""

    class Quiet:
        def info(self, section: str) -> dict[str, str]:
            return {}

        def eval(self, script: str, numkeys: int) -> int:
            raise redis.ResponseError("unknown command 'eval'")

        def config_get(self, name: str) -> dict[str, str]:
            raise redis.ResponseError("unknown command 'config'")

    caps = probe(Quiet())  # type: ignore[arg-type]
    assert (caps.server_version, caps.info, caps.lua, caps.maxmemory_configurable) == (
        None, True, False, False)


def test_kit_clients_fail_fast_instead_of_retrying_for_seconds(redis_server, settings) -> None:
    """redis-py retries with backoff by default; the kit's clients retry once, immediately."""
    from helpdesk_kit.backends import connect

    for client in (redis_server.client(),
                   connect(settings.with_(redis_url=redis_server.url), prefer="url").client):
        retry = client.get_retry()
        assert retry is not None and retry.get_retries() == 1
        client.close()


def test_delete_matching_removes_only_matching_keys_in_batches(backend: Backend,
                                                              keys: KeySchema) -> None:
    client = backend.client
    doomed = [f"{keys.prefix}doomed:{i}" for i in range(23)]
    kept = [f"{keys.prefix}kept:{i}" for i in range(3)]
    client.mset({k: "x" for k in doomed + kept})
    deleted = delete_matching(client, f"{keys.prefix}doomed:*", count=5)
    assert deleted == len(doomed)
    assert client.exists(*doomed) == 0
    assert client.exists(*kept) == len(kept)
    assert delete_matching(client, f"{keys.prefix}doomed:*") == 0


def test_delete_matching_never_uses_keys(backend: Backend, keys: KeySchema,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    backend.client.set(f"{keys.prefix}a", "1")

    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError("KEYS blocks the server: delete_matching must SCAN")

    monkeypatch.setattr(backend.client, "keys", forbidden)
    assert delete_matching(backend.client, f"{keys.prefix}*") == 1


def test_delete_matching_rejects_a_zero_batch(backend: Backend, keys: KeySchema) -> None:
    with pytest.raises(ValueError, match="count"):
        delete_matching(backend.client, f"{keys.prefix}*", count=0)
