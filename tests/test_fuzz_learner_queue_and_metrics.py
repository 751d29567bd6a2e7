"""Fuzzing what a learner's code hands to the kit in lessons 06-08: anything at all comes back
from their pieces, and the checks and the app answer with a verdict or a dead letter - never
an exception from inside the kit.

* the conformance checks of 06 and 07, whatever ``dequeue_task`` or ``reserve_task`` return;
* :class:`~helpdesk_kit.lessons.assembly.PieceQueue`: a worker's ``dequeue`` over a
  ``dequeue_task`` that returns anything - a task, or a dead letter with the reason;
* lesson 08's check, whatever ``api_metrics`` returns (NaN is no percentage).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_fuzz import json_values

from helpdesk_kit.app import REGISTRY
from helpdesk_kit.lessons import Lesson
from helpdesk_kit.lessons.assembly import PieceQueue
from helpdesk_kit.lessons.checks import sandbox
from helpdesk_kit.lessons.conformance import KIT, ConformanceError, Workspace, verify
from helpdesk_kit.lessons.exercises import lesson08
from helpdesk_kit.queue import Task

FUZZ = settings(max_examples=40, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])

#: What a learner's function might return: JSON-like values, text, bytes, odd objects.
returned = (json_values | st.binary(max_size=40) | st.just(float("nan"))
            | st.just(object()) | st.just({"redis": {"memory": {"used_percent": float("nan")}}}))


@pytest.fixture
def lesson(open_lesson: Callable[..., Lesson]) -> Lesson:
    return open_lesson("08_monitoring_tuning", users=10, tickets=20)


def _constant(value: Any) -> Callable[..., Any]:
    def piece(*args: Any) -> Any:
        return value
    return piece


@FUZZ
@given(value=returned)
def test_the_queue_checks_answer_with_a_step_whatever_the_pieces_return(
        value: Any, lesson: Lesson) -> None:
    for number, name in (("06", "dequeue_task"), ("07", "reserve_task")):
        workspace = Workspace(lesson.client, sandbox(lesson, "fuzz"), lesson.store)
        with pytest.raises(ConformanceError):
            verify(number, {**KIT, name: _constant(value)}, workspace)


@FUZZ
@given(value=returned)
def test_a_worker_over_any_dequeue_task_gets_a_task_or_a_dead_letter(
        value: Any, lesson: Lesson) -> None:
    keys = sandbox(lesson, "fuzz")
    answers = iter([value, None])
    pieces = {"enqueue_task": KIT["enqueue_task"],
              "dequeue_task": lambda client, keys: next(answers)}
    queue = PieceQueue(lesson.client, keys, pieces, registry=REGISTRY)
    taken = queue.dequeue()
    letters = queue.dead_letters()
    if value is None:  # the learner's "the queue is empty"
        assert taken is None and not letters
    elif taken is None:  # what came back was no task: kept as a dead letter, with why
        assert len(letters) == 1 and letters[0].error
    else:
        assert isinstance(taken, Task) and not letters
    sandbox(lesson, "fuzz")


@FUZZ
@given(value=returned)
def test_lesson_08s_check_judges_any_answer(value: Any, lesson: Lesson) -> None:
    result = lesson08.check(lesson, _constant(value))
    assert result.ok is False and result.message
