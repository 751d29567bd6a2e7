"""Lesson 12's exercise and widgets: the solution passes, the usual mistakes get their hint."""

from __future__ import annotations

import importlib.util
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import missing

from helpdesk_kit.app import TaskContext
from helpdesk_kit.db.sample import SAMPLE_NOW
from helpdesk_kit.lessons import Lesson
from helpdesk_kit.lessons.exercises import lesson12
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
    return module.answer


@pytest.fixture
def lesson(open_lesson: Callable[..., Lesson]) -> Lesson:
    return open_lesson("12_pubsub", users=30, tickets=50)


def test_the_solution_passes_and_dots_are_not_answered(lesson: Lesson) -> None:
    assert lesson12.check(lesson, _solution()).ok is True
    assert lesson12.check(lesson, ...).ok is None
    assert lesson12.check_quiz(0).ok is True and lesson12.check_quiz(30).ok is False


def _listen(client: Any, channel: str, n: int, timeout_s: float, *, envelopes: bool = False,
            dedupe: bool = True, stop_at_n: bool = True) -> list[Any]:
    pubsub = client.pubsub(ignore_subscribe_messages=not envelopes)
    pubsub.subscribe(channel)
    seen, got = set(), []
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and (not stop_at_n or len(got) < n):
        message = pubsub.get_message(timeout=0.05)
        if message is None:
            continue
        if envelopes:
            got.append(message)
            continue
        try:
            note = json.loads(message["data"])
        except ValueError:
            continue
        if dedupe and note["taskId"] in seen:
            continue
        seen.add(note["taskId"])
        got.append(note)
    pubsub.close()
    return got


@pytest.mark.parametrize(("mistake", "words"), [
    ({"dedupe": False}, "taskIds you have seen"),
    ({"envelopes": True}, "envelopes"),
    ({"stop_at_n": False}, "stop once"),
])
def test_each_mistake_gets_its_hint(lesson: Lesson, mistake: dict[str, bool],
                                    words: str) -> None:
    def answer(client: Any, channel: str, n: int, timeout_s: float) -> list[Any]:
        return _listen(client, channel, n, timeout_s, **mistake)

    result = lesson12.check(lesson, answer)
    assert result.ok is False and words in result.message, result.message


def test_a_subscriber_that_never_subscribes_or_crashes_is_told(lesson: Lesson) -> None:
    def deaf(client: Any, channel: str, n: int, timeout_s: float) -> list[Any]:
        time.sleep(0.1)
        return []

    def naive(client: Any, channel: str, n: int, timeout_s: float) -> list[Any]:
        pubsub = client.pubsub(ignore_subscribe_messages=True)
        pubsub.subscribe(channel)
        got: list[Any] = []
        while len(got) < n:
            message = pubsub.get_message(timeout=0.5)
            if message is not None:
                got.append(json.loads(message["data"]))  # "hello, not JSON" breaks it
        return got

    assert "never subscribed" in lesson12.check(lesson, deaf).message
    assert "json.loads refuses" in lesson12.check(lesson, naive).message


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
