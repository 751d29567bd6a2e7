"""Lesson 12's exercise: a subscriber that collects notifications, each one once.

The learner writes ``answer(client, channel, n, timeout_s)``: subscribe to ``channel``, and
return the first ``n`` distinct notifications published there (the decoded JSON dicts, in
order), dropping repeats (the same ``taskId`` again: a retried task publishes twice) and
messages that are not notifications at all; give up after ``timeout_s`` seconds with what it
has. The check runs it in a thread, publishes once it has subscribed - a repeat, some text
that is not JSON, more than ``n`` - and then once more with nothing published at all.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

from ..checks import CheckResult, is_unanswered, not_answered, right, sandbox, wrong
from ..checks import check as compare
from ..lesson import Lesson

__all__ = ["QUIZ_EXPECTED", "check", "check_quiz"]

NOTES = [{"taskId": f"task-{n}", "ticketId": 100 + n, "usuarioId": 3, "tipo": "ticket_creado"}
         for n in range(4)]


def _run(answer: Any, lesson: Lesson, channel: str, n: int, timeout_s: float,
         publish: list[str]) -> tuple[Any, BaseException | None, float]:
    """Run the learner's subscriber in a thread and publish ``publish`` once it listens."""
    outcome: dict[str, Any] = {}

    def subscriber() -> None:
        try:
            outcome["result"] = answer(lesson.client, channel, n, timeout_s)
        except Exception as exc:  # shown as a hint, not a traceback
            outcome["error"] = exc

    started = time.monotonic()
    thread = threading.Thread(target=subscriber, daemon=True)
    thread.start()
    deadline = time.monotonic() + 3
    while publish and lesson.client.pubsub_numsub(channel)[0][1] < 1:
        if time.monotonic() > deadline or not thread.is_alive():
            break
        time.sleep(0.01)
    listening = lesson.client.pubsub_numsub(channel)[0][1] >= 1
    for message in publish if listening else []:
        lesson.client.publish(channel, message)
    thread.join(timeout_s + 3)
    if thread.is_alive():
        return "hung", None, time.monotonic() - started
    if publish and not listening and "error" not in outcome:
        return "deaf", None, time.monotonic() - started
    return outcome.get("result"), outcome.get("error"), time.monotonic() - started


def check(lesson: Lesson, answer: Any) -> CheckResult:
    """Publish a repeat, some text and more than ``n``; then publish nothing at all."""
    if is_unanswered(answer):
        return not_answered()
    if not callable(answer):
        return wrong(f"answer should be a function, got {type(answer).__name__}")
    channel = f"{sandbox(lesson).prefix}notifications"
    sent = [json.dumps(NOTES[0]), json.dumps(NOTES[0]), "hello, not JSON",
            *(json.dumps(note) for note in NOTES[1:])]
    got, error, _ = _run(answer, lesson, channel, 3, 1.0, sent)
    if got == "hung":
        return wrong("your function was still running long after timeout_s: stop waiting at "
                     "the deadline (time.monotonic() + timeout_s) and return what you have.")
    if got == "deaf":
        return wrong("your function never subscribed to the channel: client.pubsub(), then "
                     ".subscribe(channel), then read with .get_message(timeout=...).")
    if error is not None:
        return wrong(f"your code raised {type(error).__name__}: {error}. Not every message on "
                     "a channel is a notification: skip what json.loads refuses.")
    if not isinstance(got, list):
        return wrong(f"return a list of the notifications (dicts), got {type(got).__name__}")
    if any(isinstance(g, dict) and g.get("type") in ("subscribe", "message") for g in got):
        return wrong("your list holds redis-py's message envelopes: the notification is "
                     "json.loads(message['data']), and subscribe confirmations are not "
                     "messages (pubsub(ignore_subscribe_messages=True) skips them).")
    if any(isinstance(g, str | bytes) for g in got):
        return wrong("your list holds the raw text: decode each message with json.loads.")
    if len(got) < 3:
        return wrong(f"you returned {len(got)} of the 3 asked for: get_message gives None "
                     "when nothing has arrived *yet* - keep asking until n arrived or the "
                     "deadline passed.")
    if got == [NOTES[0], NOTES[0], NOTES[1]]:
        return wrong("the same notification twice: a retried task publishes again, so keep "
                     "the taskIds you have seen and drop a repeat.")
    if len(got) > 3:
        return wrong("stop once you have n notifications: the caller asked for 3.")
    if got != NOTES[:3]:
        return wrong("not the first three distinct notifications, in the order published.")
    quiet, error, seconds = _run(answer, lesson, channel, 2, 0.5, [])
    if error is not None or quiet == "hung" or seconds > 2.5:
        return wrong("with nothing published, your function must return [] after timeout_s "
                     "(here 0.5 s), not wait for ever.")
    if quiet != []:
        return wrong("with nothing published, return an empty list.")
    if lesson.client.pubsub_numsub(channel)[0][1]:
        return wrong("your function returned but stayed subscribed: close the pubsub "
                     "(pubsub.close()), or its connection lingers on the server.")
    return right("subscribe, then read with a deadline; decode each message, skip what is not "
                 "a notification, drop repeats by taskId. That is app.listen.Listener, and "
                 "what `helpdesk-kit listen` runs.")


#: The quiz: what a listener that was away gets of what was published meanwhile.
QUIZ_EXPECTED = 0


def check_quiz(answer: object) -> CheckResult:
    return compare(answer, QUIZ_EXPECTED,
                   why="PUBLISH delivers to the subscribers connected at that moment and keeps "
                       "nothing: the 30 are gone (each PUBLISH answered 0). A queue must not "
                       "be a channel: a list or a stream keeps the tasks until a worker comes.",
                   hint="what did each PUBLISH answer while nobody listened, and where would "
                        "Redis have kept the messages?")
