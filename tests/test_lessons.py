"""helpdesk_kit.lessons (setup, navigation, check) and the structure of the stored lessons."""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from pathlib import Path

import pytest
import redis

from helpdesk_kit.app import helpdesk_queue
from helpdesk_kit.backends import RedisServer
from helpdesk_kit.config import Settings
from helpdesk_kit.keys import KeySchema
from helpdesk_kit.lessons import (
    LESSONS,
    Table,
    capture_logs,
    check,
    clean_prefix,
    lesson_prefix,
    local_sqld,
    nav_markdown,
    quiet_thread,
    setup,
    short_paths,
    show_logs,
)
from helpdesk_kit.lessons.checks import is_unanswered
from helpdesk_kit.queue import Worker

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
STORED = [p for p in (NOTEBOOKS / f"{stem}.ipynb" for stem, _ in LESSONS) if p.exists()]
# The rules every stored notebook follows (images, paths, tags, the asserting cell after an
# ignored one, the coding exercise) are in test_notebooks_stored.py.


@pytest.fixture(autouse=True)
def _no_notebook_logs():  # type: ignore[no-untyped-def]
    """setup() prints the kit's log lines (for notebooks); other tests must not see that."""
    yield
    show_logs(False)


@pytest.fixture(params=["real", "fake"])
def lesson_settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    """Settings a learner might have, pointing at the test's real server or at fakeredis."""
    base = Settings(data_dir=tmp_path / "data", key_prefix="class7:", redis_backend="fake")
    if request.param == "real":
        server: RedisServer = request.getfixturevalue("redis_server")
        return base.with_(redis_url=server.url, redis_backend="url")
    return base


# --- setup -------------------------------------------------------------------------------
def test_setup_gives_a_fresh_sample_database_every_run(lesson_settings: Settings) -> None:
    lesson = setup("01_cache_aside", settings=lesson_settings, users=20, tickets=50)
    lesson.store.create_ticket(3, "Extra ticket")
    assert lesson.store.counts()["tickets"] == 51
    again = setup("01_cache_aside", settings=lesson_settings, users=20, tickets=50)
    assert again.store.counts()["tickets"] == 50
    assert again.store.create_ticket(3, "Extra ticket").id == 51  # same ids every run
    again.close()


def test_setup_never_touches_the_main_database(lesson_settings: Settings) -> None:
    lesson = setup("00_start_here", settings=lesson_settings, users=10, tickets=5)
    assert not lesson_settings.local_database_path.exists()
    assert lesson.settings.local_database_path.is_relative_to(lesson_settings.data_dir / "lessons")
    lesson.close()


def test_setup_cleans_only_its_own_prefix(lesson_settings: Settings) -> None:
    first = setup("02_keys_ttl_serialisation", settings=lesson_settings, users=10, tickets=5)
    assert first.settings.key_prefix == "class7:lesson02:"
    first.client.set(first.keys.ticket(1), "old")
    first.client.set("class7:lesson03:ticket:1", "another lesson's")
    first.client.set("someone-else", "not ours")
    second = setup("02_keys_ttl_serialisation", settings=lesson_settings, users=10, tickets=5)
    assert second.client.get(second.keys.ticket(1)) is None
    assert second.client.get("class7:lesson03:ticket:1") == "another lesson's"
    assert second.client.get("someone-else") == "not ours"
    second.client.delete("class7:lesson03:ticket:1", "someone-else")
    second.close()


def test_setup_rejects_an_unknown_lesson(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown lesson"):
        setup("99_nope", settings=Settings(data_dir=tmp_path, redis_backend="fake"))


def test_lesson_repr_has_no_paths_or_versions(lesson_settings: Settings) -> None:
    lesson = setup("00_start_here", settings=lesson_settings, users=10, tickets=5)
    text = repr(lesson)
    assert str(lesson_settings.data_dir) not in text
    assert "class7:lesson00:" in text and "5 tickets" in text
    lesson.close()


def test_clean_prefix_refuses_the_empty_prefix(redis_client) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match="empty prefix"):
        clean_prefix(redis_client, "")


def test_clean_prefix_removes_many_keys(redis_client, key_prefix: str) -> None:  # type: ignore[no-untyped-def]
    redis_client.mset({f"{key_prefix}k{i}": i for i in range(1234)})
    assert clean_prefix(redis_client, key_prefix) == 1234
    assert list(redis_client.scan_iter(match=f"{key_prefix}*")) == []


