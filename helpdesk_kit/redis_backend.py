"""One call gives a Redis client, and says which Redis it is and what it can do.

Choice, in order (``HELPDESK_REDIS_BACKEND=auto``):

1. ``url``    - ``REDIS_URL`` is set: that server (``redis://``, ``rediss://``, with password).
2. ``server`` - a ``redis-server`` binary is on PATH: a private server on a unix socket in a
   temporary folder, no persistence, stopped when this Python process exits.
3. ``fake``   - fakeredis, in this process: zero setup, but no INFO, CONFIG or evictions.

Set ``HELPDESK_REDIS_BACKEND`` (or pass ``prefer=``) to force one. Clients decode responses to
``str``: every value the kit stores is JSON text, and readable text is what a lesson shows.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import shutil
import subprocess
import tempfile
import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from .config import BackendChoice, Settings, redact_url
from .errors import RedisBackendError
from .processes import stop_process

__all__ = ["Backend", "Capabilities", "RedisServer", "connect", "delete_matching", "probe"]

log = logging.getLogger(__name__)

def fail_fast_retry() -> Retry:
    """One immediate retry, then the error: the kit's clients fail fast on purpose.

    redis-py's default retries with exponential backoff for seconds, which turns "Redis is down"
    into a frozen notebook. One retry still survives a dropped idle connection; after that the
    cache counts the error and reads fall through to the database (fail-open).
    """
    return Retry(NoBackoff(), 1)


FAKEREDIS_NOTICE = (
    "Using fakeredis (in-process): caching and queues work, but INFO memory/stats, "
    "CONFIG maxmemory and evictions need a real redis-server."
)


@dataclass(frozen=True)
class Capabilities:
    """What a backend can show a learner; lessons skip or explain what is missing."""

    server_version: str | None
    info: bool
    lua: bool
    maxmemory_configurable: bool


@dataclass
class Backend:
    """A connected Redis client plus what it is (``kind``) and what it can do."""

    client: redis.Redis
    kind: str  # "url" | "server" | "fake"
    description: str
    capabilities: Capabilities
    notice: str | None = None

    def __repr__(self) -> str:
        return f"Backend(kind={self.kind!r}, description={self.description!r})"


class RedisServer:
    """A private ``redis-server`` on a unix socket in a temp folder, with no persistence.

    Tests start one per session; :func:`connect` starts one per process. ``stop()`` (also run
    at exit) kills it and removes its folder; a failed ``start()`` stops it too, so nothing
    is left behind.
    """

    def __init__(self, binary: str = "redis-server", *extra_args: str) -> None:
        path = shutil.which(binary)
        if path is None:
            raise RedisBackendError(
                f"{binary!r} is not on PATH: install it (Debian/Ubuntu: apt-get install "
                "redis-server; macOS: brew install redis) or use fakeredis"
            )
        self.binary = path
        self.extra_args = extra_args
        self.dir = Path(tempfile.mkdtemp(prefix="helpdesk-redis-"))
        self.socket = self.dir / "redis.sock"
        self.process: subprocess.Popen[bytes] | None = None
        self._atexit_registered = False

    @property
    def url(self) -> str:
        return f"unix://{self.socket}"

    def start(self, timeout: float = 5.0) -> RedisServer:
        """Start the server and wait until it answers PING; raise RedisBackendError if not."""
        args = [
            self.binary, "--port", "0", "--unixsocket", str(self.socket),
            "--unixsocketperm", "700", "--save", "", "--appendonly", "no",
            "--dir", str(self.dir), *self.extra_args,
        ]
        self.dir.mkdir(parents=True, exist_ok=True)  # again, after a stop()
        if not self._atexit_registered:  # once per server, however often it is restarted
            atexit.register(self.stop)
            self._atexit_registered = True
        try:
            self.process = subprocess.Popen(
                args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=self.dir
            )
            self._wait_until_ready(self.process, timeout)
        except BaseException:
            self.stop()  # no orphan process, no leftover temp folder
            raise
        return self

    def _wait_until_ready(self, process: subprocess.Popen[bytes], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        probe_client = redis.Redis(unix_socket_path=str(self.socket))
        try:
            while time.monotonic() < deadline:
                if process.poll() is not None:
                    err = process.stderr.read().decode() if process.stderr else ""
                    raise RedisBackendError(f"redis-server exited at start: {err.strip()}")
                try:
                    if probe_client.ping():
                        return
                except redis.ConnectionError:
                    time.sleep(0.01)
        finally:
            probe_client.close()
        raise RedisBackendError(f"redis-server did not answer within {timeout} s")

    def client(self, **kwargs: Any) -> redis.Redis:
        kwargs.setdefault("retry", fail_fast_retry())
        return redis.Redis(unix_socket_path=str(self.socket), decode_responses=True, **kwargs)

    def stop(self) -> None:
        stop_process(self.process)
        self.process = None
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def probe(client: redis.Redis) -> Capabilities:
    """Ask the server what it supports; fakeredis and managed services lack some commands.

    Read-only: it never changes the server, which may be a shared or production one (your
    ``REDIS_URL``). ``maxmemory_configurable`` means the CONFIG command is allowed (CONFIG GET
    answers ``maxmemory``); many managed services disable CONFIG altogether. It does not prove
    that CONFIG SET would be accepted - a server may still refuse it by ACL.
    """
    version: str | None = None
    info = lua = maxmemory = False
    with contextlib.suppress(redis.ResponseError):
        reported = client.info("server").get("redis_version")
        version = str(reported) if reported else None  # some managed services leave it out
        info = True
    with contextlib.suppress(redis.ResponseError, ImportError):  # fakeredis without lupa
        lua = client.eval("return 1", 0) == 1
    with contextlib.suppress(redis.ResponseError):
        maxmemory = client.config_get("maxmemory").get("maxmemory") is not None
    return Capabilities(version, info, lua, maxmemory)


def delete_matching(client: redis.Redis, pattern: str, *, count: int = 500) -> int:
    """Delete every key matching ``pattern``; return how many were deleted.

    Keys are found with SCAN (``count`` per step), never KEYS: KEYS walks the whole key space
    in one go and blocks every other client meanwhile. They are removed in batches of up to
    ``count`` keys, one UNLINK per batch (UNLINK frees the memory in the background, so even a
    big batch does not block the server). Keys created while the SCAN runs may be missed.
    """
    if count < 1:
        raise ValueError(f"count must be at least 1, got {count}")
    deleted = 0
    batch: list[str] = []
    for key in client.scan_iter(match=pattern, count=count):
        batch.append(key)
        if len(batch) >= count:
            deleted += int(client.unlink(*batch))
            batch.clear()
    if batch:
        deleted += int(client.unlink(*batch))
    return deleted


_private_server: RedisServer | None = None
_fake_server: Any = None


def _redis_hint(exc: Exception) -> str:
    """What to do about a failed connection, in the learner's terms."""
    if isinstance(exc, redis.AuthenticationError):
        return "the server refused the password: check the password in REDIS_URL"
    if isinstance(exc, ValueError):
        return "REDIS_URL must start with redis://, rediss:// or unix://"
    if isinstance(exc, redis.TimeoutError):
        return "no answer within REDIS_SOCKET_TIMEOUT: is the host right, is a firewall in the way?"
    if isinstance(exc, redis.ConnectionError):
        return "cannot connect: is the server running, are the host and port right?"
    return "the server answered, but not as a usable Redis"


