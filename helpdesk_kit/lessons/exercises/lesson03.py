"""Lesson 03's exercise: an update that invalidates the right key, at the right moment.

The learner writes ``answer(store, client, keys, ticket_id, status)``: change the ticket's
status in the database, then make sure no reader is served the old row - the seed's
``actualizarTicket`` (write the database, then ``DEL ticket:{id}``). The check caches two
tickets, runs the update through a store that notes whether the key was still there at the
moment of the write, and then reads through a real :class:`~helpdesk_kit.cache.Cache`.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from ...cache import Cache
from ...db import HelpdeskStore
from ...models import Ticket
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
from ..output import capture_logs

__all__ = ["check"]

#: The ticket the check updates, and one it must leave cached (high ids: no cell uses them).
TARGET, NEIGHBOUR = 1501, 1502


class _WatchedStore:
    """The lesson's store, noting whether the cached key still existed when the row changed."""

    def __init__(self, store: HelpdeskStore, client: Any, key: str) -> None:
        self._store, self._client, self._key = store, client, key
        self.writes = 0
        self.key_there_at_write: bool | None = None

    def update_ticket(self, ticket_id: int, **changes: Any) -> Ticket | None:
        self.key_there_at_write = bool(self._client.exists(self._key))
        self.writes += 1
        return self._store.update_ticket(ticket_id, **changes)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


def _new_status(ticket: Ticket | None) -> str:
    return "waiting" if ticket is None or ticket.status != "waiting" else "in_progress"


def check(lesson: Lesson, answer: Any) -> CheckResult:
    """Cache two tickets, run the learner's update on one, read both through a real Cache."""
    if is_unanswered(answer):
        return not_answered()
    keys = sandbox(lesson)
    cache = Cache(lesson.client, keys)
    store = lesson.store
    try:
        with capture_logs():
            for ticket_id in (TARGET, NEIGHBOUR):
                cache.get_ticket(ticket_id, partial(store.get_ticket, ticket_id))
        status = _new_status(store.get_ticket(TARGET))
        watched = _WatchedStore(store, lesson.client, keys.ticket(TARGET))
        run_answer(answer, watched, lesson.client, keys, TARGET, status)
        return _verdict(lesson, keys, cache, watched, status)
    except AnswerFailed as exc:
        return wrong(str(exc))
    finally:
        sandbox(lesson)


def _verdict(lesson: Lesson, keys: Any, cache: Cache, watched: _WatchedStore,
             status: str) -> CheckResult:
    row = lesson.store.get_ticket(TARGET)
    if row is None or row.status != status:
        return wrong(f"the database still says {row.status if row else None!r}: write the new "
                     "status first, with store.update_ticket(ticket_id, status=status).")
    if lesson.client.exists(keys.ticket(TARGET)):
        return wrong(f"{keys.ticket(TARGET)!r} is still cached, with the old status: every "
                     "reader gets the stale row until its TTL runs out. Delete that key "
                     "(keys.ticket(ticket_id) - with the prefix).")
    if not lesson.client.exists(keys.ticket(NEIGHBOUR)):
        return wrong("another ticket's key is gone too: invalidate selectively - one DEL of "
                     "this ticket's key, never FLUSHDB or a whole pattern.")
    if watched.key_there_at_write is False:
        return wrong("you deleted the key *before* writing the database: a read between the "
                     "two would cache the old row again, and nobody would delete it. Write "
                     "first, then invalidate (the seed's order).")
    with capture_logs():
        served = cache.get_ticket(TARGET, lambda: lesson.store.get_ticket(TARGET))
    if served is None or served.status != status:
        return wrong("the next read through the cache did not see the new status.")
    return right("write the database, then DEL the one key: the next read misses and caches "
                 "the new row. app.update_ticket does this (and bumps the key's generation, "
                 "which closes the race you saw above).")
