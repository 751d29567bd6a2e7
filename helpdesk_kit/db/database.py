"""The one place that talks to ``libsql-client``: open a URL, run statements, explain failures.

Keeping the driver behind this small class means the rest of the kit never sees driver
exceptions (they become :class:`~helpdesk_kit.errors.DatabaseError` with a readable reason and
no token), and the driver could be swapped without touching the store.

Cost to know: on a ``file:`` URL libsql-client opens a new sqlite3 connection and hops to a
helper thread on *every* ``execute`` (~0.2 ms). :meth:`Database.batch` runs many statements on
one connection inside one transaction, so loops of writes should be batches.

A local file has one more trap: the driver opens sqlite3 with ``timeout=0``, so two writers at
the same moment fail at once with "database is locked". For ``file:`` URLs we retry such
statements with a short backoff (they are whole statements or whole batches, so a retry is safe).
"""

from __future__ import annotations

import threading
import time
import urllib.parse
import weakref
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import libsql_client

from ..config import redact_url
from ..errors import DatabaseError

__all__ = ["Database", "Statement", "open_database"]

#: A statement: SQL text and its positional parameters (always parameters, never formatting).
Statement = tuple[str, Sequence[Any]]

_SCHEMES = ("file", "libsql", "http", "https", "ws", "wss")
_BUSY_RETRY_SECONDS = 10.0


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
    """A thin, synchronous handle on one libSQL database."""

    def __init__(self, client: libsql_client.ClientSync, url: str, token: str | None) -> None:
        self._client = client
        self._raw_url = url
        self._token = token
        self.url = redact_url(url)
        self.is_local = url.startswith("file:")
        # A Database dropped without close() still stops its client's thread when collected.
        self._finalizer = weakref.finalize(self, _close_client, client)
        _open_databases.add(self)

    def __repr__(self) -> str:
        return f"Database({self.url!r})"

    @property
    def closed(self) -> bool:
        return bool(self._client.closed)

    def _run(self, what: str, call: Any) -> Any:
        if self.closed:
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

    def execute(self, sql: str, args: Sequence[Any] = ()) -> libsql_client.ResultSet:
        """Run one parameterised statement."""
        return self._run("run a query on", lambda: self._client.execute(sql, list(args)))

    def batch(self, statements: Sequence[Statement]) -> list[libsql_client.ResultSet]:
        """Run statements in one transaction: all apply or none (one round trip when remote)."""
        if not statements:
            return []
        stmts = [libsql_client.Statement(sql, list(args)) for sql, args in statements]
        return self._run("run a batch on", lambda: self._client.batch(stmts))

    def executescript(self, script: str) -> None:
        """Run a trusted, parameter-free SQL script (the schema), statement by statement."""
        statements = [s.strip() for s in _split_sql(script) if s.strip()]
        self.batch([(s, ()) for s in statements])

    def close(self) -> None:
        _open_databases.discard(self)
        self._finalizer()

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _close_client(client: libsql_client.ClientSync) -> None:
    if not client.closed:
        client.close()


_open_databases: weakref.WeakSet[Database] = weakref.WeakSet()


def _close_all_databases() -> None:
    """Close every open client before the interpreter joins its threads.

    The sync client runs a *non-daemon* helper thread, and Python joins those threads before
    ``atexit`` handlers run: a script that never called ``close()`` would hang at exit.
    ``threading._register_atexit`` runs before that join (``concurrent.futures`` relies on it).
    """
    for db in list(_open_databases):
        db.close()


_register = getattr(threading, "_register_atexit", None)
if _register is not None:
    _register(_close_all_databases)


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


def open_database(url: str, auth_token: str | None = None) -> Database:
    """Open ``url`` and check it answers ``SELECT 1``; any failure is one clear DatabaseError."""
    _check_url(url)
    try:
        client = libsql_client.create_client_sync(url, auth_token=auth_token)
    except Exception as exc:
        raise DatabaseError(
            f"Cannot open {redact_url(url)}: {_explain(exc, url, auth_token)}"
        ) from None
    db = Database(client, url, auth_token)
    try:
        db._run("open", lambda: client.execute("SELECT 1"))
        if db.is_local:
            # WAL lets readers (the app) and a writer (the worker) work at the same time.
            db.execute("PRAGMA journal_mode=WAL")
    except DatabaseError:
        db.close()
        raise
    return db
