"""Redis down at start, then up: the app, the worker and ``serve`` each start without it.

Each test picks a free port, points the kit at it *before* any Redis listens there, starts
what it tests, and only then starts a real ``redis-server`` on that port. Nothing here reads
the clock: each step waits for a state (a log line, an HTTP answer, a cache hit) with a
deadline-bounded poll, and asserts the state.
"""

from __future__ import annotations

import json
import logging
import shutil
import signal
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from classroom_server import HELPDESK_KIT, kit_env
from conftest import free_port, missing, until

from helpdesk_kit.app import HelpdeskApp
from helpdesk_kit.backends import fail_fast_retry
from helpdesk_kit.config import Settings
from helpdesk_kit.db import open_store
from helpdesk_kit.db.sample import load_sample
from helpdesk_kit.keys import KeySchema
from helpdesk_kit.processes import stop_process

PREFIX = "down:"
SECRET = "Pw-down-at-start"  # in REDIS_URL: no output may show it


class LateRedis:
    """A port chosen now, and a redis-server (with a password) that starts on it only when
    asked, its files in ``folder``."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()
        self.url = f"redis://:{SECRET}@127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start it and wait until it answers an authenticated PING."""
        self.folder.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--requirepass", SECRET, "--save", "",
             "--appendonly", "no", "--dir", str(self.folder)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        with redis.Redis.from_url(self.url, socket_timeout=1, retry=fail_fast_retry()) as probe:
            until(lambda: self._answers(probe), 15, f"redis-server on port {self.port}")

    def _answers(self, probe: redis.Redis) -> bool:
        assert self.process is not None and self.process.poll() is None, "it exited"
        try:
            return bool(probe.ping())
        except redis.ConnectionError:
            return False

    def stop(self) -> None:
        stop_process(self.process)


@pytest.fixture
def late_redis(tmp_path: Path) -> Iterator[LateRedis]:
    if shutil.which("redis-server") is None:
        missing("redis", "install redis-server (apt-get install redis-server)")
    late = LateRedis(tmp_path / "redis")
    yield late
    late.stop()


def _env(late: LateRedis, data: Path) -> dict[str, str]:
    return kit_env(data, REDIS_URL=late.url, HELPDESK_REDIS_BACKEND="url",
                   HELPDESK_KEY_PREFIX=PREFIX, REDIS_SOCKET_TIMEOUT="0.5")


def _text(path: Path) -> str:
    return path.read_text(errors="replace") if path.exists() else ""


# --- the app ----------------------------------------------------------------------------------
def test_the_app_serves_from_the_database_then_hits_the_cache_once_redis_answers(
        late_redis: LateRedis, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    settings = Settings.from_env(_env(late_redis, tmp_path / "data"))
    with caplog.at_level(logging.WARNING, logger="helpdesk_kit.backends"):
        app = HelpdeskApp.from_settings(settings)
    started = [r.getMessage() for r in caplog.records if "starting anyway" in r.getMessage()]
    assert len(started) == 1 and SECRET not in started[0]  # logged once, redacted
    with app:
        assert app.backend is not None and not app.backend.answering
        load_sample(app.store, 5, 10, seed=42, progress=False)
        expected = app.store.get_ticket(3)
        assert app.get_ticket(3) == {"success": True, "ticket": expected}  # the database
        assert app.cache is not None
        stats = app.cache.stats()["ticket"]
        assert (stats.errors, stats.hits) == (1, 0)  # fail-open, counted
        late_redis.start()  # no restart of the app: the same client connects now

        def hit() -> bool:
            app.get_ticket(3)
            return app.cache.stats()["ticket"].hits >= 1  # type: ignore[union-attr]

        until(hit, 15, "a cache hit after Redis started")
        assert app.get_ticket(3)["ticket"] == expected
        assert app.redis is not None and app.redis.exists(app.keys.ticket(3))


# --- the worker ---------------------------------------------------------------------------------
def _worker(late: LateRedis, tmp_path: Path, *args: str) -> tuple[subprocess.Popen[bytes], Path]:
    log = tmp_path / "worker.log"
    with log.open("wb") as out:
        process = subprocess.Popen([HELPDESK_KIT, "worker", "--poll", "0.2", *args],
                                   env=_env(late, tmp_path / "data"), stdout=out,
                                   stderr=subprocess.STDOUT)
    return process, log


def test_a_worker_waits_for_redis_with_backoff_then_runs_the_queue(
        late_redis: LateRedis, tmp_path: Path) -> None:
    store = open_store(Settings(data_dir=tmp_path / "data"))
    load_sample(store, 5, 10, seed=42, progress=False)
    store.db.close()
    worker, log = _worker(late_redis, tmp_path)
    try:
        until(lambda: _text(log).count("trying again") >= 2, 30, "the worker saying it waits")
        assert "trying again in 0.5 s" in _text(log) and "trying again in 1.0 s" in _text(log)
        assert worker.poll() is None  # still there: it waits, it does not exit
        late_redis.start()
        with HelpdeskApp.from_settings(Settings.from_env(_env(late_redis,
                                                               tmp_path / "data"))) as app:
            created = app.create_ticket(2, "The printer is on fire")
            assert created["success"] and created["notification"] == "queued"
            keys = KeySchema(prefix=PREFIX)
            until(lambda: app.redis is not None
                  and int(app.redis.hget(keys.tasks_stats, "done") or 0) >= 1,
                  30, "the worker running the task")
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=30) == 0
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
    output = _text(log)
    assert json.loads(output.strip().splitlines()[-1])["processed"] >= 1
    assert SECRET not in output


def test_a_waiting_worker_stops_on_sigterm(late_redis: LateRedis, tmp_path: Path) -> None:
    worker, log = _worker(late_redis, tmp_path)
    try:
        until(lambda: "trying again" in _text(log), 30, "the worker saying it waits")
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=30) == 0
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
    assert '{"processed": 0}' in _text(log) and SECRET not in _text(log)


def test_a_burst_worker_does_not_wait_it_exits_with_the_reason(
        late_redis: LateRedis, tmp_path: Path) -> None:
    worker, log = _worker(late_redis, tmp_path, "--burst")
    assert worker.wait(timeout=60) == 2
    output = _text(log)
    assert "a --burst worker does not wait" in output and "REDIS_URL=redis://:***@" in output
    assert "trying again" not in output and SECRET not in output


# --- serve ------------------------------------------------------------------------------------
def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as reply:  # noqa: S310  # our own server
            return reply.status, reply.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()
    except OSError:  # not listening yet
        return 0, ""


def test_serve_says_redis_up_0_then_1_once_redis_answers(
        late_redis: LateRedis, tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        serve = subprocess.Popen([HELPDESK_KIT, "serve", "--port", str(port)],
                                 env=_env(late_redis, tmp_path / "data"), stdout=out,
                                 stderr=subprocess.STDOUT)
    try:
        until(lambda: _get(f"{base}/metrics")[0] == 200, 30, "serve answering")
        status, body = _get(f"{base}/metrics")
        assert "redis_up 0" in body
        status, body = _get(f"{base}/api/metrics")
        assert status == 503 and json.loads(body)["error"] == "Redis is unavailable"
        late_redis.start()
        until(lambda: "redis_up 1" in _get(f"{base}/metrics")[1], 30, "redis_up 1")
        status, body = _get(f"{base}/api/metrics")
        assert status == 200 and "redis" in json.loads(body)
        assert serve.poll() is None
    finally:
        serve.send_signal(signal.SIGINT)
        serve.wait(timeout=30)
    assert SECRET not in _text(log)
