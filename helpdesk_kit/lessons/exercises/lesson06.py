"""Lesson 06's exercise and quizzes: the seed's queue, written with redis-py.

The seed's ``enqueueTask`` / ``dequeueTask`` become two pieces of the learner's helpdesk::

    enqueue_task(client, keys, task)   # RPUSH tasks:pending <JSON of task + timestamp>
    dequeue_task(client, keys)         # LPOP tasks:pending, json.loads - or None

``check(lesson, enqueue_task, dequeue_task)`` runs lesson 06's conformance check
(:func:`~helpdesk_kit.lessons.conformance.queue_checks.check_queue`) and keeps passing pieces
in ``my_helpdesk.py``: from then on the app's notifications are pushed by the learner's
``enqueue_task``, and a seed-mode worker on ``app.queue`` takes them with ``dequeue_task``.
"""

from __future__ import annotations

from typing import Any

from ..checks import CheckResult, Quiz
from ..helpdesk import check_pieces
from ..lesson import Lesson

__all__ = ["check", "check_quiz", "check_quiz_2"]

WHY = ("RPUSH of the task's JSON with a timestamp, LPOP of the oldest: the seed's queue, in "
       "redis-py. The kit's TaskQueue.enqueue / dequeue do the same on the same list, and "
       "also check a task before it is pushed and turn an entry that is no task into a dead "
       "letter. Once LPOP has answered, the task exists only in the worker that took it: "
       "lesson 07 is about that.")


def check(lesson: Lesson, *functions: Any) -> CheckResult:
    """``check(lesson, enqueue_task, dequeue_task)``."""
    return check_pieces(lesson, "06", functions, WHY)


check_quiz = Quiz(
    "a",
    why="redis.io's BLPOP page: when several clients block on the same list, the first one "
        "served is the one that has been waiting the longest. So worker A gets the task the "
        "moment it is pushed, and worker B keeps waiting: its BLPOP answers nil (None in "
        "redis-py) when its 5 seconds are over, with nothing taken.",
    hint="two clients wait on the same empty list; which of them has waited longer when the "
         "task arrives?")

check_quiz_2 = Quiz(
    "c",
    why="RPUSH adds at the tail and RPOP takes from the tail too: the newest task comes out "
        "first, a stack instead of a queue. Tickets 5, 6 and 7 are pushed in that order and "
        "taken 7, 6, 5 - the oldest notification waits the longest. RPUSH with LPOP (or LPUSH "
        "with RPOP) keeps the order.",
    hint="draw the list after the three pushes, and mark which end each command works on.",
    giveaways=("7, 6, 5",))