def test_a_redis_url_without_a_prefix_gets_this_users_name(
        redis_server: RedisServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("getpass.getuser", lambda: "ana maría*")
    shared = Settings(data_dir=tmp_path, redis_url=redis_server.url, redis_backend="url")
    classmate = redis_server.client()
    classmate.set("lesson01:ticket:1", "a classmate's key, made without a prefix")
    lesson = setup("01_cache_aside", settings=shared, users=10, tickets=5)
    assert lesson.shared_redis
    assert lesson.settings.key_prefix == "ana_mar_a_:lesson01:"  # safe in a SCAN pattern
    assert classmate.get("lesson01:ticket:1") is not None  # setup() did not delete it
    assert "ana_mar_a_:lesson01:" in repr(lesson)
    lesson.close()
    classmate.delete("lesson01:ticket:1")
    classmate.close()


def test_prefix_is_short_on_a_private_redis_and_chosen_when_set() -> None:
    assert lesson_prefix("", "01_cache_aside", "server") == "lesson01:"
    assert lesson_prefix("", "01_cache_aside", "fake") == "lesson01:"
    assert lesson_prefix("bob:", "01_cache_aside", "url") == "bob:lesson01:"


def test_close_closes_the_redis_connection_but_keeps_the_data(
        redis_server: RedisServer, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, redis_url=redis_server.url, redis_backend="url",
                        key_prefix="class7:")
    watcher = redis_server.client()
    lesson = setup("00_start_here", settings=settings, users=10, tickets=5)
    lesson.client.client_setname("lesson-close-test")
    lesson.client.set("class7:outside", "kept")
    names = [c["name"] for c in watcher.client_list()]
    assert "lesson-close-test" in names
    lesson.close()
    assert "lesson-close-test" not in [c["name"] for c in watcher.client_list()]
    assert watcher.get("class7:outside") == "kept"  # closing the client lost no data
    watcher.delete("class7:outside")
    watcher.close()


# --- logs ----------------------------------------------------------------------------------
def test_capture_logs_collects_and_keeps_lines_out_of_the_notebook(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    lesson = setup("00_start_here", settings=Settings(data_dir=tmp_path, redis_backend="fake"),
                   users=10, tickets=5)
    log = logging.getLogger("helpdesk_kit.app")
    with capture_logs() as lines:
        log.info("Cache MISS")
    log.info("Cache HIT")
    assert lines == ["Cache MISS"]
    assert capsys.readouterr().out == "INFO helpdesk_kit.app: Cache HIT\n"
    lesson.close()


def test_a_quiet_background_thread_prints_nothing_after_the_capture_ends(
        capsys: pytest.CaptureFixture[str]) -> None:
    show_logs()
    log = logging.getLogger("helpdesk_kit.worker")
    capture_over = threading.Event()

    def background() -> None:  # started inside a capture, logs after it has ended
        with quiet_thread():
            log.info("before the end")
            capture_over.wait(5)
            log.info("task done")

    try:
        with capture_logs() as lines:
            thread = threading.Thread(target=background)
            thread.start()
            log.info("in the cell")
        capture_over.set()
        thread.join(5)
        log.info("next cell")
    finally:
        show_logs(False)
    assert lines == ["in the cell"]  # the quiet thread's lines belong to no widget either
    assert capsys.readouterr().out == "INFO helpdesk_kit.worker: next cell\n"


# --- navigation and check ----------------------------------------------------------------
def test_navigation_links_previous_contents_next() -> None:
    first, last = LESSONS[0][0], LESSONS[-1][0]
    assert nav_markdown(first) == "[Contents](README.md) | [01 Cache-aside →](01_cache_aside.ipynb)"
    assert "→" not in nav_markdown(last) and "←" in nav_markdown(last)
    middle = nav_markdown("03_invalidation")
    assert "(02_keys_ttl_serialisation.ipynb)" in middle and "(04_cache_warming.ipynb)" in middle
    with pytest.raises(ValueError):
        nav_markdown("3_invalidation")


def test_check_not_answered_right_and_wrong() -> None:
    assert check(..., 3, why="w").ok is None
    assert check(3, 3, why="because").ok is True
    assert check(" Lesson01:Ticket:7 ", "lesson01:ticket:7", why="w").ok is True
    assert check(0.83, 0.8333, why="w", tolerance=0.01).ok is True
    assert check([2, 1], {1, 2}, why="w").ok is True
    assert check(1, True, why="w").ok is False  # 1 is not True in an answer
    assert check([40, 280], (40, 280.0), why="w").ok is True  # a tuple, item by item
    assert check((40, 28), (40, 280), why="w").ok is False


def test_an_exercise_template_counts_as_not_answered() -> None:
    def template(client: object, key: str) -> None:
        ...   # your code

    def written(client: object, key: str) -> int:
        return 1

    assert is_unanswered(...) and is_unanswered(template)
    assert is_unanswered((template, template)) and not is_unanswered((template, written))
    assert not is_unanswered(written) and not is_unanswered(0)


def test_short_paths_hides_home_and_temp_folders(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", "/home/ana")
    monkeypatch.setattr("tempfile.gettempdir", lambda: "/tmp")
    text = short_paths("file:/home/ana/.local/db unix:///tmp/redis-x/s.sock /home/anabel")
    assert text == "file:~/.local/db unix://$TMPDIR/redis-x/s.sock /home/anabel"


def test_check_wrong_answer_gives_hint_without_the_answer() -> None:
    with_hint = check(4, 7, why="seven because", hint="count the hits")
    assert not with_hint and "count the hits" in repr(with_hint) and "7" not in repr(with_hint)
    without = check(4, 7, why="seven because")
    assert "7" in repr(without) and "seven because" in repr(without)


def test_table_text_and_escaped_html() -> None:
    table = Table(("a", "b"), [(1, "<x>")], caption="c")
    assert repr(table).splitlines() == ["c", "a  b", "-  ---", "1  <x>"]
    assert "&lt;x&gt;" in table._repr_html_()


# --- the stored notebooks ----------------------------------------------------------------
def _cells(path: Path) -> list[dict]:
    return json.loads(path.read_text())["cells"]


def _text(cell: dict) -> str:
    source = cell["source"]
    return source if isinstance(source, str) else "".join(source)


@pytest.mark.parametrize("path", STORED, ids=[p.stem for p in STORED])
def test_lesson_structure(path: Path) -> None:
    cells = _cells(path)
    nav = nav_markdown(path.stem)
    assert _text(cells[0]) == nav and _text(cells[-1]) == nav, "nav links at top and bottom"
    markdown = "\n".join(_text(c) for c in cells if c["cell_type"] == "markdown")
    assert "**Goals**" in markdown or "## Goals" in markdown
    assert "## Check yourself" in markdown and "## Summary" in markdown
    code = [c for c in cells if c["cell_type"] == "code"]
    assert any(re.search(r"check\w*\(", _text(c)) for c in code), "a check-yourself cell"
    assert any("widgets" in _text(c) for c in code), "at least one widget"
    assert not any(re.search(r"^\s*[!%]\s*pip", _text(c), re.M) for c in code)
    assert f"({path.name})" in (NOTEBOOKS / "README.md").read_text(), "listed in contents"


@pytest.mark.parametrize("path", STORED, ids=[p.stem for p in STORED])
def test_lesson_stored_executed_in_order_without_errors(path: Path) -> None:
    code = [c for c in _cells(path) if c["cell_type"] == "code"]
    assert [c["execution_count"] for c in code] == list(range(1, len(code) + 1))
    for cell in code:
        errors = [o for o in cell["outputs"] if o["output_type"] == "error"]
        if "raises-exception" not in cell.get("metadata", {}).get("tags", []):
            assert not errors, f"error stored in: {_text(cell)[:80]}"


# --- sqld ----------------------------------------------------------------------------------
def test_local_sqld_yields_none_without_the_binary(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("helpdesk_kit.lessons.lesson.SQLD_BINARY", tmp_path / "no-sqld")
    with local_sqld() as url:
        assert url is None


def test_a_quiet_workers_heartbeat_warnings_stay_out_of_the_notebook(
        redis_client: redis.Redis, keys: KeySchema, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The heartbeat thread is the worker's own: quiet with it (it used to print into cells)."""
    queue = helpdesk_queue(redis_client, keys)
    worker = Worker(queue, None, heartbeat_ttl_s=0.03, poll_timeout_s=0.05)
    failures: list[str] = []
    real_heartbeat = queue.heartbeat

    def failing_heartbeat(worker_id: str, ttl_s: float) -> None:
        if not threading.current_thread().name.startswith("heartbeat-"):
            return real_heartbeat(worker_id, ttl_s)  # registering: let the worker start
        failures.append(threading.current_thread().name)
        raise redis.ConnectionError("the heartbeat cannot reach Redis")

    monkeypatch.setattr(queue, "heartbeat", failing_heartbeat)

    def background() -> None:
        with quiet_thread():
            worker.run(handle_signals=False)

    show_logs()
    thread = threading.Thread(target=background)
    try:
        thread.start()
        deadline = time.monotonic() + 5
        while len(failures) < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        worker.stop()
        thread.join(5)
        show_logs(False)
    assert len(failures) >= 3
    assert "heartbeat failed" not in capsys.readouterr().out
