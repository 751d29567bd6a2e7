"""Lesson 15's exercise and quizzes: a ticket's state, rebuilt from the event log with XRANGE.

The learner writes ``answer(client, stream, ticket_id)``: read the log (``XRANGE``, oldest
first), keep the events of ``ticket_id``, and fold them into the ticket's state - a dict with
the fields of :class:`~helpdesk_kit.app.events.TicketState` - or None when the log holds no
``created`` event for it. The rules are the kit's :func:`~helpdesk_kit.app.events.rebuild`:
a repeat (a version already applied: a retried task appended twice) is skipped, ``closed``
sets the status, ``commented`` counts a comment, and an entry that is not an event (anyone
may XADD) is skipped.

The check writes a log of its own - the ticket's story, a repeat, other tickets' events
in between, an entry written by hand, a ticket created before the log began - and compares
the answer with ``rebuild``'s, field by field.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from ...app.events import EventLog, TicketEvent, TicketState, rebuild
from ...vocab import TicketEventKind
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

__all__ = ["FIELDS", "STORY", "check", "check_quiz", "check_quiz_2"]

#: The keys the answer's dict must have (the fields of TicketState).
FIELDS = tuple(TicketState.__dataclass_fields__)
AT = "2026-06-01T12:00:00+00:00"
CREATED = TicketEventKind.CREATED
UPDATED = TicketEventKind.UPDATED
COMMENTED = TicketEventKind.COMMENTED
CLOSED = TicketEventKind.CLOSED


def _event(kind: TicketEventKind, ticket: int, version: int, **data: Any) -> TicketEvent:
    return TicketEvent(kind, ticket, version, AT, data)


def _created(ticket: int, title: str, requester: int) -> TicketEvent:
    return _event(CREATED, ticket, 1, title=title, description="", status="open",
                  priority="medium", requester_id=requester, owner_id=None)


#: The log the check writes, oldest first: ticket 7's story with others' events in between.
STORY = [
    _created(7, "VPN drops every hour", 3),
    _created(8, "Printer on fire", 4),
    _event(UPDATED, 7, 2, priority="high"),
    _event(COMMENTED, 7, 3, comment_id=11, author_id=3),
    _event(COMMENTED, 7, 3, comment_id=11, author_id=3),  # a retried task appended it again
    _event(UPDATED, 8, 2, title="Printer on fire (3rd floor)"),
    _event(UPDATED, 9, 4, status="waiting"),  # ticket 9 was created before the log began
    _event(UPDATED, 7, 4, status="in_progress", owner_id=5),
    _event(CLOSED, 7, 5, reason="inactive"),
]


def _expected(ticket_id: int) -> dict[str, Any] | None:
    state = rebuild(e for e in STORY if e.ticket_id == ticket_id)
    return None if state is None else asdict(state)


def check(lesson: Lesson, answer: Any) -> CheckResult:
    """Write the story (and an entry by hand), then ask for tickets 7, 8 and 9."""
    if is_unanswered(answer):
        return not_answered()
    if not callable(answer):
        return wrong(f"answer should be a function, got {type(answer).__name__}")
    keys = sandbox(lesson)
    try:
        log = EventLog(lesson.client, keys)
        log.append(STORY[:5])
        lesson.client.xadd(keys.ticket_events, {"hello": "not an event"})  # someone's XADD
        log.append(STORY[5:])
        return _judge(answer, lesson, keys.ticket_events)
    except AnswerFailed as exc:
        return wrong(f"{exc}. Not every entry of the log is an event: one was written by hand "
                     "(it has no 'kind' field) - skip it.")
    finally:
        sandbox(lesson)


def _judge(answer: Any, lesson: Lesson, stream: str) -> CheckResult:
    got = run_answer(answer, lesson.client, stream, 7)
    expected = _expected(7) or {}
    if not isinstance(got, dict):
        return wrong(f"return the ticket's state as a dict, got {type(got).__name__}.")
    missing = [name for name in FIELDS if name not in got]
    if missing:
        return wrong(f"the dict has no {', '.join(missing)}: return every field of the "
                     f"state ({', '.join(FIELDS)}).")
    unfiltered = rebuild(STORY)  # every ticket's events folded as if they were one's
    if (unfiltered is not None and got == asdict(unfiltered)) or got.get("requester_id") == 4:
        return wrong("ticket 8's events changed ticket 7's state: keep only the entries "
                     "whose 'ticket' field is the ticket asked for.")
    if got.get("comments") == 2:
        return wrong("2 comments: a retried task appended the same 'commented' event twice "
                     "(same version). Skip an event whose version is not above the state's.")
    if got.get("status") != "closed":
        return wrong(f"status {got.get('status')!r}: the last event is 'closed', which sets "
                     "the status to 'closed' (its data only says why).")
    wrong_fields = [n for n in FIELDS if got[n] != expected[n]]
    if wrong_fields:
        name = wrong_fields[0]
        return wrong(f"{name}: you answered {got[name]!r}, the events say {expected[name]!r}. "
                     "Each event's 'data' is JSON: decode it, and apply the ticket's fields it "
                     "holds; the version is the event's.")
    other = run_answer(answer, lesson.client, stream, 8)
    if other != _expected(8):
        return wrong(f"ticket 8 came out as {other!r}: expected {_expected(8)!r}.")
    if run_answer(answer, lesson.client, stream, 9) is not None:
        return wrong("ticket 9 has no 'created' event in the log (it was created before the "
                     "log began): its state cannot be rebuilt from the log alone. Return None.")
    return right("XRANGE oldest first, the ticket's events only, a repeat skipped by its "
                 "version: the kit's EventLog.history and rebuild. A real log holds millions "
                 "of entries: EventLog.history reads it a page at a time (XRANGE ... COUNT, "
                 "then from '(' + the last id), and a big system keeps an index, or one stream per "
                 "ticket.")


check_quiz = Quiz(
    "b",
    why="the row is still marked unsent - marking it is the relay's last step - so the next "
        "pass XADDs it again, and the log holds the event twice: an outbox relay delivers at "
        "least once. Both copies carry the same ticket version, so a fold applies the first "
        "and skips the second (a read model does the same). A stream accepts the same fields "
        "any number of times: each XADD is a new entry with a new id.",
    hint="what tells the relay a row was sent, and when does it write that?")

check_quiz_2 = Quiz(
    1,
    why="created v1, updated v2, commented v3 are applied; the second commented v3 has a "
        "version the state already has: skipped; closed v4 is applied. One skipped: the "
        "version is what makes a repeated append harmless.",
    hint="the fold applies an event only if its version is above the state's.")
