"""The one place the store reaches a database driver: open a URL, run statements, explain failures.

Keeping the drivers behind this small class means the rest of the kit never sees driver
exceptions (they become :class:`~helpdesk_kit.errors.DatabaseError` with a readable reason and
no token), and the driver can be swapped (``HELPDESK_DB_DRIVER``) without touching the store.
The drivers themselves live in :mod:`.libsql_driver` (the default) and :mod:`.client_driver`.

A local file has one trap whichever driver runs it: both open SQLite with a busy timeout of 0,
so two writers at the same moment fail at once with "database is locked" (libsql-client does
so itself; for libsql the kit chooses it, because libsql keeps the GIL during SQLite's busy
wait, see :mod:`.libsql_driver`). For local files we retry such statements with a short
backoff in Python, whose sleep lets other threads run (they are whole statements or whole
batches, so a retry is safe).
"""

from __future__ import annotations

import time
import urllib.parse
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from ..config import redact_url
from ..errors import DatabaseError
from ..vocab import DbDriver
from . import drivers
from .protocol import Connection, Result, Statement

__all__ = ["Database", "Result", "Statement", "open_database"]

_SCHEMES = ("file", "libsql", "http", "https", "ws", "wss")
_BUSY_RETRY_SECONDS = 10.0
_T = TypeVar("_T")


def _secrets(url: str, token: str | None) -> list[str]:
    """Every secret that could show up in a driver's error text: the token, URL passwords."""
    parts = urllib.parse.urlsplit(url)
    found = [token, parts.password]
    found += [value for name, value in urllib.parse.parse_qsl(parts.query)
              if name.lower() in {"authtoken", "auth_token", "token", "password"}]
    return [s for s in found if s]


def _explain(exc: BaseException, url: str, token: str | None) -> str:
    """A one-line reason a learner can act on; never includes the token or the raw URL."""
    text = (str(exc) or type(exc).__name__).replace(url, redact_url(url))
    lowered = text.lower()
    if "401" in text or "unauthorized" in lowered or "authentication" in lowered:
        reason = "the server refused the credentials (check TURSO_AUTH_TOKEN)"
    elif isinstance(exc, OSError) or "cannot connect" in lowered or "refused" in lowered:
        reason = (f"cannot reach the server, or it closed the connection ({text}); is it "
                  "running, is the URL right, does it accept TURSO_AUTH_TOKEN?")
    elif "cannot combine authorization" in lowered:
        reason = ("credentials both in the URL and in TURSO_AUTH_TOKEN: keep the token in "
                  "TURSO_AUTH_TOKEN only")
    elif "unable to open database file" in lowered:
        reason = "cannot open the database file (does its folder exist? is it writable?)"
    else:
        reason = f"{type(exc).__name__}: {text}"
    for secret in _secrets(url, token):
        reason = reason.replace(secret, "***")
    return " ".join(reason.split())  # one line, whatever the driver's text looked like


def _is_busy(exc: BaseException) -> bool:
    text = str(exc).lower()
    return "database is locked" in text or "sqlite_busy" in text


class Database:
    """A thin, synchronous handle on one database, through one driver."""

    def __init__(self, connection: Connection, url: str, token: str | None,
                 driver: DbDriver) -> None:
        self._connection = connection
        self._raw_url = url
        self._token = token
        self.url = redact_url(url)
        self.driver = driver
        self.is_local = url.startswith("file:")
        self._closed = False

    def __repr__(self) -> str:
        return f"Database({self.url!r}, driver={self.driver.value!r})"

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def description(self) -> str:
        """What this really is: ``a local libSQL file, through libsql 0.1.11`` (for doctor)."""
        return drivers.describe(self.driver, self.is_local)

    def _run(self, what: str, call: Callable[[], _T]) -> _T:
        if self._closed:
            raise DatabaseError(f"Cannot {what} {self.url}: it was closed; open the store again")
        deadline = time.monotonic() + _BUSY_RETRY_SECONDS
        pause = 0.001
        while True:
            try:
                return call()
            except Exception as exc:
                if self.is_local and _is_busy(exc) and time.monotonic() < deadline:
                    time.sleep(pause)
                    pause = min(pause * 2, 0.05)
                    continue
                reason = _explain(exc, self._raw_url, self._token)
                raise DatabaseError(f"Cannot {what} {self.url}: {reason}") from None

    def execute(self, sql: str, args: Sequence[Any] = ()) -> Result:
        """Run one parameterised statement."""
        return self._run("run a query on", lambda: self._connection.execute(sql, args))

    def batch(self, statements: Sequence[Statement]) -> list[Result]:
        """Run statements in one transaction: all apply or none."""
        if not statements:
            return []
        return self._run("run a batch on", lambda: self._connection.batch(statements))

    def executescript(self, script: str) -> None:
        """Run a trusted, parameter-free SQL script (the schema), statement by statement."""
        statements = [s.strip() for s in _split_sql(script) if s.strip()]
        self.batch([(s, ()) for s in statements])

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._connection.close()

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _split_sql(script: str) -> list[str]:
    """Split a schema file on ``;`` after dropping ``--`` comments (no ``;`` in our literals)."""
    lines = [line.split("--", 1)[0] for line in script.splitlines()]
    return "\n".join(lines).split(";")


def _check_url(url: str) -> None:
    scheme = urllib.parse.urlsplit(url).scheme
    if scheme not in _SCHEMES:
        raise DatabaseError(
            f"Unsupported database URL {redact_url(url)!r}: it must start with one of "
            + ", ".join(f"{s}:" for s in _SCHEMES)
        )
    if scheme == "file":
        path = Path(urllib.parse.urlsplit(url).path)
        if not path.is_absolute():
            # Relative to whatever folder Python was started in: a notebook, the CLI and the
            # worker would each open (and create) a different file. Refuse instead.
            raise DatabaseError(
                f"Cannot open {redact_url(url)}: a file: URL needs an absolute path, e.g. "
                f"file:{Path.cwd() / path}"
            )
        if not path.parent.is_dir():
            raise DatabaseError(
                f"Cannot open {redact_url(url)}: the folder {path.parent} does not exist"
            )


def open_database(url: str, auth_token: str | None = None,
                  driver: DbDriver | None = None) -> Database:
    """Open ``url`` and check it answers ``SELECT 1``; any failure is one clear DatabaseError.

    ``driver`` None: :func:`~.drivers.default_driver` (``libsql`` where it is installed).
    """
    _check_url(url)
    chosen = driver or drivers.default_driver()
    try:
        connection = drivers.connect(chosen, url, auth_token)
    except DatabaseError as exc:
        raise DatabaseError(f"Cannot open {redact_url(url)}: {exc}") from None
    except Exception as exc:
        raise DatabaseError(
            f"Cannot open {redact_url(url)}: {_explain(exc, url, auth_token)}"
        ) from None
    db = Database(connection, url, auth_token, chosen)
    try:
        db._run("open", lambda: connection.execute("SELECT 1", ()))
        if db.is_local:
            # WAL lets readers (the app) and a writer (the worker) work at the same time.
            db.execute("PRAGMA journal_mode=WAL")
    except DatabaseError:
        db.close()
        raise
    return db
