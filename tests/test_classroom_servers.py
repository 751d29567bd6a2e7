"""The class server itself: over TLS (rediss://), after a restart, on a taken port.

Each test starts its own small server (a TLS one cannot be the module's plain class server);
the rest of classroom mode shares one server in test_classroom.py.
"""

from __future__ import annotations

import shutil
import socket
import uuid
from pathlib import Path

import pytest
import redis
from classroom_server import read_env, start_class_server
from conftest import missing

from helpdesk_kit.backends import Backend, connect
from helpdesk_kit.config import Settings
from helpdesk_kit.db.sqld import free_port
from helpdesk_kit.errors import RedisBackendError
from helpdesk_kit.lab import classroom
from helpdesk_kit.lab.classroom_server import ClassServer


@pytest.fixture(autouse=True)
def _redis_server_installed() -> None:
    if shutil.which("redis-server") is None:
        missing("redis", "install redis-server (apt-get install redis-server)")


def _backend(env: dict[str, str], tmp_path: Path) -> Backend:
    return connect(Settings.from_env({**env, "HELPDESK_DATA_DIR": str(tmp_path / "data")}))


# --- over TLS (rediss://) -------------------------------------------------------------------
def test_classroom_over_tls(tmp_path: Path) -> None:
    from tls_server import TlsRedis, TlsUnavailable, make_certificate

    for tool in ("openssl", "redis-server"):
        if shutil.which(tool) is None:
            missing("redis", f"{tool} is not on PATH")
    try:
        certificate = make_certificate(tmp_path)
        tls = TlsRedis(tmp_path, certificate, "Pw-" + uuid.uuid4().hex).start()
    except TlsUnavailable as exc:
        missing("redis", f"no TLS redis-server here ({exc})")
    try:
        admin = tls.client()
        created, saved = classroom.create(admin, ["tls-a", "tls-b"], tmp_path / "env",
                                          tls.url())
        assert not saved  # a server without an ACL file: the CLI says users live in memory
        envs = {learner.name: read_env(learner.env_file) for learner in created
                if learner.env_file is not None}
        url = envs["tls-a"]["REDIS_URL"]
        assert url.startswith("rediss://tls-a:") and f"ssl_ca_certs={certificate.cert}" in url
        a = _backend(envs["tls-a"], tmp_path)
        assert a.capabilities.acl_user == "tls-a"
        assert a.client.connection_pool.connection_class is redis.SSLConnection
        admin.set("tls-b:secret", "b's")
        with pytest.raises(redis.exceptions.NoPermissionError):
            a.client.get("tls-b:secret")
        a.client.set("tls-a:mine", "1")
        assert classroom.reset(admin, "tls-a") == 1 and admin.get("tls-b:secret") == "b's"
        a.client.close()
        admin.close()
    finally:
        tls.stop()


def test_serve_speaks_tls_when_given_a_certificate(tmp_path: Path) -> None:
    from tls_server import TlsUnavailable, make_certificate

    if shutil.which("redis-server") is None:
        missing("redis", "install redis-server")
    try:
        certificate = make_certificate(tmp_path / "tls")
    except TlsUnavailable as exc:
        missing("redis", str(exc))
    server = start_class_server(tmp_path / "server", tmp_path / "data", "--tls-cert",
                                str(certificate.cert), "--tls-key", str(certificate.key))
    try:
        url = server.instructor["REDIS_URL"]
        assert url.startswith("rediss://default:") and "ssl_ca_certs=" in url
        client = server.client()
        assert client.config_get("port")["port"] == "0"  # no plain-text port at all
        assert client.config_get("protected-mode")["protected-mode"] == "yes"
        client.close()
    finally:
        assert server.stop() == 0


# --- the class server's own files -----------------------------------------------------------
def test_a_restarted_class_server_keeps_its_learners_and_password(tmp_path: Path) -> None:
    folder = tmp_path / "class"
    server = ClassServer(folder, port=free_port()).start()
    try:
        with server.client() as admin:
            created, saved = classroom.create(admin, ["kept"], tmp_path / "env", server.url())
        assert saved and created[0].env_file is not None
        env = read_env(created[0].env_file)
        instructor = server.url()
    finally:
        server.stop()
    assert "kept" in (folder / "users.acl").read_text()  # ACL SAVE wrote it...
    again = ClassServer(folder, port=server.port).start()
    try:
        assert again.url() == instructor  # ...the same instructor password...
        learner = redis.Redis.from_url(env["REDIS_URL"], decode_responses=True)
        assert learner.acl_whoami() == "kept"  # ...and the learner logs in as before
        learner.close()
        for name in ("instructor.password", "instructor.env", "users.acl", "redis.conf",
                     "redis.log"):
            assert (folder / name).stat().st_mode & 0o777 == 0o600, name
        password = instructor.split(":")[2].split("@")[0]
        assert password not in (folder / "redis.conf").read_text()  # only its hash, elsewhere
        assert password not in (folder / "users.acl").read_text()
    finally:
        again.stop()


def test_a_taken_port_is_named_not_a_traceback(tmp_path: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        with pytest.raises(RedisBackendError, match=f"127.0.0.1:{port} is taken"):
            ClassServer(tmp_path, port=port).start()
