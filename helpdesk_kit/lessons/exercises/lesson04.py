"""Lesson 04's exercise: warm the cache with a pipeline instead of one round trip per row.

The learner writes ``answer(client, keys, tickets)``: store every ticket as
``SET ticket:{id} <encode_ticket(ticket)> EX 300``, queued on one pipeline. The check hands in
a client that counts round trips (each command sent on its own is one; a pipeline's
``execute()`` is one), then reads every ticket back through a real
:class:`~helpdesk_kit.cache.Cache`: each must be a hit.
"""

from __future__ import annotations

from typing import Any

from ...cache import Cache
from ..checks import (
    AnswerFailed,
    CheckResult,
    is_unanswered,
    not_answered,
    right,
    run_answer,
    sandbox,
    wrong,
)
from ..lesson import Lesson

__all__ = ["CountingClient", "check"]

TICKETS = 200
#: Round trips a pipelined warm-up of 200 tickets may take (batches of 50 would be 4).
MAX_ROUND_TRIPS = 5


class _CountingPipeline:
    """A pipeline whose ``execute()`` counts as one round trip."""

    def __init__(self, pipeline: Any, owner: CountingClient) -> None:
        self._pipeline, self._owner = pipeline, owner

    def execute(self, *args: Any, **kwargs: Any) -> Any:
        self._owner.round_trips += 1
        return self._pipeline.execute(*args, **kwargs)

    def __enter__(self) -> _CountingPipeline:
        return self

    def __exit__(self, *exc: object) -> None:
        self._pipeline.reset()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._pipeline, name)


class CountingClient:
    """A redis client that counts round trips: a command is one, a pipeline's execute one."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.round_trips = 0

    def pipeline(self, *args: Any, **kwargs: Any) -> _CountingPipeline:
        return _CountingPipeline(self._client.pipeline(*args, **kwargs), self)

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._client, name)
        if not callable(attribute):
            return attribute

        def counted(*args: Any, **kwargs: Any) -> Any:
            self.round_trips += 1
            return attribute(*args, **kwargs)

        return counted


def check(lesson: Lesson, answer: Any) -> CheckResult:
    """Warm 200 tickets with the learner's function; count round trips; read them back."""
    if is_unanswered(answer):
        return not_answered()
    keys = sandbox(lesson)
    tickets = lesson.store.list_tickets(limit=TICKETS)
    counting = CountingClient(lesson.client)
    try:
        run_answer(answer, counting, keys, tickets)
        cache = Cache(lesson.client, keys)
        for ticket in tickets:
            key = keys.ticket(ticket.id)
            if not lesson.client.exists(key):
                return wrong(f"{key!r} is not in Redis: SET every ticket, under "
                             "keys.ticket(ticket.id).")
            ttl = int(lesson.client.ttl(key))
            if ttl == -1:
                return wrong(f"{key!r} never expires: warm with the seed's EX 300 (ex=300).")
            if not 0 < ttl <= 300:
                return wrong(f"{key!r} has a TTL of {ttl} s, not the seed's 300 s.")
            if cache.get_cached_ticket(ticket.id) != ticket:
                return wrong(f"the cache cannot read {key!r} back as the ticket: store "
                             "encode_ticket(ticket), the JSON the cache reads.")
        if counting.round_trips >= len(tickets):
            return wrong(f"that took {counting.round_trips} round trips for {len(tickets)} "
                         "tickets - the seed's loop, one wait per row. Queue the SETs on "
                         "client.pipeline() and execute() them together.")
        if counting.round_trips > MAX_ROUND_TRIPS:
            return wrong(f"that took {counting.round_trips} round trips: a pipeline sends "
                         "many commands at once - execute() once at the end, not per ticket.")
    except AnswerFailed as exc:
        return wrong(str(exc))
    finally:
        sandbox(lesson)
    return right(f"{len(tickets)} SETs in {counting.round_trips} round trip(s) instead of "
                 f"{len(tickets)}: the pipeline saves the waits, which over a network (the "
                 "seed's Upstash) are most of the time. Cache.warm_tickets does this.")
