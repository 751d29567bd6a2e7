"""Lesson 07's exercise and quizzes: redis.io's reliable queue, written with redis-py.

The learner writes three pieces of their helpdesk, the pattern of redis.io's ``LMOVE`` page::

    reserve_task(client, keys, worker_id)        # LMOVE tasks:pending -> tasks:processing:<w>
    ack_task(client, keys, worker_id, raw)       # LREM tasks:processing:<w> 1 <raw>
    recover_tasks(client, keys, worker_id)       # a dead worker's list back to tasks:pending

``check(lesson, reserve_task, ack_task, recover_tasks)`` runs lesson 07's conformance check
(:func:`~helpdesk_kit.lessons.conformance.queue_checks.check_reliable`), with the learner's
``enqueue_task`` of lesson 06 (or the kit's) to fill the queue, and keeps passing pieces in
``my_helpdesk.py``: a reliable worker on ``app.queue`` then takes, acks and recovers with them.
"""

from __future__ import annotations

from typing import Any

from ..checks import CheckResult, Quiz
from ..helpdesk import check_pieces
from ..lesson import Lesson

__all__ = ["QUIZ_BATCH", "check", "check_quiz", "check_quiz_2"]

WHY = ("LMOVE into the worker's own list, LREM of that very text once the work is done, and "
       "every task a dead worker held moved back to the front: at every moment each task is "
       "in exactly one list in Redis. The kit's TaskQueue does the same, and adds heartbeats "
       "to tell which worker is gone, retries with backoff, dead letters, and counts a "
       "worker's death as a failed attempt of the tasks it held.")


def check(lesson: Lesson, *functions: Any) -> CheckResult:
    """``check(lesson, reserve_task, ack_task, recover_tasks)``."""
    return check_pieces(lesson, "07", functions, WHY)


#: Quiz 1: a reliable worker takes this many tasks at once and acks them after the batch.
QUIZ_BATCH = 4

check_quiz = Quiz(
    7,
    why="the worker acks the batch after it, so when it dies all 4 tasks are still in its "
        "processing list and all 4 come back. Tasks 1 to 3 had done their work and run again; "
        "task 4 had not finished and runs once, now: 3 + 4 = 7 handler runs for 4 tasks, none "
        "lost. With an ack after each task, only the task in hand would run twice.",
    hint="which tasks are still in the processing list when the worker dies, and which of "
         "them had already done their work once?")

check_quiz_2 = Quiz(
    "b",
    why="LREM's count says how many equal elements to remove: 0 removes every one. Both "
        "copies are gone after one ack, although the second copy's work never ran - lost "
        "without a trace. An ack removes one copy: LREM ... 1 <task>.",
    hint="redis.io's LREM page: what does a count of 0 mean?")
