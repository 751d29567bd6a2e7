"""Lesson 08's dashboard widget and background load, on real Redis and fakeredis."""

from __future__ import annotations

import pytest
import redis

from helpdesk_kit.app import TaskContext, helpdesk_queue
from helpdesk_kit.backends import Backend
from helpdesk_kit.cache import Cache
from helpdesk_kit.db import HelpdeskStore
from helpdesk_kit.db.sample import SAMPLE_NOW
from helpdesk_kit.errors import RedisBackendError
from helpdesk_kit.keys import KeySchema
from helpdesk_kit.lessons import show_logs
from helpdesk_kit.metrics import MetricsCollector
from helpdesk_kit.queue import TaskQueue
from helpdesk_kit.widgets.monitoring import (
    KEY_METRICS,
    Dashboard,
    background_load,
    chart_png,
    dashboard,
    numbers_html,
)
from helpdesk_kit.widgets.reliability import with_email_task


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


def test_background_load_builds_a_backlog_and_warms_the_cache(
        store: HelpdeskStore, redis_client: redis.Redis, keys: KeySchema,
        capsys: pytest.CaptureFixture[str]) -> None:
    cache = Cache(redis_client, keys)
    queue = TaskQueue(redis_client, keys, registry=with_email_task(0.005))
    context = TaskContext(store, cache, redis_client, keys, now=SAMPLE_NOW)
    show_logs()  # as in a lesson: the kit's log lines go to the notebook
    try:
        load = background_load(cache, store, queue, context, seconds=0.6, tasks_per_s=400)
        load.join(10)
    finally:
        show_logs(False)
    assert capsys.readouterr().out == ""  # its threads are quiet: no line lands in a cell
    assert not load.is_alive()
    stats = queue.inspect()
    assert stats.done > 0 and stats.pending == 0 and stats.processing == 0
    assert cache.total_stats().hits > 0
