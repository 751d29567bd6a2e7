"""The driver wrapper, once per driver: atomic batches, busy retries, errors without secrets,
clean exit."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest
from conftest import free_port

from helpdesk_kit.config import Settings
from helpdesk_kit.db import open_database, open_store
from helpdesk_kit.db.database import _split_sql
from helpdesk_kit.errors import DatabaseError
from helpdesk_kit.vocab import DbDriver

SECRET = "tok-3f9a-SECRET"


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"file:{tmp_path / 'db.sqlite'}"


def test_execute_is_parameterised_and_batch_returns_every_result(url: str, db_driver: DbDriver
                                                                 ) -> None:
    with open_database(url, driver=db_driver) as db:
        db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
        results = db.batch([("INSERT INTO t (v) VALUES (?)", ("a'; --",)),
                            ("SELECT v FROM t", ())])
        assert len(results) == 2 and results[1].rows[0][0] == "a'; --"
        assert db.batch([]) == []


def test_a_failing_batch_applies_nothing(url: str, db_driver: DbDriver) -> None:
    with open_database(url, driver=db_driver) as db:
        db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)")
        with pytest.raises(DatabaseError, match="Cannot run a batch on"):
            db.batch([("INSERT INTO t (v) VALUES (?)", ("kept?",)),
                      ("INSERT INTO t (v) VALUES (?)", (None,))])
        assert db.execute("SELECT COUNT(*) FROM t").rows[0][0] == 0


def test_two_writers_at_once_both_succeed(url: str, db_driver: DbDriver) -> None:
    """Both drivers open SQLite with timeout=0; the wrapper retries "database is locked"."""
    with open_database(url, driver=db_driver) as db:
        db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, who TEXT)")
    errors: list[BaseException] = []

    def write(who: str) -> None:
        try:
            with open_database(url, driver=db_driver) as mine:
                for _ in range(30):
                    mine.batch([("INSERT INTO t (who) VALUES (?)", (who,))] * 5)
        except BaseException as exc:  # reported below, not lost in the thread
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(w,)) for w in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with open_database(url, driver=db_driver) as db:
        assert db.execute("SELECT COUNT(*) FROM t").rows[0][0] == 2 * 30 * 5


def test_split_sql_drops_comments() -> None:
    script = "CREATE TABLE a (x); -- first; really\n-- only a comment;\nCREATE TABLE b (y);"
    statements = [s.strip() for s in _split_sql(script) if s.strip()]
    assert statements == ["CREATE TABLE a (x)", "CREATE TABLE b (y)"]


@pytest.mark.parametrize("scheme", ["http", "ws", "libsql"])
def test_unreachable_server_is_one_clear_error_without_secrets(scheme: str, db_driver: DbDriver
                                                              ) -> None:
    port = free_port()  # nobody listens here
    url = f"{scheme}://127.0.0.1:{port}"
    if scheme == "libsql":
        url += f"?tls=0&authToken={SECRET}"
    with pytest.raises(DatabaseError) as info:
        open_database(url, SECRET, db_driver)
    message = str(info.value)
    assert message.startswith("Cannot open ") and "cannot reach the server" in message
    assert SECRET not in message and "\n" not in message
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_statement_errors_never_show_the_token(url: str, db_driver: DbDriver) -> None:
    with open_database(url, SECRET, db_driver) as db, pytest.raises(DatabaseError) as info:
        db.execute("SELECT * FROM no_such_table WHERE x = ?", (SECRET,))
    assert "no such table" in str(info.value) and SECRET not in str(info.value)
    assert SECRET not in repr(db)


def test_closing_twice_is_harmless(url: str, db_driver: DbDriver) -> None:
    db = open_database(url, driver=db_driver)
    db.close()
    db.close()
    assert db.closed
    with pytest.raises(DatabaseError, match="it was closed; open the store again"):
        db.execute("SELECT 1")


def test_credentials_in_both_url_and_token_are_explained(db_driver: DbDriver) -> None:
    url = f"http://user:{SECRET}@127.0.0.1:{free_port()}"
    with pytest.raises(DatabaseError, match="TURSO_AUTH_TOKEN only") as info:
        open_database(url, SECRET, db_driver)
    assert SECRET not in str(info.value)


def test_a_process_that_never_closes_its_store_still_exits(tmp_path: Path,
                                                          db_driver: DbDriver) -> None:
    """libsql-client's sync client runs a non-daemon thread; without our atexit hook the
    interpreter would wait for it forever. (libsql has no thread of its own to wait for.)"""
    script = textwrap.dedent(f"""
        from pathlib import Path
        from helpdesk_kit.config import Settings
        from helpdesk_kit.db import open_store
        store = open_store(Settings(data_dir=Path({str(tmp_path)!r}),
                                    db_driver={db_driver.value!r}))
        store.create_user("Ana", "ana@example.com")
        kept = store  # never closed, still referenced at exit
        print("done", flush=True)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=20)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "done"


@pytest.mark.parametrize("relative", ["file:relative.db", "file:./data/x.db", "file:~/x.db"])
def test_a_relative_file_url_is_refused_and_creates_nothing(
        relative: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # were it accepted, the file would appear here, not in the repo
    with pytest.raises(DatabaseError, match=r"needs an absolute path, e\.g\. file:/"):
        open_database(relative)
    assert list(tmp_path.iterdir()) == []


def test_an_absolute_file_url_in_either_form_opens(tmp_path: Path, db_driver: DbDriver) -> None:
    for url in (f"file:{tmp_path / 'a.db'}", f"file://{tmp_path / 'b.db'}"):
        with open_database(url, driver=db_driver) as db:
            assert db.execute("SELECT 1").rows[0][0] == 1
    assert {p.name for p in tmp_path.glob("*.db")} == {"a.db", "b.db"}


def test_the_data_folder_and_the_lesson_folders_are_private(tmp_path: Path) -> None:
    from helpdesk_kit.lessons import setup

    data = tmp_path / "data"
    store = open_store(Settings(data_dir=data))
    store.db.close()
    assert data.stat().st_mode & 0o777 == 0o700
    lesson = setup("01_cache_aside", settings=Settings(data_dir=data, redis_backend="fake"),
                   users=5, tickets=5, logs=False)
    try:
        assert (data / "lessons").stat().st_mode & 0o777 == 0o700
        assert (data / "lessons" / "01_cache_aside").stat().st_mode & 0o777 == 0o700
    finally:
        lesson.close()
