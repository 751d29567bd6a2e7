"""The default driver: ``libsql``, the official libSQL package (a Rust extension).

What it reaches:

* a local file, opened as native libSQL, on a connection kept for the life of the
  :class:`~helpdesk_kit.db.database.Database` (a point lookup costs tens of microseconds);
* ``libsql://`` and ``https://``: Turso today (Hrana over HTTPS, with ``TURSO_AUTH_TOKEN``);
* ``http://``: a local sqld, which the tests and lesson 09 start.

It speaks Hrana over HTTP only. ``ws://``/``wss://`` URLs (and ``libsql://...?tls=0``) name the
same server and port over WebSocket, so they are sent to ``http://``/``https://`` there
(sqld and Turso serve both on one port). libsql itself would take ``ws://x`` for a file name.

Three facts of libsql 0.1.11, found by trying (see tests/test_database.py):

1. **It keeps the GIL while it waits** (on the network, or on a lock in SQLite or sqld):
   every other thread of the process stops meanwhile. Two connections of one process to one
   database could then deadlock: one waits for a lock (holding the GIL) that the other can
   never release. So every connection of this process to one database shares one
   :func:`target_lock` (a Python lock, which releases the GIL while it waits), and a local
   file is opened with SQLite's busy timeout at 0: another *process*'s lock answers "database
   is locked" at once and :class:`~helpdesk_kit.db.database.Database` retries after a sleep
   (which releases the GIL), instead of SQLite's busy wait (which would not).
2. **Integers beyond 32 bits are bound as REAL.** Exact up to 2**53, and an INTEGER column
   stores them as integers again; beyond that digits would be lost, so such a parameter is
   refused here rather than stored wrong.
3. A statement on a closed connection panics in Rust; :class:`LibsqlConnection` refuses it.

A batch is ``BEGIN IMMEDIATE`` ... ``COMMIT`` on the one connection: it takes the write lock
first, so no other writer can slip in between its statements. Remotely each statement is a
request of its own (libsql-client sends a batch as one request).
"""

from __future__ import annotations

import threading
import urllib.parse
from collections.abc import Sequence
from typing import Any

from ..errors import DatabaseError
from .protocol import Result, Statement

__all__ = ["LibsqlConnection", "connect", "driver_url", "target_lock"]

#: libsql 0.1.11 binds an int outside 32 bits as a REAL: exact only up to here.
EXACT_INTEGER = 2**53

_TARGET_LOCKS: dict[str, threading.Lock] = {}
_TARGET_LOCKS_GUARD = threading.Lock()


def target_lock(target: str) -> threading.Lock:
    """The one lock this process uses for ``target`` (a file path or a server URL)."""
    with _TARGET_LOCKS_GUARD:
        return _TARGET_LOCKS.setdefault(target, threading.Lock())


def driver_url(url: str, token: str | None) -> tuple[str, str | None]:
    """``(what libsql.connect gets, the token)`` for one of the kit's database URLs.

    ``file:`` URLs become a path; WebSocket URLs the HTTP URL of the same server; an
    ``authToken`` in the query becomes the token. Credentials in the URL's user part are
    refused: libsql sends only a bearer token.
    """
    parts = urllib.parse.urlsplit(url)
    if parts.scheme == "file":
        return urllib.parse.unquote(parts.path), token
    if parts.username is not None or parts.password is not None:
        raise DatabaseError("credentials both in the URL and in TURSO_AUTH_TOKEN: keep the "
                            "token in TURSO_AUTH_TOKEN only" if token else
                            "the libsql driver does not read credentials from the URL: put "
                            "the token in TURSO_AUTH_TOKEN")
    query = urllib.parse.parse_qsl(parts.query)
    plain = dict(query).get("tls") == "0"
    kept = [(name, value) for name, value in query if name not in {"tls", "authToken"}]
    in_url = dict(query).get("authToken")
    if in_url and token and in_url != token:
        raise DatabaseError("credentials both in the URL and in TURSO_AUTH_TOKEN: keep the "
                            "token in TURSO_AUTH_TOKEN only")
    scheme = {"ws": "http", "wss": "https"}.get(parts.scheme, parts.scheme)
    if parts.scheme == "libsql" and plain:
        scheme = "http"
    rebuilt = urllib.parse.urlunsplit(
        (scheme, parts.netloc, parts.path, urllib.parse.urlencode(kept), ""))
    return rebuilt, token or in_url


def _check_integers(args: Sequence[Any]) -> tuple[Any, ...]:
    for value in args:
        if type(value) is int and abs(value) > EXACT_INTEGER:
            raise DatabaseError(
                f"the integer {value} is too large for the libsql driver (0.1.11 sends "
                f"integers beyond 32 bits as REAL, exact only up to 2**53); use "
                f"HELPDESK_DB_DRIVER=libsql-client or pass it as text")
    return tuple(args)


class LibsqlConnection:
    """One kept ``libsql`` connection, in autocommit mode; batches are explicit transactions."""

    def __init__(self, url: str, token: str | None) -> None:
        import libsql

        target, auth = driver_url(url, token)
        self.local = urllib.parse.urlsplit(url).scheme == "file"
        self._lock = target_lock(target)
        # isolation_level=None: autocommit, so a lone statement never leaves a transaction
        # open; timeout=0: see point 1 of the module docstring (the retry lives in Database).
        self._conn = libsql.connect(target, isolation_level=None, timeout=0,
                                    auth_token=auth or "")
        self.closed = False

    def _run(self, sql: str, args: Sequence[Any]) -> Result:
        cursor = self._conn.execute(sql, _check_integers(args))
        rows = cursor.fetchall()
        return Result(rows, cursor.rowcount)

    def execute(self, sql: str, args: Sequence[Any]) -> Result:
        with self._lock:
            self._refuse_if_closed()
            return self._run(sql, args)

    def batch(self, statements: Sequence[Statement]) -> list[Result]:
        with self._lock:
            self._refuse_if_closed()
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                results = [self._run(sql, args) for sql, args in statements]
                self._conn.execute("COMMIT")
            except BaseException:
                self._roll_back()
                raise
            return results

    def _roll_back(self) -> None:
        """Undo the open transaction, if the connection still has one (it may be gone)."""
        try:
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
        except Exception:  # noqa: S110 - the statement's own error is the one to report
            pass

    def _refuse_if_closed(self) -> None:
        if self.closed:
            raise DatabaseError("the connection was closed")

    def close(self) -> None:
        with self._lock:
            if not self.closed:
                self.closed = True
                self._conn.close()


def connect(url: str, token: str | None) -> LibsqlConnection:
    """Open ``url`` with the ``libsql`` driver (the caller checks that it answers)."""
    return LibsqlConnection(url, token)
