"""Lesson 06's exercise: a task handler that can run twice and still count once.

The learner writes the handler ``answer(ctx, task)`` for a new task type, ``award_points``
(payload ``{"usuarioId": int, "points": int}``): add ``points`` to the counter at
``ctx.keys.entity("points", usuarioId)`` - but only once per task, however often the task
arrives. The check registers it on a real :class:`~helpdesk_kit.queue.TaskQueue`, runs it
through a real :class:`~helpdesk_kit.queue.Worker`, delivers the same task again (what a
retry or a recovered crash does, lesson 07), then a new one.
"""

from __future__ import annotations

from typing import Any

from ...app import TaskContext
from ...queue import Task, TaskQueue, TaskRegistry, Worker
from ..checks import (
    CheckResult,
    is_unanswered,
    not_answered,
    right,
    sandbox,
    wrong,
)
from ..checks import check as compare
from ..lesson import Lesson
from ..output import capture_logs

__all__ = ["QUIZ_EXPECTED", "check", "check_quiz"]

PAYLOAD = {"usuarioId": 7, "points": 5}


def _points(ctx: TaskContext) -> int:
    assert ctx.redis is not None
    return int(ctx.redis.get(ctx.keys.entity("points", PAYLOAD["usuarioId"])) or 0)


def check(lesson: Lesson, answer: Any) -> CheckResult:
    """Deliver one task twice, then a second task, through a real worker."""
    if is_unanswered(answer):
        return not_answered()
    if not callable(answer):
        return wrong("answer should be the handler: a function (ctx, task).")
    keys = sandbox(lesson)
    registry = TaskRegistry()
    registry.register("award_points", answer, {"usuarioId": int, "points": int})
    queue = TaskQueue(lesson.client, keys, registry=registry)
    ctx = TaskContext(lesson.store, None, lesson.client, keys)
    try:
        return _deliveries(queue, ctx)
    finally:
        sandbox(lesson)


def _run(queue: TaskQueue, ctx: TaskContext, task: Task) -> str | None:
    """Enqueue ``task`` (keeping its id) and let a worker run it; the error if it failed."""
    queue.enqueue_task(task)
    with capture_logs():
        Worker(queue, ctx, mode="seed", worker_id="exercise").process_all()
    dead = queue.dead_letters()
    return dead[-1].error if dead else None


def _deliveries(queue: TaskQueue, ctx: TaskContext) -> CheckResult:
    first = Task("award_points", dict(PAYLOAD))
    error = _run(queue, ctx, first)
    if error:
        return wrong(f"the worker ran your handler and it failed: {error}")
    if _points(ctx) != PAYLOAD["points"]:
        return wrong(f"after one task the counter {ctx.keys.entity('points', 7)!r} holds "
                     f"{_points(ctx)}, not {PAYLOAD['points']}: INCRBY it by the task's points "
                     "(ctx.redis.incrby(key, task.payload['points'])).")
    again = Task.from_json(first.to_json())  # the same task, delivered a second time
    if _run(queue, ctx, again):
        return wrong("the second delivery of the same task failed: a repeat must be a no-op, "
                     "not an error (a worker would bury a good task).")
    if _points(ctx) != PAYLOAD["points"]:
        return wrong(f"the same task arrived twice and the counter is now {_points(ctx)}: its "
                     "points were added twice. Remember which task ids you have done, keyed by "
                     "task.id, and skip a repeat.")
    second = Task("award_points", dict(PAYLOAD))  # a new task: a new id, same payload
    if _run(queue, ctx, second):
        return wrong("a second, different task failed.")
    if _points(ctx) != 2 * PAYLOAD["points"]:
        return wrong("a new task (same payload, another id) added nothing: mark tasks done by "
                     "their id, not by their payload - two awards of 5 points are 10 points.")
    return right("one task, delivered twice, counted once; a new task counted again. With the "
                 "marker set by SET NX, the check and the mark are one atomic command; the "
                 "helpdesk's send_notifications gets the same from a UNIQUE task_id column.")


#: The quiz's answer: 4 tasks, Step x3 (take, run, take).
QUIZ_EXPECTED = {"pending": 2, "in_worker": 1, "done": 1}


def check_quiz(answer: object) -> CheckResult:
    """The quiz: 4 tasks enqueued, Step pressed three times."""
    return compare(answer, QUIZ_EXPECTED,
                   why="each take moves one task out of Redis into the worker, each run "
                       "finishes it: two takes and one run leave 2 pending, 1 in the worker, "
                       "1 done.",
                   hint="Step alternates: take, run, take. Count each list after every press.")
