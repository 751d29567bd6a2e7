"""Choosing the database driver, the URLs each one gets, and what the kit calls what it opened."""

from __future__ import annotations

import platform
import sys
from importlib import metadata
from pathlib import Path

import pytest

from helpdesk_kit.config import Settings
from helpdesk_kit.db import drivers, open_database, open_store
from helpdesk_kit.db.libsql_driver import EXACT_INTEGER, driver_url
from helpdesk_kit.errors import ConfigError, DatabaseError
from helpdesk_kit.vocab import DbDriver

SECRET = "tok-SECRET-77"


@pytest.mark.parametrize(("url", "expected"), [
    ("file:/data/helpdesk.db", "/data/helpdesk.db"),
    ("file:///data/my%20db.db", "/data/my db.db"),
    ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
    ("ws://127.0.0.1:8080", "http://127.0.0.1:8080"),
    ("wss://db-org.turso.io", "https://db-org.turso.io"),
    ("libsql://db-org.turso.io", "libsql://db-org.turso.io"),
    ("libsql://127.0.0.1:8080?tls=0", "http://127.0.0.1:8080"),
    ("https://db-org.turso.io", "https://db-org.turso.io"),
])
def test_libsql_gets_a_url_it_speaks(url: str, expected: str) -> None:
    assert driver_url(url, SECRET) == (expected, SECRET)


def test_a_token_in_the_url_is_taken_out_of_it() -> None:
    assert driver_url(f"libsql://h.turso.io?authToken={SECRET}", None) == (
        "libsql://h.turso.io", SECRET)
    with pytest.raises(DatabaseError, match="TURSO_AUTH_TOKEN only"):
        driver_url(f"libsql://h.turso.io?authToken={SECRET}", "another-token")
    with pytest.raises(DatabaseError, match="put the token in TURSO_AUTH_TOKEN"):
        driver_url("http://user:pw@127.0.0.1:8080", None)


def test_integers_round_trip_as_far_as_the_driver_is_exact(tmp_path: Path,
                                                           db_driver: DbDriver) -> None:
    big = 2**40  # beyond 32 bits: libsql 0.1.11 binds it as a REAL, exact and stored INTEGER
    with open_database(f"file:{tmp_path / 'n.db'}", driver=db_driver) as db:
        db.execute("CREATE TABLE n (id INTEGER PRIMARY KEY, v INTEGER)")
        db.execute("INSERT INTO n (id, v) VALUES (?, ?)", (big, big))
        assert db.execute("SELECT id, v, typeof(v) FROM n WHERE id = ?", (big,)).rows == [
            (big, big, "integer")]


def test_libsql_refuses_an_integer_it_would_store_wrong(tmp_path: Path) -> None:
    if not drivers.available(DbDriver.LIBSQL):
        pytest.skip("the libsql driver is not installed on this platform")
    with open_database(f"file:{tmp_path / 'n.db'}", driver=DbDriver.LIBSQL) as db:
        db.execute("CREATE TABLE n (v INTEGER)")
        with pytest.raises(DatabaseError, match="too large for the libsql driver"):
            db.execute("INSERT INTO n (v) VALUES (?)", (EXACT_INTEGER + 1,))
        assert db.execute("SELECT COUNT(*) FROM n").rows[0][0] == 0


def test_the_description_says_what_the_database_really_is(tmp_path: Path,
                                                          db_driver: DbDriver) -> None:
    store = open_store(Settings(data_dir=tmp_path, db_driver=db_driver))
    try:
        words = store.db.description
    finally:
        store.db.close()
    version = metadata.version(db_driver.value)
    if db_driver is DbDriver.LIBSQL:
        assert words == f"a local libSQL file, through libsql {version}"
    else:
        assert words == (f"a local SQLite file, through libsql-client {version} "
                         "(Python's sqlite3)")
    assert drivers.describe(db_driver, local=False).startswith("a remote libSQL server")


def test_helpdesk_db_driver_picks_the_driver(tmp_path: Path) -> None:
    settings = Settings.from_env({"HELPDESK_DB_DRIVER": "libsql-client",
                                  "HELPDESK_DATA_DIR": str(tmp_path)})
    assert settings.db_driver is DbDriver.LIBSQL_CLIENT
    store = open_store(settings)
    try:
        assert store.db.driver is DbDriver.LIBSQL_CLIENT
    finally:
        store.db.close()
    assert Settings.from_env({}).db_driver is None
    with pytest.raises(ConfigError, match="HELPDESK_DB_DRIVER must be one of libsql, "
                                          "libsql-client"):
        Settings.from_env({"HELPDESK_DB_DRIVER": "sqlite3"})


def test_without_libsql_the_kit_falls_back_and_says_why(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch
                                                        ) -> None:
    """Linux aarch64 has no libsql wheel: the default is then libsql-client."""
    real = drivers.available
    monkeypatch.setattr(drivers, "available", lambda d: d is not DbDriver.LIBSQL and real(d))
    assert drivers.default_driver() is DbDriver.LIBSQL_CLIENT
    with pytest.raises(DatabaseError, match="libsql driver is not installed"):
        open_database(f"file:{tmp_path / 'x.db'}", driver=DbDriver.LIBSQL)


def test_libsql_is_the_default_where_pyproject_installs_it() -> None:
    """pyproject.toml's marker: libsql on macOS and on Linux x86_64, nowhere else on Linux."""
    wheel_here = sys.platform != "linux" or platform.machine() == "x86_64"
    assert drivers.available(DbDriver.LIBSQL) is wheel_here
    assert drivers.default_driver() is (DbDriver.LIBSQL if wheel_here
                                        else DbDriver.LIBSQL_CLIENT)
