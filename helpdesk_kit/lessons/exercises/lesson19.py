"""Lesson 19's check: the whole design, built by the learner, checked and drilled by the kit.

``check(lesson, globals())`` hands the notebook's namespace to
:func:`~helpdesk_kit.lessons.capstone.run_capstone`: every function of the checklist found
there is checked by the lessons' own conformance checks and the capstone's, then the two
drills run. The answer is a :class:`~helpdesk_kit.lessons.capstone.Report` - ``ok`` and
``message`` as every other check's, then what held and what broke. Nothing written yet: the
report says "not answered yet", the same on every run and backend.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

from ..capstone import Report, not_built_report, run_capstone
from ..capstone.runner import functions_in
from ..checks import Quiz, is_unanswered
from ..lesson import Lesson

__all__ = ["QUIZ_KILLED_AFTER_WORK", "check", "check_quiz"]


def check(lesson: Lesson, namespace: dict[str, Any] | ModuleType | Any) -> Report:
    """``check(lesson, globals())``: every part you built, then the drills."""
    if namespace is Ellipsis or is_unanswered(namespace):
        return not_built_report()
    return run_capstone(lesson, functions_in(namespace))


#: Quiz: drill 2, but the worker dies after the handler finished and before the ack; how many
#: times has that task's work been done once the recovery and another worker are through?
QUIZ_KILLED_AFTER_WORK = 2

check_quiz = Quiz(
    QUIZ_KILLED_AFTER_WORK,
    why="twice. When the worker died, the task's work was done but the ack was not: the task "
        "was still in the dead worker's processing list, so recover_tasks moved it back and "
        "the next worker ran it again from the start. The reliable queue delivers at least "
        "once, never exactly once - which is why each handler must be idempotent (one "
        "notification row per task id, lesson 06) and why the kit counts such repeats "
        "(lesson 07).",
    hint="where is the task when the worker dies - in which list - and what does "
         "recover_tasks do with everything in that list?",
    giveaways=("done twice", "2x"))
