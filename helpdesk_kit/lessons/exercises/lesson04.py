"""Lesson 04's exercise and quizzes: warm the user cache with a pipeline.

The learner writes the seed's ``warmupCache`` as a piece of their helpdesk::

    warm_users(client, keys, users)   # every user dict cached as cache_user does, pipelined

``check(lesson, warm_users)`` runs lesson 04's conformance check
(:func:`~helpdesk_kit.lessons.conformance.cache_checks.check_warm`): it hands the piece a
client that counts round trips (:mod:`helpdesk_kit.lessons.roundtrips`), warms 120 users,
and reads every one back with the learner's own ``get_cached_user`` from lesson 01 (or the
kit's, if that one is not written yet). A passing piece is kept in ``my_helpdesk.py``.
"""

from __future__ import annotations

from typing import Any

from ..checks import CheckResult, Quiz
from ..helpdesk import check_pieces
from ..lesson import Lesson

__all__ = ["check", "check_quiz", "check_quiz_2"]

WHY = ("one pipeline: the writes go out together and the replies come back together, one "
       "wait instead of one per user. Over a network (the seed's Upstash) those waits are "
       "most of the time. The kit's Cache.warm_users sends a page per round trip the same way.")


def check(lesson: Lesson, *functions: Any) -> CheckResult:
    """``check(lesson, warm_users)``."""
    return check_pieces(lesson, "04", functions, WHY)


check_quiz = Quiz(
    "b",
    why="the cache starts empty, so each ticket misses the first time it is read; but the "
        "reads are skewed, and a hot ticket read twice within the first window hits the "
        "second time. So a cold start's first window is above 0%, and below a warmed one.",
    hint="what happens the second time the same ticket is read within those first reads?")

check_quiz_2 = Quiz(
    4, why="each pipeline is one round trip whatever it carries: 2,000 users in pipelines of "
           "500 are 4 pipelines, 4 round trips. The seed's loop takes 2,000.",
    hint="a pipeline's execute() is one round trip, however many commands it carries.",
    giveaways=("4 round trips",))
