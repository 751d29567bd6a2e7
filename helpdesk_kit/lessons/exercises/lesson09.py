"""Lesson 09's exercise and quiz: a cache-aside read that prices itself in round trips.

The break-even hit rate rests on one cost model: a hit pays one round trip to Redis (``GET``),
a miss pays ``GET`` + the database + ``SET``. The learner writes the read and its price::

    answer(client, key, load, db_ms, cache_ms) -> (value, ms)

one cache-aside read of ``key`` on the lesson's Redis (``load()`` is the database: it returns
the value as text), priced at ``cache_ms`` per round trip to Redis and ``db_ms`` per database
query. The check runs it on a client that counts its round trips and a ``load`` that counts
its queries, and holds every read to three things: the value is right, a hit costs one round
trip and no query (a miss two round trips and one query, the value stored with ``EX 300``),
and the price is what that read really did. The quiz asks for the break-even of that model.
"""

from __future__ import annotations

import math
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
from ..roundtrips import counting_client

__all__ = ["NETWORKS", "READS", "break_even", "check", "check_quiz"]

#: (database ms, cache ms) the reads are priced under: the seed's network, one cloud region.
NETWORKS = ((50.0, 5.0), (2.0, 0.5))
#: The tickets read, in order: each one misses the first time, then hits.
READS = (7, 8, 7, 7, 9, 8)
TTL = 300


def break_even(db_ms: float, cache_ms: float) -> float:
    """``h*c + (1-h)*(c + d + c) = d`` solved for ``h``, capped at 1.0 (never pays)."""
    return 1.0 if db_ms + cache_ms == 0 else min(1.0, 2 * cache_ms / (db_ms + cache_ms))


def _value(ticket_id: int) -> str:
    return f'{{"id": {ticket_id}, "title": "ticket {ticket_id}"}}'


def _priced(got: Any) -> tuple[Any, float]:
    """The learner's ``(value, ms)``, or AnswerFailed with what to return instead."""
    if not (isinstance(got, tuple) and len(got) == 2):
        raise AnswerFailed(f"return two things, (value, ms): you returned {got!r}")
    value, ms = got
    if isinstance(ms, bool) or not isinstance(ms, int | float):
        raise AnswerFailed(f"the price is a number of milliseconds, not {ms!r}")
    return value, float(ms)


def _one_read(answer: Any, client: Any, trips: Any, key: str, ticket_id: int,
              network: tuple[float, float]) -> tuple[bool, str | None]:
    """Run one read; (was it a hit, what is wrong with it or None)."""
    db_ms, cache_ms = network
    queries: list[int] = []

    def load() -> str:
        queries.append(ticket_id)
        return _value(ticket_id)

    trips.reset()
    value, ms = _priced(run_answer(answer, client, key, load, db_ms, cache_ms))
    hit = not queries
    kind = "hit" if hit else "miss"
    where = f"ticket {ticket_id} ({kind}, database {db_ms:g} ms, cache {cache_ms:g} ms)"
    if value != _value(ticket_id):
        return hit, f"{where}: you returned {value!r}, not the value load() gave (the text)."
    if len(queries) > 1:
        return hit, f"{where}: load() ran {len(queries)} times: a miss asks the database once."
    if hit and trips.count != 1:
        return hit, (f"{where}: a hit took {trips.count} round trip(s) to Redis; a hit is one "
                     "command: everything it needs comes back with it.")
    if not hit and trips.count != 2:
        return hit, (f"{where}: a miss took {trips.count} round trip(s) to Redis; cache-aside "
                     "misses with two: the read that found nothing, and the store.")
    if not math.isclose(ms, trips.count * cache_ms + len(queries) * db_ms, abs_tol=1e-6):
        return hit, (f"{where}: you priced it at {ms:g} ms; it made {trips.count} round "
                     f"trip(s) to Redis and {len(queries)} database query(ies): price each "
                     "one.")
    return hit, None


def check(lesson: Lesson, answer: Any) -> CheckResult:
    """Replay :data:`READS` through ``answer`` under each of :data:`NETWORKS`, on a client
    that counts round trips; then look at what Redis holds."""
    if is_unanswered(answer):
        return not_answered()
    keys = sandbox(lesson)
    counted, trips = counting_client(lesson.client)
    try:
        for number, network in enumerate(NETWORKS):
            seen: set[int] = set()
            for ticket_id in READS:
                key = keys.entity(f"net{number}:ticket", ticket_id)
                try:
                    hit, problem = _one_read(answer, counted, trips, key, ticket_id, network)
                except AnswerFailed as exc:
                    return wrong(str(exc))
                if problem:
                    return wrong(problem)
                if hit != (ticket_id in seen):
                    return wrong(f"ticket {ticket_id}: the first read of a key must miss and "
                                 "ask the database, every read after it must hit.")
                seen.add(ticket_id)
                ttl = int(lesson.client.ttl(key))
                if not 0 < ttl <= TTL:
                    return wrong(f"ticket {ticket_id} is stored with TTL {ttl}: store it "
                                 f"for {TTL} seconds, as the seed does.")
    finally:
        counted.close()
        sandbox(lesson)
    return right("a hit costs one round trip (c), a miss two and a query (2c + d). Averaged "
                 "over a hit rate h: h·c + (1-h)·(2c + d), the line the explorer below draws. "
                 "It equals d, the database alone, at the break-even hit rate; below it the "
                 "hits are still fast, but the misses cost more than the hits save.")


check_quiz = Quiz(
    False,
    why="break-even is 2·1 / (3 + 1) = 50%. At 45% hits the average read through the cache "
        "costs 0.45·1 + 0.55·(1 + 3 + 1) = 3.2 ms, more than the database's 3 ms: each hit is "
        "still faster (1 ms), but the misses' extra GET and SET cost more than the hits save, "
        "so the *average* read is slower.",
    hint="compute the break-even for these two numbers, 2c / (d + c), and compare it with 45%.")
