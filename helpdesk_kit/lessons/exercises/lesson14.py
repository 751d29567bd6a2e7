"""Lesson 14's exercise and quizzes: a consumer in a consumer group that loses nothing.

The learner writes a piece of their helpdesk::

    consume_stream(client, stream, group, consumer, handle, min_idle_ms) -> int
        # 1. its own pending entries (XREADGROUP ... 0), 2. a dead consumer's
        # (XAUTOCLAIM, cursor until 0-0), 3. new ones (XREADGROUP ... >); handle and XACK

``check(lesson, consume_stream)`` runs lesson 14's conformance check
(:func:`~helpdesk_kit.lessons.conformance.stream_checks.check_consumer`): a restart, an
entry deleted while pending, a dead consumer holding more entries than one XAUTOCLAIM
returns, a handler that fails. A passing piece is kept in ``my_helpdesk.py``, and the app's
streams queue runs its tasks through it
(:class:`~helpdesk_kit.lessons.assembly_messaging.PieceStreamWorker`).
"""

from __future__ import annotations

from typing import Any

from ..checks import CheckResult, Quiz
from ..helpdesk import check_pieces
from ..lesson import Lesson

__all__ = ["QUIZ_EXPECTED", "check", "check_quiz", "check_quiz_2"]

WHY = ("ID 0 first (what this consumer was given and never acked), then XAUTOCLAIM page by "
       "page (what a dead consumer left), then '>' (what nobody was given yet); XACK only "
       "after the work. The kit's StreamQueue adds heartbeats, so a live worker's entries "
       "never look idle, and buries an entry once its delivery count says max_attempts "
       "workers died holding it.")


def check(lesson: Lesson, *functions: Any) -> CheckResult:
    """``check(lesson, consume_stream)``."""
    return check_pieces(lesson, "14", functions, WHY)


#: Quiz 1: the delivery count after a read, a restart's re-read and a claim.
QUIZ_EXPECTED = 3

check_quiz = Quiz(
    QUIZ_EXPECTED,
    why="XREADGROUP with '>' delivered it once (1). The restarted consumer read its pending "
        "entries with ID 0: reading the history of pending entries counts a delivery too (2). "
        "XAUTOCLAIM gave it to another consumer: a claim counts one more (3). The queue reads "
        "this count to bury an entry that keeps killing workers.",
    hint="count every time the group handed the entry to a consumer: the first read, the "
         "restart's read, the claim.",
    giveaways=("delivered 3x",))

check_quiz_2 = Quiz(
    "b",
    why="'>' means entries never delivered to any consumer of the group: the three it held "
        "stay pending for it, whatever it reads with '>'. It gets them back by reading with "
        "ID 0 (its own pending entries), or another consumer takes them with XAUTOCLAIM once "
        "they are idle long enough.",
    hint="what does the special ID '>' ask XREADGROUP for?")
