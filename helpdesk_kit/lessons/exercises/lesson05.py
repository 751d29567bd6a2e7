"""Lesson 05's exercise and quizzes: an exact LRU, kept in a Redis sorted set.

Redis's ``allkeys-lru`` approximates LRU: it samples a few keys and evicts the one idle
longest, because keeping every key in order costs memory and work on every read. The learner
builds the exact version that Redis avoids, in Redis itself::

    answer(client, index, key, capacity, now) -> bool   # True for a hit

one read of ``key`` at time ``now`` (a number that grows with every read) through a cache of
``capacity`` keys whose recency lives in the sorted set ``index`` (member: the key, score:
when it was last read). A hit refreshes the key's score; a miss adds it and, when the cache
then holds more than ``capacity`` keys, removes the one read longest ago. The check replays
read sequences through it and compares the hit rate *and* what the sorted set holds with a
reference LRU (:func:`lru_hit_rate`), and recognises the usual slips by their numbers.
"""

from __future__ import annotations

import random
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

from ..checks import (
    AnswerFailed,
    CheckResult,
    Quiz,
    is_unanswered,
    not_answered,
    right,
    run_answer,
    sandbox,
    wrong,
)
from ..lesson import Lesson

__all__ = ["QUIZ_CAPACITY_SHARE", "check", "check_quiz", "check_quiz_2", "lru_cache",
           "lru_hit_rate"]

SHORT = (["a", "b", "a", "c", "b", "d", "a", "b"], 2)


def lru_cache(reads: Sequence[Any], capacity: int, *, refresh_on_hit: bool = True,
              evict: bool = True) -> tuple[int, list[Any]]:
    """The reference: (hits, the cached keys from least to most recently read) of an exact
    LRU cache of ``capacity`` keys after ``reads``.

    ``refresh_on_hit=False`` gives FIFO and ``evict=False`` an unbounded cache: two of the
    slips the check recognises.
    """
    cache: OrderedDict[Any, None] = OrderedDict()
    hits = 0
    for key in reads:
        if key in cache:
            hits += 1
            if refresh_on_hit:
                cache.move_to_end(key)
            continue
        cache[key] = None
        if evict and len(cache) > capacity:
            cache.popitem(last=False)
    return hits, list(cache)


def lru_hit_rate(reads: Sequence[Any], capacity: int, **slips: bool) -> float:
    """Hit rate of :func:`lru_cache` (hits / reads)."""
    hits, _ = lru_cache(reads, capacity, **slips)
    return hits / len(reads) if reads else 0.0


def _cases() -> list[tuple[str, list[str], int]]:
    rng = random.Random(5)
    tickets = [f"ticket:{i}" for i in range(1, 201)]
    zipf = [1 / rank ** 1.1 for rank in range(1, len(tickets) + 1)]  # as lab.simulate draws
    return [
        ("the short sequence a b a c b d a b", *SHORT),
        ("Zipf reads over 200 tickets, room for 20", rng.choices(tickets, zipf, k=500), 20),
        ("uniform reads over 200 tickets, room for 40", rng.choices(tickets, k=500), 40),
    ]


def _replay(answer: Any, client: Any, index: str, reads: list[str], capacity: int
            ) -> tuple[int, int]:
    """Run every read through the learner's function: (hits it reported, the most keys the
    sorted set held after a read)."""
    hits = 0
    biggest = 0
    for now, key in enumerate(reads, start=1):
        got = run_answer(answer, client, index, key, capacity, now)
        if not isinstance(got, bool):
            raise AnswerFailed(f"return True for a hit and False for a miss, not {got!r}")
        if got:
            hits += 1
        biggest = max(biggest, int(client.zcard(index)))
    return hits, biggest


def _diagnose(name: str, reads: list[str], capacity: int, hits: int, biggest: int,
              held: list[str]) -> str | None:
    """What went wrong in one case (a hint, never the code), or None if it is LRU."""
    expected_hits, expected_held = lru_cache(reads, capacity)
    if hits == expected_hits and held == expected_held:
        return None
    if biggest > capacity:
        return (f"{name}: the sorted set grew to {biggest} keys with room for {capacity}: "
                "after a miss, remove a key whenever the cache holds more than capacity.")
    if hits == lru_cache(reads, capacity, refresh_on_hit=False)[0]:
        return (f"{name}: {hits} hits is what FIFO (first in, first out) gets: a hit must "
                "make its key the most recently read - give it the new time as its score.")
    if hits != expected_hits:
        return (f"{name} with room for {capacity}: you reported {hits} hits, LRU gets "
                f"{expected_hits}. Is the key you remove the one with the *lowest* score (read "
                "longest ago)? Replay the short sequence by hand with room for 2: 1 hit.")
    if set(held) == set(expected_held):
        return (f"{name}: the right keys are cached, but not with the times they were last "
                "read: every read gives its key the score `now`.")
    return (f"{name}: the hits are right but the sorted set holds {held[:5]}..., not the "
            f"{capacity} keys read most recently.")


def check(lesson: Lesson, answer: Any) -> CheckResult:
    """Replay three read sequences through ``answer`` on the lesson's Redis; compare the
    hits and the sorted set with an exact LRU."""
    if is_unanswered(answer):
        return not_answered()
    keys = sandbox(lesson)
    client = lesson.client
    try:
        for number, (name, reads, capacity) in enumerate(_cases()):
            index = keys.entity("lru", str(number))
            try:
                hits, biggest = _replay(answer, client, index, reads, capacity)
            except AnswerFailed as exc:
                return wrong(str(exc))
            held = [str(member) for member in client.zrange(index, 0, -1)]
            problem = _diagnose(name, reads, capacity, hits, biggest, held)
            if problem:
                return wrong(problem)
    finally:
        sandbox(lesson)
    return right("an exact LRU: ZADD with the read's time refreshes a hit and adds a miss "
                 "(it answers 1 for a new member), and ZPOPMIN drops the key read longest ago. "
                 "It costs a sorted-set entry per key and a write on every read, hit or not: "
                 "the bookkeeping Redis's allkeys-lru avoids by sampling a few keys "
                 "(maxmemory-samples) and evicting the one idle longest.")


#: Quiz 1: uniform access, memory for this share of the keys, allkeys-lru, TTL 300.
QUIZ_CAPACITY_SHARE = 0.2

check_quiz = Quiz(
    "b",
    why="under uniform access every key is read as often as any other, so the keys that fit "
        "serve about their share of the reads: 20% of the keys, about 20% of the hits. A "
        "longer TTL cannot raise it above that share (keys are evicted long before they "
        "expire), and no policy can find a hot set that is not there; only more memory (or "
        "reads that favour some keys) raises it.",
    hint="try the three changes in the lab above: pattern uniform, memory 20%, then change "
         "one knob at a time.")

check_quiz_2 = Quiz(
    "b",
    why="volatile-lru evicts only keys that have an expiry (a TTL). The sessions have one, "
        "the settings do not: Redis evicts the least recently used sessions, never a setting. "
        "Once no key with a TTL is left to evict, it refuses writes as noeviction does.",
    hint="what does the volatile- in the policy's name select?")
