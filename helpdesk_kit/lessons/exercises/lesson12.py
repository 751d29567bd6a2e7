"""Lesson 12's exercise and quizzes: the app's notification listener, in plain redis-py.

The learner writes a piece of their helpdesk::

    listen_notifications(client, keys, on_notification, stop)
        # SUBSCRIBE keys.notifications_channel; each notification (a JSON object with a
        # taskId) to on_notification once; return, unsubscribed, once stop is set

``check(lesson, listen_notifications)`` runs lesson 12's conformance check
(:func:`~helpdesk_kit.lessons.conformance.pubsub_checks.check_listener`): the piece runs in a
thread of its own while the check publishes notifications, a repeat and messages that are
not notifications. A passing piece is kept in ``my_helpdesk.py``, and the live feed of the
app runs it (``NotificationFeed(..., listen=mine.listen_notifications)``).
"""

from __future__ import annotations

from typing import Any

from ..checks import CheckResult, Quiz
from ..helpdesk import check_pieces
from ..lesson import Lesson

__all__ = ["QUIZ_EXPECTED", "check", "check_quiz", "check_quiz_2"]

WHY = ("SUBSCRIBE, then read with a deadline so the loop sees stop; decode each message, skip "
       "what is not a notification, drop a repeated taskId, close the pubsub. The kit's "
       "Listener does the same, reading bytes (a message need not be UTF-8) and remembering "
       "only the last 10,000 taskIds.")


def check(lesson: Lesson, *functions: Any) -> CheckResult:
    """``check(lesson, listen_notifications)``."""
    return check_pieces(lesson, "12", functions, WHY)


#: Quiz 1: how many times the listener's callback runs in the quiz's story.
QUIZ_EXPECTED = 2

check_quiz = Quiz(
    QUIZ_EXPECTED,
    why="A reaches your listener and is handed over; the retry publishes A again, and the "
        "repeat is dropped by its taskId. B and C are published while your connection is "
        "down: PUBLISH delivers to the subscribers connected at that moment and keeps "
        "nothing, so they are gone (each answered 0, or 1 for another subscriber). D arrives. "
        "2 calls. The durable record is each notification's row in the database; a stream "
        "would have kept B and C for your listener (lesson 14).",
    hint="go message by message: which ones reach a subscriber that is connected at that "
         "moment, and which of those are new?")

check_quiz_2 = Quiz(
    "b",
    why="over RESP2, a connection that has subscribed may only send (P|S)SUBSCRIBE, "
        "(P|S)UNSUBSCRIBE, PING, RESET and QUIT: Redis answers anything else with an error. "
        "So the GET goes on another connection - and redis-py's pubsub() takes a connection "
        "of its own anyway. (Over RESP3, redis-py 8's default, a subscribed connection may "
        "send any command.)",
    hint="what may a subscribed connection still send, over RESP2?")
