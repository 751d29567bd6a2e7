"""Lesson 00's exercise: a first round trip with redis-py, under the lesson's own prefix.

The learner writes ``answer(lesson, ticket_id)``: read the ticket from the database, store its
title in Redis under ``<prefix>title:<ticket_id>``, and return what a ``GET`` of that key
gives back. It is the smallest piece of everything the later lessons do: a database read, a
Redis write, a Redis read, and every key under the lesson's prefix.
"""

from __future__ import annotations

from typing import Any

from ..checks import (
    AnswerFailed,
    CheckResult,
    Quiz,
    is_unanswered,
    not_answered,
    right,
    run_answer,
    wrong,
)
from ..lesson import Lesson

__all__ = ["check", "check_quiz"]

#: The tickets the check asks for (the sample has 2,000, so these exist in every lesson).
TICKETS = (3, 42, 1999)


def _key(lesson: Lesson, ticket_id: int) -> str:
    return f"{lesson.keys.prefix}title:{ticket_id}"


def check(lesson: Lesson, answer: Any) -> CheckResult:
    """Run ``answer(lesson, ticket_id)`` for a few tickets and look at what Redis holds."""
    if is_unanswered(answer):
        return not_answered()
    client = lesson.client
    for ticket_id in TICKETS:
        key = _key(lesson, ticket_id)
        bare = f"title:{ticket_id}"
        client.delete(key)
        bare_before = bool(client.exists(bare))
        try:
            returned = run_answer(answer, lesson, ticket_id)
        except AnswerFailed as exc:
            return wrong(f"{exc}. Look at the cell above for how the lesson's objects are used.")
        ticket = lesson.store.get_ticket(ticket_id)
        title = ticket.title if ticket else None
        stored = client.get(key)
        if stored is None:
            if not bare_before and client.exists(bare):
                client.delete(bare)  # the learner's key, made a moment ago: tidy it away
                return wrong(f"you wrote {bare!r}: every key a lesson writes starts with its "
                             f"prefix, {lesson.keys.prefix!r}.")
            return wrong(f"Redis has no key {key!r} after your function ran: SET it "
                         "(lesson.client.set(key, value)).")
        if stored != title:
            return wrong(f"{key!r} holds {stored!r}, not the ticket's title: read the ticket "
                         "with lesson.store.get_ticket(ticket_id) and store its .title.")
        if returned != stored:
            return wrong(f"your function returned {returned!r}: return what GET answers "
                         "(lesson.client.get(key)), so the caller sees what Redis holds.")
        client.delete(key)
    return right("one database read, one SET, one GET - all under the lesson's prefix. Every "
                 "cache in the next lessons is made of these three steps.")


check_quiz = Quiz(
    "bob:lesson00:ticket:7",
    why="the lesson's prefix is the base prefix (HELPDESK_KEY_PREFIX, here bob:) followed by "
        "lessonNN:, and the seed's key name comes after it. So bob's ticket 7 and yours are "
        "two keys, and neither setup() ever deletes the other's.",
    hint="setup() printed this lesson's prefix: which part of it comes from "
         "HELPDESK_KEY_PREFIX, and which from the lesson?",
    giveaways=("bob:lesson00:",))
