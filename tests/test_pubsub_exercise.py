"""Lesson 12's exercise and widgets: the solution passes and the app's live feed runs it."""

from __future__ import annotations

import importlib.util
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import redis
from conftest import missing, until

from helpdesk_kit.app import TaskContext
from helpdesk_kit.db.sample import SAMPLE_NOW
from helpdesk_kit.lessons import Lesson
from helpdesk_kit.lessons.assembly_messaging import PieceListener
from helpdesk_kit.lessons.exercises import lesson12
from helpdesk_kit.lessons.workbook import Workbook
from helpdesk_kit.widgets.pubsub import (
    LiveNotifications,
    offline_gap,
    repeat_run,
    sharded_skip_reason,
    sharded_vs_classic,
)

SOLUTION = Path(__file__).resolve().parent.parent / "notebooks" / "solutions" / "lesson12.py"


def _solution() -> Any:
    spec = importlib.util.spec_from_file_location("solution_lesson12", SOLUTION)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.listen_notifications


@pytest.fixture
def lesson(open_lesson: Callable[..., Lesson]) -> Lesson:
    return open_lesson("12_pubsub", users=30, tickets=50)


def test_the_solution_passes_is_kept_and_dots_are_not_answered(lesson: Lesson) -> None:
    result = lesson12.check(lesson, _solution())
    assert result.ok is True and "Kept in my_helpdesk.py" in result.message, result.message
    assert "12" in Workbook().sections()
    assert lesson12.check(lesson, ...).ok is None


def test_a_listener_that_keeps_repeats_gets_the_step_and_is_not_kept(lesson: Lesson) -> None:
    def listen_notifications(client: Any, keys: Any, on_notification: Any, stop: Any) -> None:
        pubsub = client.pubsub(ignore_subscribe_messages=True)
        pubsub.subscribe(keys.notifications_channel)
        while not stop.is_set():
            message = pubsub.get_message(timeout=0.05)
            if message is None:
                continue
            try:
                note = json.loads(message["data"])
            except ValueError:
                continue
            if isinstance(note, dict) and "taskId" in note:
                on_notification(note)  # a retried task's repeat too
        pubsub.close()

    result = lesson12.check(lesson, listen_notifications)
    assert result.ok is False and "step 4" in result.message and "taskIds" in result.message
    assert "12" not in Workbook().sections()


def test_the_live_feed_runs_the_learners_listener(lesson: Lesson) -> None:
    app = lesson.make_app()
    live = LiveNotifications(app, listen=_solution())
    try:
        assert isinstance(live.feed.listener, PieceListener)
        first, second = live.create_ticket(), live.create_ticket()
        assert live.feed.wait_for(2, timeout=5)
        assert [n.ticket_id for n in live.feed.notes] == [first, second]
        until(lambda: "2 heard" in live.view.value, 5, "the feed's view")
        assert "repeats dropped" not in live.view.value  # only the piece knows its repeats
    finally:
        live.stop()
    assert lesson.client.pubsub_numsub(app.keys.notifications_channel)[0][1] == 0


def test_a_listener_that_never_subscribes_is_told_at_start(lesson: Lesson) -> None:
    def deaf(client: Any, keys: Any, on_notification: Any, stop: Any) -> None:
        stop.wait(0.1)

    with pytest.raises(redis.TimeoutError, match="did not subscribe"):
        PieceListener(lesson.client, lesson.keys, deaf).start(timeout=0.5)


def test_offline_gap_counts_what_pubsub_misses(lesson: Lesson) -> None:
    report = offline_gap(lesson.client, lesson.keys, before=3, offline=5, after=2)
    assert (report.heard, report.missed, report.receivers_offline) == (5, 5, 0)
    assert report.stream_read == 10  # the stream kept them for the reader that was away
    assert report.rows()[1][3] == 0


def test_a_retried_notification_reaches_the_listener_once(lesson: Lesson) -> None:
    context = TaskContext(lesson.store, None, lesson.client, lesson.keys, now=SAMPLE_NOW)
    assert repeat_run(context) == (2, 1, 1)  # published twice, kept once, one repeat dropped


def test_the_live_widget_shows_tickets_as_they_are_created(lesson: Lesson) -> None:
    live = LiveNotifications(lesson.make_app())
    try:
        first, second = live.create_ticket(), live.create_ticket()
        assert live.feed.wait_for(2, timeout=5)
        assert [n.ticket_id for n in live.feed.notes] == [first, second]
        deadline = time.monotonic() + 2
        while "2 heard" not in live.view.value and time.monotonic() < deadline:
            time.sleep(0.01)
        assert "2 heard" in live.view.value and f"ticket {second}" in live.view.value
        assert "created ticket" in live.status.value
    finally:
        live.stop()


@pytest.mark.slow
def test_spublish_stays_in_its_shard_publish_crosses_the_bus() -> None:
    if sharded_skip_reason("server") is not None:
        missing("redis", "install redis-server (redis-cli comes with it)")
    classic, sharded = sharded_vs_classic(50)
    assert classic.heard == sharded.heard == 50  # both reach their subscriber
    assert classic.bus_messages == 100  # each message copied to the 2 other primaries
    assert sharded.bus_messages == 0  # no replicas: nothing leaves the owner's shard
    assert "fakeredis" in (sharded_skip_reason("fake") or "")
