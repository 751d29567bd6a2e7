"""``helpdesk-kit classroom serve`` as a real process, and the env files it and ``create`` write.

A class server is what an instructor starts by hand, so the tests start it the same way: the
documented command, in a subprocess, on a free port, its files in a temp folder. Everything a
process prints goes to a file the caller can search for leaked passwords.

The fixtures (``class_server``, ``admin``, ``learners``) are registered by ``conftest.py``;
``class_server`` is module-scoped: each test module that uses it shares one class server.
"""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
import urllib.parse
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import redis
from conftest import missing

from helpdesk_kit.backends import Backend, connect, fail_fast_retry
from helpdesk_kit.config import Settings
from helpdesk_kit.db.sqld import free_port
from helpdesk_kit.lab import classroom

__all__ = ["LEARNER_RUN", "ClassProcess", "admin", "class_server", "forget", "kit_env",
           "learner_backend", "learners", "password_of", "read_env", "run_kit",
           "start_class_server"]

HELPDESK_KIT = str(Path(sys.executable).parent / "helpdesk-kit")
#: Variables of a developer's shell that would point the processes elsewhere.
_OURS = ("REDIS_URL", "HELPDESK_REDIS_BACKEND", "HELPDESK_KEY_PREFIX", "HELPDESK_DATA_DIR",
         "TURSO_DATABASE_URL", "TURSO_AUTH_TOKEN", "REDIS_SOCKET_TIMEOUT", "REDIS_SENTINELS",
         "REDIS_CLUSTER_URL")


def read_env(path: Path) -> dict[str, str]:
    """The ``KEY=value`` lines of an env file, unquoted as a shell would (comments skipped)."""
    result = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            key, _, value = line.partition("=")
            result[key] = " ".join(shlex.split(value))
    return result


def kit_env(data_dir: Path, **values: str) -> dict[str, str]:
    """A clean environment for a kit process: nothing from the caller's shell but PATH & co."""
    env = {k: v for k, v in os.environ.items() if k not in _OURS}
    env.update({"HELPDESK_DATA_DIR": str(data_dir), **values})
    return env


def run_kit(args: list[str], env: dict[str, str], log: Path, timeout: float = 60
            ) -> subprocess.CompletedProcess[str]:
    """Run ``helpdesk-kit ARGS``; its stdout and stderr are also appended to ``log``."""
    done = subprocess.run([HELPDESK_KIT, *args], env=env, capture_output=True, text=True,
                          timeout=timeout, check=False)
    with log.open("a", encoding="utf-8") as out:
        out.write(f"$ helpdesk-kit {' '.join(args)}\n{done.stdout}{done.stderr}")
    return done


#: What each learner runs in the concurrent test: a lesson, the cache, a queue and a worker
#: burst, then tries a classmate's value and FLUSHDB (argv: me, others, a secret value).
LEARNER_RUN = r"""
import json, sys
import redis
from helpdesk_kit.errors import FeatureUnavailableError
from helpdesk_kit.lessons import setup
from helpdesk_kit.queue import Worker

me, others, secret = sys.argv[1], sys.argv[2].split(","), sys.argv[3]
lesson = setup("01_cache_aside", users=20, tickets=50, logs=False)
app = lesson.make_app()
app.get_ticket(7), app.get_ticket(7)
stats = app.cache.stats()["ticket"]
lesson.client.set(lesson.keys.session("secret"), json.dumps(secret))
app.create_ticket(3, f"{me}'s printer is on fire")
app.update_ticket(7, status="closed")
done = Worker(app.queue, app.task_context(), mode="seed").process_all()
refused = []
for other in others:
    try:
        lesson.client.get(f"{other}:lesson01:session:secret")
    except redis.exceptions.NoPermissionError:
        refused.append(other)
try:
    app.cache.flush_all()
    flushed = "FLUSHDB ran"
except FeatureUnavailableError as exc:
    flushed = str(exc)
print(json.dumps({"prefix": lesson.keys.prefix, "hits": stats.hits, "misses": stats.misses,
                  "mine": json.loads(lesson.client.get(lesson.keys.session("secret"))),
                  "done": done, "refused": refused, "flushdb": flushed,
                  "user": lesson.backend.capabilities.acl_user}))
"""


