"""Lesson 01's exercise and quizzes: the seed's user cache, written with redis-py.

The seed's ``cacheUser`` / ``getCachedUser`` / ``invalidateUserCache`` become three pieces of
the learner's helpdesk::

    cache_user(client, keys, user_id, user_data)   # SET user:{id} <JSON> EX 300
    get_cached_user(client, keys, user_id)         # GET + json.loads, or None
    invalidate_user(client, keys, user_id)         # DEL

``check(lesson, cache_user, get_cached_user, invalidate_user)`` runs the conformance check of
lesson 01 (:func:`~helpdesk_kit.lessons.conformance.cache_checks.check_user_cache`) on them
and, when they pass, keeps them in ``my_helpdesk.py``: from then on the app reads users
through them (``lesson.make_app(pieces=lesson.my_helpdesk())``).
"""

from __future__ import annotations

from typing import Any

from ..checks import CheckResult, Quiz
from ..helpdesk import check_pieces
from ..lesson import Lesson

__all__ = ["QUIZ_READS", "check", "check_quiz", "check_quiz_2"]

WHY = ("SET with EX 300, GET with json.loads, DEL: the seed's user cache, in redis-py. The "
       "kit's Cache.cache_user / get_cached_user / invalidate_user do the same, and also count "
       "hits and misses and treat a value that is not a user as a miss.")


def check(lesson: Lesson, *functions: Any) -> CheckResult:
    """``check(lesson, cache_user, get_cached_user, invalidate_user)``."""
    return check_pieces(lesson, "01", functions, WHY)


#: Quiz 1: these reads on an empty cache (ticket ids, in order).
QUIZ_READS = (1, 2, 1, 1, 3)

check_quiz = Quiz(
    0.4, tolerance=0.005,
    why="tickets 1, 2 and 3 miss the first time they are read (3 misses); the 2nd and 3rd "
        "reads of ticket 1 find it in Redis (2 hits): 2 / (2 + 3) = 0.4.",
    hint="mark each read HIT or MISS - a ticket misses only the first time - then "
         "hits / (hits + misses).",
    giveaways=("2 hits, 3 misses", "0.4"))

check_quiz_2 = Quiz(
    "b",
    why="a hit saves the database lookup and the SET a miss pays for, but it still costs a "
        "round trip to Redis. When the database answers faster than that round trip (a local "
        "file, as here), a hit is not faster than asking the database: the cache pays where "
        "the database is far away or busy. Lesson 09 measures both.",
    hint="compare what a hit does with what asking the database does, not with a miss.")
