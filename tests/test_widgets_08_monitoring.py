"""Lesson 08's dashboard widget and the load it watches, on real Redis and fakeredis."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import redis

from helpdesk_kit.app import helpdesk_queue
from helpdesk_kit.backends import Backend
from helpdesk_kit.errors import RedisBackendError
from helpdesk_kit.keys import KeySchema
from helpdesk_kit.lessons import Lesson, show_logs
from helpdesk_kit.metrics import MetricsCollector
from helpdesk_kit.widgets.app_load import app_load
from helpdesk_kit.widgets.monitoring import (
    KEY_METRICS,
    Dashboard,
    chart_png,
    dashboard,
    numbers_html,
)


def test_refresh_shows_numbers_table_and_chart(backend: Backend, keys: KeySchema) -> None:
    queue = helpdesk_queue(backend.client, keys)
    queue.enqueue("close_inactive_tickets", {"days": 30})
    board = dashboard(backend.client, keys, queue=queue, backend=backend.kind, start=False)
    assert board.refreshes == 1 and not board.running
    snap = board.refresh()
    assert board.refreshes == 2
    assert snap.value("queue.pending") == 1
    assert board.history[-1][1] == 1
    assert "queue length" in board.numbers.value
    assert "Queue Length" in board.table.value
    assert bytes(board.chart.value).startswith(b"\x89PNG")
    assert f"backend {backend.kind}" in board.header.value and "paused" in board.header.value


def test_unavailable_numbers_say_why(backend: Backend, keys: KeySchema) -> None:
    board = dashboard(backend.client, keys, backend=backend.kind, start=False)
    html = numbers_html(board.refresh())
    assert html.count("<b>") == len(KEY_METRICS)
    if not backend.capabilities.info:
        assert "n/a" in html and "needs a real redis-server" in html


def test_a_bounded_run_stops_by_itself(redis_client: redis.Redis, keys: KeySchema) -> None:
    board = dashboard(redis_client, keys, refresh_s=0.02, duration_s=0.1)
    assert board.live.value
    board.wait(5)
    assert not board.running and not board.live.value
    assert board.refreshes >= 2  # the first, and at least one from the background thread
    assert "paused" in board.header.value


def test_live_toggle_and_refresh_button(redis_client: redis.Redis, keys: KeySchema) -> None:
    board = Dashboard(MetricsCollector(redis_client, keys), refresh_s=0.02)
    board.refresh_button.click()
    assert board.refreshes == 2
    board.live.value = True
    assert board.running
    board.stop()
    assert not board.running and not board.live.value
    board.live.value = True
    board.live.value = False  # toggling off asks the thread to stop
    board.wait(5)
    assert not board.running


def test_history_is_bounded(redis_client: redis.Redis, keys: KeySchema) -> None:
    board = Dashboard(MetricsCollector(redis_client, keys), history=3)
    for _ in range(5):
        board.refresh()
    assert len(board.history) == 3


def test_bad_refresh_interval_is_refused(redis_client: redis.Redis, keys: KeySchema) -> None:
    with pytest.raises(ValueError, match="refresh_s"):
        Dashboard(MetricsCollector(redis_client, keys), refresh_s=0)


class _RedisGone:
    def snapshot(self) -> None:
        raise RedisBackendError("Redis did not answer while measuring: connection refused")


def test_a_lost_redis_shows_in_the_header(redis_client: redis.Redis, keys: KeySchema) -> None:
    board = Dashboard(MetricsCollector(redis_client, keys), refresh_s=0.01)
    board.collector = _RedisGone()  # type: ignore[assignment]
    board.start(duration_s=0.05)
    board.wait(5)
    assert "color:#b00" in board.header.value and "did not answer" in board.header.value
    assert board.refreshes == 1  # only the first, good one


def test_chart_handles_missing_values() -> None:
    assert chart_png([(0.0, None, None), (1.0, 3, 0.5)]).startswith(b"\x89PNG")


def test_standalone_dashboard_connects_from_the_environment(
        monkeypatch: pytest.MonkeyPatch, key_prefix: str) -> None:
    monkeypatch.setenv("HELPDESK_REDIS_BACKEND", "fake")
    monkeypatch.setenv("HELPDESK_KEY_PREFIX", key_prefix)
    board = dashboard(start=False)
    assert board.last is not None and board.last.backend == "fake"
    assert board.last.key_prefix == key_prefix


def test_app_load_is_counted_quiet_and_the_same_on_every_run(
        open_lesson: Callable[..., Lesson], capsys: pytest.CaptureFixture[str]) -> None:
    runs = []
    for _ in range(2):
        lesson = open_lesson("08_monitoring_tuning", users=40, tickets=300)
        app = lesson.make_app()
        seen: list[tuple[str, int]] = []

        def note(phase: str, seen: list[tuple[str, int]] = seen, lesson: Lesson = lesson
                 ) -> None:
            seen.append((phase, int(lesson.client.llen(lesson.keys.tasks_pending))))

        show_logs()  # as in a lesson: the kit's log lines go to the notebook
        try:
            report = app_load(app, created=20, ticket_reads=100, user_reads=30, updated=4,
                              hot=10, on_phase=note)
        finally:
            show_logs(False)
        assert capsys.readouterr().out == ""  # its worker thread is quiet too
        assert seen == [("warmed", 0), ("created", 20), ("done", 0)]
        assert (report.created, report.processed, report.updated) == (20, 20, 4)
        assert lesson.store.counts()["notifications"] == 20
        stats = app.cache.stats()  # type: ignore[union-attr]
        runs.append((report, {entity: (s.hits, s.misses) for entity, s in stats.items()}))
    assert runs[0] == runs[1]
    assert "tickets created" in repr(runs[0][0])


def test_app_load_needs_a_cache_and_a_queue(open_lesson: Callable[..., Lesson]) -> None:
    from helpdesk_kit.app import HelpdeskApp

    lesson = open_lesson("08_monitoring_tuning", users=10, tickets=20)
    with pytest.raises(ValueError, match="cache and a queue"):
        app_load(HelpdeskApp(lesson.store))