@dataclass
class ClassProcess:
    """A running ``classroom serve``: its folder, port, output file and instructor env."""

    folder: Path
    port: int
    output: Path
    process: subprocess.Popen[bytes]
    instructor: dict[str, str] = field(default_factory=dict, repr=False)

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.instructor["REDIS_URL"], decode_responses=True)

    def stop(self) -> int:
        """Ctrl-C's twin (SIGTERM): serve stops its redis-server and exits 0."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return int(self.process.returncode)


def start_class_server(folder: Path, data_dir: Path, *extra: str, timeout: float = 20
                       ) -> ClassProcess:
    """``helpdesk-kit classroom serve --port FREE --dir FOLDER``; returns once it answers."""
    port = free_port()
    output = folder.parent / f"{folder.name}-serve.log"
    with output.open("wb") as out:
        process = subprocess.Popen(
            [HELPDESK_KIT, "classroom", "serve", "--port", str(port), "--dir", str(folder),
             *extra], env=kit_env(data_dir), stdout=out, stderr=subprocess.STDOUT)
    result = ClassProcess(folder, port, output, process)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"classroom serve exited: {output.read_text()[-2000:]}")
        if "Ctrl-C stops the server" in output.read_text(errors="replace"):
            result.instructor = read_env(folder / "instructor.env")
            return result
        time.sleep(0.05)
    result.stop()
    raise RuntimeError(f"classroom serve was not ready in {timeout} s: "
                       f"{output.read_text()[-2000:]}")


# --- fixtures: the class server and its learners -------------------------------------------
@pytest.fixture(scope="module")
def class_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClassProcess]:
    if shutil.which("redis-server") is None:
        missing("redis", "install redis-server (apt-get install redis-server)")
    root = tmp_path_factory.mktemp("class")
    server = start_class_server(root / "server", root / "data")
    yield server
    assert server.stop() == 0  # Ctrl-C (SIGTERM) is a clean stop...
    with pytest.raises(redis.ConnectionError):  # ...and takes the redis-server with it
        redis.Redis(port=server.port, socket_timeout=1, retry=fail_fast_retry()).ping()


@pytest.fixture
def admin(class_server: ClassProcess) -> Iterator[redis.Redis]:
    client = class_server.client()
    yield client
    client.close()


def forget(admin: redis.Redis, names: list[str]) -> None:
    """Take ``names`` out of the class entirely (users, keys, roster entries)."""
    for name in names:
        admin.acl_deluser(name)
        for key in admin.scan_iter(match=f"{name}:*"):
            admin.unlink(key)
        admin.hdel(classroom.ROSTER_KEY, name)


@pytest.fixture
def learners(admin: redis.Redis, class_server: ClassProcess, tmp_path: Path
             ) -> Iterator[Callable[..., dict[str, dict[str, str]]]]:
    """``learners("a", "b")`` creates them (suffixed: unique per test) and returns each
    name's env file as a dict; they leave the class after the test."""
    made: list[str] = []

    def make(*bases: str) -> dict[str, dict[str, str]]:
        names = [f"{base}-{uuid.uuid4().hex[:6]}" for base in bases]
        created, saved = classroom.create(admin, names, tmp_path / "env",
                                          class_server.instructor["REDIS_URL"])
        assert saved  # the class server keeps an ACL file: a restart keeps the learners
        made.extend(names)
        return {learner.name: read_env(learner.env_file) for learner in created
                if learner.env_file is not None}

    yield make
    forget(admin, made)


def password_of(env: dict[str, str]) -> str:
    """The password in an env file's REDIS_URL (what no output may contain)."""
    password = urllib.parse.urlsplit(env["REDIS_URL"]).password
    assert password
    return password


def learner_backend(env: dict[str, str], tmp_path: Path) -> Backend:
    """The kit's own connection with a learner's env file, as a notebook would make it."""
    return connect(Settings.from_env({**env, "HELPDESK_DATA_DIR": str(tmp_path / "data")}))
