"""The second driver: ``libsql-client`` (``HELPDESK_DB_DRIVER=libsql-client``).

The package the kit was first asked to use; archived upstream in June 2025 ("progress
continues at libsql-python", the ``libsql`` package). It stays because existing setups use it
and because it is pure Python: it installs where ``libsql`` has no wheel (Linux aarch64).

What it really does:

* ``file:`` URLs run on **Python's sqlite3**, not libSQL: a new sqlite3 connection and a hop to
  a helper thread on *every* ``execute`` (a few hundred microseconds). Batches run many
  statements on one connection inside one transaction.
* ``http://`` speaks sqld's legacy ``/v1`` API (a batch is one request); ``ws://``, ``wss://``
  and ``libsql://`` speak Hrana over WebSocket. Turso's current platform answers neither
  (see the README's "Which driver reaches which Turso").

It opens sqlite3 with ``timeout=0``, so two writers at the same moment fail at once with
"database is locked": :class:`~helpdesk_kit.db.database.Database` retries those.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Sequence
from typing import Any

import libsql_client

from .protocol import Result, Statement

__all__ = ["ClientConnection", "connect"]


class ClientConnection:
    """A ``libsql_client`` sync client behind the kit's :class:`~.protocol.Connection`."""

    def __init__(self, url: str, token: str | None) -> None:
        self._client = libsql_client.create_client_sync(url, auth_token=token)
        # A connection dropped without close() still stops its client's thread when collected.
        self._finalizer = weakref.finalize(self, _close_client, self._client)
        _open_connections.add(self)

    @property
    def closed(self) -> bool:
        return bool(self._client.closed)

    def execute(self, sql: str, args: Sequence[Any]) -> Result:
        return _result(self._client.execute(sql, list(args)))

    def batch(self, statements: Sequence[Statement]) -> list[Result]:
        stmts = [libsql_client.Statement(sql, list(args)) for sql, args in statements]
        return [_result(rs) for rs in self._client.batch(stmts)]

    def close(self) -> None:
        _open_connections.discard(self)
        self._finalizer()


def _result(rs: libsql_client.ResultSet) -> Result:
    """Its rows are ``Row`` objects: plain tuples, as the other driver gives."""
    return Result([tuple(row) for row in rs.rows], rs.rows_affected)


def _close_client(client: libsql_client.ClientSync) -> None:
    if not client.closed:
        client.close()


_open_connections: weakref.WeakSet[ClientConnection] = weakref.WeakSet()


def _close_all_connections() -> None:
    """Close every open client before the interpreter joins its threads.

    The sync client runs a *non-daemon* helper thread, and Python joins those threads before
    ``atexit`` handlers run: a script that never called ``close()`` would hang at exit.
    ``threading._register_atexit`` runs before that join (``concurrent.futures`` relies on it).
    Still needed: this is libsql-client's own thread, whichever driver is the default.
    """
    for connection in list(_open_connections):
        connection.close()


_register = getattr(threading, "_register_atexit", None)
if _register is not None:
    _register(_close_all_connections)


def connect(url: str, token: str | None) -> ClientConnection:
    """Open ``url`` with ``libsql-client`` (the caller checks that it answers)."""
    return ClientConnection(url, token)
