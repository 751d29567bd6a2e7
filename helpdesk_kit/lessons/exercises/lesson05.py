"""Lesson 05's exercise: write the eviction policy the lab simulates - LRU - and measure it.

The learner writes ``answer(reads, capacity)``: replay ``reads`` (key names, in order) through
a cache that holds at most ``capacity`` keys and, when full, evicts the *least recently used*
one (what ``maxmemory-policy allkeys-lru`` approximates); return the hit rate. The check
compares it with a reference LRU on skewed and uniform reads, and recognises the usual slips
(no eviction, FIFO instead of LRU) by their numbers.
"""

from __future__ import annotations

import math
import random
from collections import OrderedDict
from collections.abc import Sequence
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
from ..lesson import Lesson

__all__ = ["check", "lru_hit_rate"]



def lru_hit_rate(reads: Sequence[Any], capacity: int, *, refresh_on_hit: bool = True,
                 evict: bool = True) -> float:
    """The reference: hit rate of an LRU cache of ``capacity`` keys over ``reads``.

    ``refresh_on_hit=False`` gives FIFO, ``evict=False`` an unbounded cache: the two slips the
    check recognises.
    """
    cache: OrderedDict[Any, None] = OrderedDict()
    hits = 0
    for key in reads:
        if key in cache:
            hits += 1
            if refresh_on_hit:
                cache.move_to_end(key)
            continue
        if evict and len(cache) >= capacity:
            cache.popitem(last=False)
        cache[key] = None
    return hits / len(reads) if reads else 0.0


def _cases() -> list[tuple[str, list[str], int]]:
    rng = random.Random(5)
    tickets = [f"ticket:{i}" for i in range(1, 501)]
    zipf = [1 / rank ** 1.1 for rank in range(1, len(tickets) + 1)]  # as lab.simulate draws
    return [
        ("a short sequence", ["a", "b", "a", "c", "b", "d", "a", "b"], 2),
        ("Zipf reads over 500 tickets, room for 50", rng.choices(tickets, zipf, k=3000), 50),
        ("uniform reads over 500 tickets, room for 100", rng.choices(tickets, k=3000), 100),
    ]


def check(lesson: Lesson, answer: Any) -> CheckResult:
    """Compare ``answer(reads, capacity)`` with the reference LRU on three read sequences."""
    del lesson  # the lab is pure: no Redis, no database
    if is_unanswered(answer):
        return not_answered()
    for name, reads, capacity in _cases():
        try:
            got = run_answer(answer, list(reads), capacity)
        except AnswerFailed as exc:
            return wrong(str(exc))
        if isinstance(got, bool) or not isinstance(got, int | float):
            return wrong(f"return the hit rate as a number between 0 and 1, not {got!r}.")
        expected = lru_hit_rate(reads, capacity)
        if math.isclose(got, expected, abs_tol=1e-9):
            continue
        if math.isclose(got, lru_hit_rate(reads, capacity, evict=False), abs_tol=1e-9):
            return wrong(f"{name}: {got:.1%} is what a cache with no size limit gets - when "
                         f"the cache holds {capacity} keys, evict one before adding another.")
        if math.isclose(got, lru_hit_rate(reads, capacity, refresh_on_hit=False),
                        abs_tol=1e-9):
            return wrong(f"{name}: {got:.1%} is FIFO (first in, first out): a hit must make "
                         "its key the most recently used, so it is evicted last.")
        if got > 1 or got < 0:
            return wrong(f"{name}: {got!r} is not a rate: hits / number of reads.")
        return wrong(f"{name} with room for {capacity} keys: you got {got:.1%}, LRU gets "
                     f"{'more' if got < expected else 'less'}. Replay by hand the short "
                     "sequence ['a', 'b', 'a', 'c', 'b', 'd', 'a', 'b'] with room for 2.")
    return right("an LRU in a dozen lines: a hit refreshes the key, a full cache drops the one "
                 "untouched for longest. Redis's allkeys-lru samples a few keys instead of "
                 "keeping the order exactly, and gets close to these numbers.")
