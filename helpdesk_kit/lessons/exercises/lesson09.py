"""Lesson 09's exercise: the break-even hit rate, from the cost of a hit and of a miss.

The learner writes ``answer(db_ms, cache_ms)``: the hit rate at which reading through the
cache costs the same as asking the database alone, when a hit pays one ``GET`` (``cache_ms``)
and a miss pays ``GET`` + the query + ``SET`` (a ``SET`` costs what a ``GET`` does). Below it
the cache makes reads slower; when it never pays, the answer is 1.0. The check compares it
with the cost model of :mod:`helpdesk_kit.lab.compare` (``break_even_hit_rate``; the tests
keep the two equal) on several networks.
"""

from __future__ import annotations

import math
from typing import Any

from ..checks import (
    AnswerFailed,
    CheckResult,
    is_unanswered,
    not_answered,
    right,
    run_answer,
    wrong,
)
from ..checks import check as compare
from ..lesson import Lesson

__all__ = ["NETWORKS", "break_even", "check", "check_quiz"]

HINT = "write the average read with the cache for a hit rate h, set it equal to db_ms, solve for h"
#: (database ms, cache ms): far database, same region, a cache as far as the database, worse.
NETWORKS = ((50.0, 5.0), (2.0, 0.5), (10.0, 1.0), (80.0, 20.0), (5.0, 5.0), (3.0, 4.0))


def break_even(db_ms: float, cache_ms: float) -> float:
    """``h*c + (1-h)*(c + d + c) = d`` solved for ``h``, capped at 1.0 (never pays)."""
    return 1.0 if db_ms + cache_ms == 0 else min(1.0, 2 * cache_ms / (db_ms + cache_ms))


def check(lesson: Lesson, answer: Any) -> CheckResult:
    """Compare ``answer(db_ms, cache_ms)`` with the cost model on six networks."""
    del lesson  # pure arithmetic: no Redis, no database
    if is_unanswered(answer):
        return not_answered()
    for db_ms, cache_ms in NETWORKS:
        try:
            got = run_answer(answer, db_ms, cache_ms)
        except AnswerFailed as exc:
            return wrong(str(exc))
        expected = break_even(db_ms, cache_ms)
        if isinstance(got, bool) or not isinstance(got, int | float):
            return wrong(f"return a hit rate (a number), not {got!r}.")
        if math.isclose(got, expected, abs_tol=1e-6):
            continue
        where = f"database {db_ms:g} ms, cache {cache_ms:g} ms"
        if got > 1:
            return wrong(f"{where}: {got:.2f} is above 1 - no hit rate makes this cache pay. "
                         "Say so with 1.0 (min(1.0, ...)).")
        if math.isclose(got, cache_ms / db_ms, abs_tol=1e-6):
            return wrong(f"{where}: {got:.2f} forgets that a miss pays the SET as well: a miss "
                         "costs GET + query + SET.")
        if math.isclose(got, 1 - expected, abs_tol=1e-6):
            return wrong(f"{where}: {got:.2f} is the break-even *miss* rate.")
        return wrong(f"{where}: you got {got:.3f}. {HINT}.")
    return right("h = 2c / (d + c): about 18% for the seed's 50 ms and 5 ms, 40% in one cloud "
                 "region, and never when the cache is as far away as the database.")


def check_quiz(answer: object) -> CheckResult:
    """The quiz: does a 35% hit rate pay, with the database 2 ms and the cache 0.5 ms away?"""
    return compare(answer, False,
                   why="break-even is 2·0.5 / (2 + 0.5) = 40%: at 35% hits the misses' extra "
                       "GET and SET cost more than the hits save - every read is slower than "
                       "asking the database.",
                   hint="compute the break-even for these two numbers and compare it with 35%.")
