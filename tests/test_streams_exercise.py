"""Lesson 14's exercise and experiments: the consumer as a piece of the app, the three queues."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from helpdesk_kit.app import TaskContext
from helpdesk_kit.db.sample import SAMPLE_NOW
from helpdesk_kit.keys import KeySchema
from helpdesk_kit.lessons import Lesson, capture_logs
from helpdesk_kit.lessons.assembly_messaging import PieceStreamWorker
from helpdesk_kit.lessons.conformance import pieces_of
from helpdesk_kit.lessons.exercises import lesson14
from helpdesk_kit.lessons.helpdesk import Choice, Helpdesk
from helpdesk_kit.queue import StreamQueue
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
    return module.consume_stream


@pytest.fixture
def lesson(open_lesson: Callable[..., Lesson]) -> Lesson:
    return open_lesson("14_streams", users=30, tickets=50)


def _sub(lesson: Lesson, name: str) -> KeySchema:
    return KeySchema(prefix=f"{lesson.keys.prefix}{name}:")


def test_the_solution_passes_is_kept_and_dots_are_not_answered(lesson: Lesson) -> None:
    result = lesson14.check(lesson, _solution())
    assert result.ok is True and "Kept in my_helpdesk.py" in result.message, result.message
    assert lesson14.check(lesson, ...).ok is None
    assert not list(lesson.client.scan_iter(match=f"{lesson.keys.prefix}exercise*"))


def test_a_consumer_that_claims_one_page_gets_the_cursor_step(lesson: Lesson) -> None:
    solution = _solution()

    def consume_stream(client: Any, stream: str, group: str, consumer: str, handle: Any,
                       min_idle_ms: int) -> int:
        real = client.xautoclaim

        def one_page(*args: Any, **kwargs: Any) -> Any:
            _cursor, claimed, *deleted = real(*args, **kwargs)
            return ["0-0", claimed, *deleted]  # as if the first page were the last

        client.xautoclaim = one_page
        try:
            return int(solution(client, stream, group, consumer, handle, min_idle_ms))
        finally:
            del client.xautoclaim

    result = lesson14.check(lesson, consume_stream)
    assert result.ok is False and "step 5" in result.message and "cursor" in result.message


def test_the_apps_tasks_run_through_the_learners_consumer(lesson: Lesson) -> None:
    """A worker takes the app's tasks and dies; the learner's consumer claims and runs them."""
    mine = Helpdesk([Choice(p, _solution(), True, "test") for p in pieces_of("14")], "test")
    app = lesson.make_app(pieces=mine, queue="streams")
    assert isinstance(app.queue, StreamQueue)
    with capture_logs():
        created = [app.create_ticket(4, f"streamed {n}")["ticketId"] for n in range(3)]
    tasks = app.queue.keys.tasks_stream
    app.queue.ensure_group()
    lesson.client.xreadgroup("workers", "A", {tasks: ">"}, count=3)  # ... and A dies
    before = lesson.store.counts()["notifications"]
    worker = PieceStreamWorker(app, mine.consume_stream, "B", min_idle_ms=0, now=SAMPLE_NOW)
    assert worker.run() == 3
    assert lesson.store.counts()["notifications"] - before == 3
    assert lesson.client.xpending(tasks, "workers")["pending"] == 0
    assert len(created) == 3
    with pytest.raises(ValueError, match="not a stream"):
        PieceStreamWorker(lesson.make_app(), mine.consume_stream, "C")


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