def _connect_url(url: str, timeout: float) -> Backend:
    client: redis.Redis | None = None
    try:
        client = redis.Redis.from_url(
            url, decode_responses=True, socket_timeout=timeout, socket_connect_timeout=timeout,
            retry=fail_fast_retry(),
        )
        client.ping()
        caps = probe(client)
    except (ValueError, redis.RedisError) as exc:
        if client is not None:
            client.close()
        reason = str(exc).replace(url, redact_url(url))
        password = urllib.parse.urlsplit(url).password
        if password:
            reason = reason.replace(password, "***")
        raise RedisBackendError(
            f"Cannot use REDIS_URL={redact_url(url)}: {_redis_hint(exc)} "
            f"({type(exc).__name__}: {' '.join(reason.split())})"
        ) from None
    return Backend(client, "url", f"Redis at {redact_url(url)}", caps)


def _connect_server(timeout: float) -> Backend:
    global _private_server
    if _private_server is None or _private_server.process is None:
        _private_server = RedisServer().start()
    client = _private_server.client(socket_timeout=timeout)
    try:
        caps = probe(client)
    except redis.RedisError as exc:
        client.close()
        raise RedisBackendError(
            f"the private redis-server at {_private_server.url} stopped answering "
            f"({type(exc).__name__}: {exc})"
        ) from exc
    return Backend(
        client, "server", f"private redis-server {caps.server_version} at {_private_server.url}",
        caps,
    )


def _connect_fake() -> Backend:
    global _fake_server
    import fakeredis  # imported late: only the fallback needs it

    if _fake_server is None:
        _fake_server = fakeredis.FakeServer()
    client = fakeredis.FakeRedis(server=_fake_server, decode_responses=True)
    return Backend(client, "fake", "fakeredis (in-process)", probe(client), FAKEREDIS_NOTICE)


def connect(settings: Settings | None = None, prefer: BackendChoice | None = None) -> Backend:
    """Return a connected :class:`Backend` following the order in the module docstring.

    In one process, repeated calls share the same private server (or fake server), so the
    app, the worker and a notebook's widgets all see the same data.
    """
    settings = settings or Settings.from_env()
    choice = prefer or settings.redis_backend
    if choice == "url" or (choice == "auto" and settings.redis_url):
        if not settings.redis_url:
            raise RedisBackendError("HELPDESK_REDIS_BACKEND=url needs REDIS_URL to be set")
        return _connect_url(settings.redis_url, settings.redis_socket_timeout)
    if choice == "server" or (choice == "auto" and shutil.which("redis-server")):
        return _connect_server(settings.redis_socket_timeout)
    backend = _connect_fake()
    if choice == "auto":  # a fallback the learner did not ask for: say so, in one line
        log.warning(FAKEREDIS_NOTICE)
    return backend
