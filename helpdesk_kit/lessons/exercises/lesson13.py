"""Lesson 13's exercise and quizzes: the seed's ticket-creation rate limiter, in Lua.

The learner writes a piece of their helpdesk::

    allow_ticket(client, keys, user_id, limit, window_ms) -> bool
        # at most `limit` calls per window of `window_ms`, counted under
        # keys.rate_limit("tickets", user_id) - one atomic step per call

``check(lesson, allow_ticket)`` runs lesson 13's conformance check
(:func:`~helpdesk_kit.lessons.conformance.ratelimit_checks.check_rate_limit`), which stages
another request between the piece's commands and a crash after its first one. A passing
piece is kept in ``my_helpdesk.py``, and ``lesson.make_app(pieces=..., rate_limit=(3, 60))``
makes ``create_ticket`` ask it first.
"""

from __future__ import annotations

from typing import Any

from ..checks import CheckResult, Quiz
from ..helpdesk import check_pieces
from ..lesson import Lesson

__all__ = ["FIXED_WINDOW_QUIZ", "SHARED_QUIZ_EXPECTED", "check", "check_quiz",
           "check_quiz_shared"]

WHY = ("INCR counts, PEXPIRE on the first call starts the window, and the comparison happens "
       "in the same script: no other client's command runs in between, and no crash can "
       "leave a count without its expiry. The kit's RateLimiter keeps a sliding log (a ZSET "
       "of moments) instead of a counter.")


def check(lesson: Lesson, *functions: Any) -> CheckResult:
    """``check(lesson, allow_ticket)``."""
    return check_pieces(lesson, "13", functions, WHY)


#: The fixed-window quiz: (limit, the calls of the first window, the calls right after it).
FIXED_WINDOW_QUIZ = (5, 5, 5)

check_quiz = Quiz(
    5,
    why="the counter was created by the first ticket at 12:00:00.000 with a 60 s expiry, so "
        "it is gone at 12:01:00; the call at 12:01:01 starts a new window with a fresh count, "
        "and all 5 pass. 10 tickets within about two seconds: a fixed window allows up to "
        "twice the limit across its edge. The kit's sliding log keeps the moments of the last "
        "calls (a sorted set), so any 60 s holds at most 5.",
    hint="when does the counter expire, and what does the next call after that start?",
    giveaways=("twice the limit",))


#: The second quiz: whose permissions a replaced library's function runs with.
SHARED_QUIZ_EXPECTED = "yours"

check_quiz_shared = Quiz(
    SHARED_QUIZ_EXPECTED,
    why="a function runs with the permissions of whoever calls FCALL, not of whoever loaded "
        "it: replaced code in a library your cache calls would act on your keys. That is why "
        "a class lets only the instructor load libraries, and why the kit reads its "
        "library's code back before it calls it; your own scripts go by EVALSHA, whose SHA "
        "names one body.",
    hint="the library holds code; who runs it? Think of which user's key patterns the "
         "redis.call() inside it is checked against.")
