"""Lesson 14's exercise and experiments: the consumer's check, the three queues side by side."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from helpdesk_kit.app import TaskContext
from helpdesk_kit.db.sample import SAMPLE_NOW
from helpdesk_kit.keys import KeySchema
from helpdesk_kit.lessons import Lesson
from helpdesk_kit.lessons.exercises import lesson14
from helpdesk_kit.widgets.streams import (
    StreamLab,
    compare_queues,
    maxlen_trap,
    stream_crash_and_recover,
)

SOLUTION = Path(__file__).resolve().parent.parent / "notebooks" / "solutions" / "lesson14.py"


def _solution() -> Any:
    spec = importlib.util.spec_from_file_location("solution_lesson14", SOLUTION)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.answer


@pytest.fixture
def lesson(open_lesson: Callable[..., Lesson]) -> Lesson:
    return open_lesson("14_streams", users=30, tickets=50)


def _sub(lesson: Lesson, name: str) -> KeySchema:
    return KeySchema(prefix=f"{lesson.keys.prefix}{name}:")


def test_the_solution_passes_and_dots_are_not_answered(lesson: Lesson) -> None:
    assert lesson14.check(lesson, _solution()).ok is True
    assert lesson14.check(lesson, ...).ok is None
    assert lesson14.check_quiz(2).ok is True and lesson14.check_quiz(1).ok is False
    assert not list(lesson.client.scan_iter(match=f"{lesson.keys.prefix}exercise*"))


def _only_new(client: Any, stream: str, group: str, consumer: str) -> list[int]:
    reply = client.xreadgroup(group, consumer, {stream: ">"}, count=100)
    entries = reply[0][1] if reply else []
    for entry_id, _fields in entries:
        client.xack(stream, group, entry_id)
    return [int(fields["n"]) for _id, fields in entries]


def _no_ack(client: Any, stream: str, group: str, consumer: str) -> list[int]:
    done: list[int] = []
    for start in ("0", ">"):
        reply = client.xreadgroup(group, consumer, {stream: start}, count=100)
        done += [int(fields["n"]) for _id, fields in (reply[0][1] if reply else [])]
    return done


@pytest.mark.parametrize(("answer", "words"), [
    (_only_new, "ID 0"),
    (_no_ack, "XACK"),
    ("not a function", "should be a function"),
])
def test_each_mistake_gets_its_hint(lesson: Lesson, answer: Any, words: str) -> None:
    result = lesson14.check(lesson, answer)
    assert result.ok is False and words in result.message, result.message


def test_a_loop_that_never_ends_is_caught(lesson: Lesson,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lesson14, "TIMEOUT_S", 0.5)

    def forever(client: Any, stream: str, group: str, consumer: str) -> list[int]:
        while True:  # reads its pending entries again and again, never acks
            client.xreadgroup(group, consumer, {stream: "0"}, count=10)

    assert "never returned" in lesson14.check(lesson, forever).message


def test_a_stream_worker_killed_mid_batch_loses_nothing(lesson: Lesson) -> None:
    context = TaskContext(lesson.store, None, lesson.client, lesson.keys, now=SAMPLE_NOW)
    report = stream_crash_and_recover(lesson.client, _sub(lesson, "crash"), context)
    assert (report.lost, report.recovered, report.duplicates) == (0, 5, 1)  # the whole batch
    assert report.taken_by_victim == 10 and report.notifications == 20


def test_the_three_queues_side_by_side(lesson: Lesson) -> None:
    context = TaskContext(lesson.store, None, lesson.client, lesson.keys, now=SAMPLE_NOW)
    rows = {row[0]: row for row in compare_queues(lesson.client, _sub(lesson, "cmp"), context,
                                                  tasks=200, rounds=1)}
    assert rows["seed"][2] >= 1 and rows["seed"][3] == 0  # LPOP then a crash: lost
    assert rows["reliable"][2:4] == rows["streams"][2:4] == (0, 1)  # nothing lost, 1 twice
    assert all(float(row[4].replace(",", "")) > 0 for row in rows.values())


def test_maxlen_drops_work_nobody_did(lesson: Lesson) -> None:
    enqueued, left, ran = maxlen_trap(lesson.client, _sub(lesson, "trap"), max_len=50)
    assert enqueued == 1000 and left == ran < 300


def test_the_stream_lab_pictures_every_entry(lesson: Lesson) -> None:
    lab = StreamLab(lesson.client, _sub(lesson, "lab"))
    lab.enqueue()  # what the buttons do: act, then redraw
    lab.take()
    assert "pending for A (delivered 1x)" in lab.view.value
    lab.die()
    lab.recover()
    assert "B claimed 2" in lab.status.value  # what A held; the third is still waiting
    assert lab.view.value.count("done (acked)") == 2 and lab.view.value.count("waiting") == 1
