"""Lesson 03's exercise and quiz: an update that invalidates the right key, at the right moment.

The learner writes the seed's ``actualizarTicket`` as a piece of their helpdesk::

    update_ticket(store, client, keys, ticket_id, **changes)   # write the database, then DEL

``check(lesson, update_ticket)`` runs lesson 03's conformance check
(:func:`~helpdesk_kit.lessons.conformance.cache_checks.check_update`): it caches two tickets,
runs the update through a store that notes whether the key was still there at the moment of
the write, and reads back through a real :class:`~helpdesk_kit.cache.Cache`. A passing piece
is kept in ``my_helpdesk.py``, and ``app.update_ticket`` runs it from then on.
"""

from __future__ import annotations

from typing import Any

from ..checks import CheckResult, Quiz
from ..helpdesk import check_pieces
from ..lesson import Lesson

__all__ = ["check", "check_quiz"]

WHY = ("write the database, then DEL the one key: the next read misses and caches the new "
       "row. app.update_ticket does this too, and bumps the key's generation, which closes "
       "the race this lesson showed.")


def check(lesson: Lesson, *functions: Any) -> CheckResult:
    """``check(lesson, update_ticket)``."""
    return check_pieces(lesson, "03", functions, WHY)


check_quiz = Quiz(
    "c",
    why="invalidation bumps the key's generation (INCR gen:ticket:13) every time. The reader "
        "noted the generation before it asked the database; the Lua script stores only if it "
        "is unchanged. A stale row fails that test whatever its TTL or its own timestamps say.",
    hint="which value changes on every invalidation, and was read before the reader asked "
         "the database?")
