"""Lesson 07's exercise: one step of a reliable worker - ack only after the work succeeded.

The learner writes ``answer(queue, worker_id, handler)``: take the next task into the
worker's processing list (``queue.reserve``), run ``handler(task)``, then ``queue.ack`` it; if
the handler raises, hand the task to ``queue.fail`` (retry later, or dead letter) instead.
Return the task (None when the queue is empty). The check runs it four ways: an empty queue,
a handler that works, one that fails, and one that is *killed* mid-task - after which the task
must still be in the processing list, for ``requeue_orphans`` to recover.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

from ...queue import RetryPolicy, Task, TaskQueue, TaskRegistry
from ..checks import (
    AnswerFailed,
    CheckResult,
    is_unanswered,
    not_answered,
    right,
    run_answer,
    sandbox,
    wrong,
)
from ..checks import check as compare
from ..lesson import Lesson

__all__ = ["QUIZ_EXPECTED", "Killed", "check", "check_quiz"]

WORKER = "exercise-worker"


class Killed(BaseException):
    """The worker process dies mid-task (``kill -9``): no ``except Exception`` catches it."""


def _queue(lesson: Lesson, name: str) -> TaskQueue:
    registry = TaskRegistry()
    registry.register("demo", lambda _ctx, _task: None, {"n": int})
    return TaskQueue(lesson.client, sandbox(lesson, f"exercise-{name}"), registry=registry,
                     retry=RetryPolicy(max_attempts=3, base_delay_s=60))


def _step(answer: Any, queue: TaskQueue, handler: Callable[[Task], Any]) -> Any:
    return run_answer(answer, queue, WORKER, handler)


def check(lesson: Lesson, answer: Any) -> CheckResult:
    """An empty queue, a success, a failure and a kill, each on a queue of its own."""
    if is_unanswered(answer):
        return not_answered()
    names = ("empty", "works", "fails", "killed")
    try:
        for name, scenario in zip(names, (_empty, _works, _fails, _killed), strict=True):
            verdict = scenario(answer, _queue(lesson, name))
            if verdict is not None:
                return verdict
    except AnswerFailed as exc:
        return wrong(str(exc))
    finally:
        for name in names:
            sandbox(lesson, f"exercise-{name}")
    return right("reserve (LMOVE into your processing list), run, and only then ack (LREM): "
                 "the task is in Redis at every moment until it is done. A failure goes to "
                 "fail() - a retry later or a dead letter - and a crash leaves the task where "
                 "requeue_orphans finds it. Worker does the same, a batch at a time.")


def _empty(answer: Any, queue: TaskQueue) -> CheckResult | None:
    if _step(answer, queue, lambda task: None) is not None:
        return wrong("on an empty queue there is nothing to do: return None (reserve gives "
                     "None).")
    return None


def _works(answer: Any, queue: TaskQueue) -> CheckResult | None:
    queue.enqueue("demo", {"n": 1})
    held_while_running: list[int] = []  # the processing list's length while the handler ran
    _step(answer, queue, lambda task: held_while_running.append(queue.inspect().processing))
    stats = queue.inspect()
    if not held_while_running:
        return wrong("the handler never ran: call handler(task) with the task you reserved.")
    if held_while_running[0] == 0:
        return wrong("while the handler ran, the task was in none of Redis's lists - popped "
                     "with LPOP, or acked already: a crash at that moment loses it. Take it "
                     "with queue.reserve(worker_id) and ack only after the handler returned.")
    if stats.pending:
        return wrong("the task is back in tasks:pending after it succeeded: just ack it.")
    if stats.processing:
        return wrong("the handler succeeded but the task is still in your processing list: "
                     "ack it (queue.ack(worker_id, task)), or it would run again after a "
                     "restart.")
    return None


def _fails(answer: Any, queue: TaskQueue) -> CheckResult | None:
    queue.enqueue("demo", {"n": 2})

    def provider_down(task: Task) -> None:
        raise ConnectionError("the mail provider is down")

    try:
        _step(answer, queue, provider_down)
    except AnswerFailed:
        return wrong("when the handler raised, the exception came out of your step: catch it "
                     "(except Exception as exc) and hand the task to queue.fail(worker_id, "
                     "task, str(exc)) - the worker must go on to the next task.")
    stats = queue.inspect()
    if stats.processing:
        return wrong("the failed task is still in your processing list: give it to "
                     "queue.fail(worker_id, task, str(exc)), which schedules the retry.")
    if not (stats.delayed or stats.dead or stats.pending):
        return wrong("the handler failed and the task is gone: you acked it anyway. Ack only "
                     "after the handler returned; on an exception call queue.fail instead.")
    return None


def _killed(answer: Any, queue: TaskQueue) -> CheckResult | None:
    queue.enqueue("demo", {"n": 3})

    def killed(task: Task) -> None:
        raise Killed

    with contextlib.suppress(Killed):  # the process is gone: look at what it left in Redis
        _step(answer, queue, killed)
    stats = queue.inspect()
    if stats.processing == 1:
        return None
    if stats.pending or stats.delayed or stats.dead:
        return wrong("your step caught the kill and moved the task on: a process killed with "
                     "kill -9 runs no except block at all. Catch Exception, not BaseException "
                     "(or a bare except), and let requeue_orphans recover the rest.")
    return wrong("the worker died mid-task and the task is nowhere in Redis: it was acked (or "
                 "popped with LPOP) before the handler ran. Reserve it with queue.reserve and "
                 "ack only after handler(task) returned.")


#: The quiz's answer: reliable mode, batch of 5, killed after the 4th task's work.
QUIZ_EXPECTED = {"recovered": 5, "lost": 0, "duplicates": 4}


def check_quiz(answer: object) -> CheckResult:
    """The quiz: what one crash mid-batch costs the reliable queue."""
    return compare(answer, QUIZ_EXPECTED,
                   why="the worker acks a batch together, after it: all 5 were still in its "
                       "processing list, so all 5 come back and none is lost. Four of them had "
                       "done their work without being acked, so those 4 run again.",
                   hint="when does the real Worker ack - after each task, or after the batch? "
                        "And which tasks had done their work when it died?")
