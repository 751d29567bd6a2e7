"""Lesson 14's exercise: a stream consumer that survives its own restart.

The learner writes ``answer(client, stream, group, consumer)``: process every entry the
consumer is due - first the ones it had already taken before it restarted (still pending for
it: ``XREADGROUP ... STREAMS stream 0``), then the new ones (``>``) - acknowledging each
(``XACK``), and return their ``n`` fields as ints, in order. The check prepares a stream in
which the consumer took two entries and "crashed", runs the answer (in a thread: a loop that
never ends is caught), then runs it again on new entries only.
"""

from __future__ import annotations

import threading
from typing import Any

import redis

from ..checks import CheckResult, is_unanswered, not_answered, right, sandbox, wrong
from ..checks import check as compare
from ..lesson import Lesson

__all__ = ["QUIZ_EXPECTED", "check", "check_quiz"]

GROUP = "exercise-workers"
#: How long the answer may run before it counts as a loop that never ends.
TIMEOUT_S = 5.0


def _run(answer: Any, client: redis.Redis, stream: str, consumer: str
         ) -> tuple[Any, BaseException | None]:
    outcome: dict[str, Any] = {}

    def consume() -> None:
        try:
            outcome["result"] = answer(client, stream, GROUP, consumer)
        except Exception as exc:  # shown as a hint
            outcome["error"] = exc

    thread = threading.Thread(target=consume, daemon=True)
    thread.start()
    thread.join(TIMEOUT_S)
    if thread.is_alive():
        return "hung", None
    return outcome.get("result"), outcome.get("error")


def check(lesson: Lesson, answer: Any) -> CheckResult:
    """Two entries pending from before a restart, three new; then two more, nothing pending."""
    if is_unanswered(answer):
        return not_answered()
    if not callable(answer):
        return wrong(f"answer should be a function, got {type(answer).__name__}")
    stream = f"{sandbox(lesson).prefix}stream"
    client = lesson.client
    try:
        client.xgroup_create(stream, GROUP, id="0", mkstream=True)
        for n in range(5):
            client.xadd(stream, {"n": n})
        client.xreadgroup(GROUP, "c1", {stream: ">"}, count=2)  # ...then c1 crashed
        client.xreadgroup(GROUP, "c2", {stream: ">"}, count=1)  # another consumer's, not c1's
        return _judge(answer, client, stream)
    finally:
        sandbox(lesson)


def _judge(answer: Any, client: redis.Redis, stream: str) -> CheckResult:
    got, error = _run(answer, client, stream, "c1")
    if got == "hung":
        return wrong("your function never returned: reading ID 0 again and again gives the "
                     "same pending entries until they are acked. Ack each one, and stop a "
                     "loop when a read comes back empty.")
    if error is not None:
        return wrong(f"your code raised {type(error).__name__}: {error}")
    if not isinstance(got, list) or not all(isinstance(n, int) for n in got):
        return wrong("return the entries' n fields as a list of ints, e.g. int(fields['n']).")
    pending = client.xpending(stream, GROUP)["consumers"]
    held = {str(c["name"]): int(c["pending"]) for c in pending}
    if got == [3, 4]:
        return wrong("you processed only the new entries: c1 had taken entries 0 and 1 before "
                     "it restarted, and they are still pending for it. Read them first, with "
                     "ID 0 instead of '>'.")
    if 2 in got:
        return wrong("entry 2 is pending for another consumer (c2): XAUTOCLAIM is how it is "
                     "taken over, once c2 is dead - not by reading.")
    if got != [0, 1, 3, 4]:
        return wrong(f"you returned {got}: expected c1's two pending entries, then the new "
                     "ones, in order.")
    if held.get("c1"):
        return wrong(f"{held['c1']} entries are still pending for c1: XACK each one once it "
                     "is processed, or they are delivered again after the next restart.")
    client.xadd(stream, {"n": 5})
    client.xadd(stream, {"n": 6})
    again, error = _run(answer, client, stream, "c1")
    if error is not None or again != [5, 6]:
        return wrong(f"run again with nothing pending and two new entries, it returned "
                     f"{again!r} (error: {error}); expected [5, 6].")
    return right("first ID 0 (what this consumer was given before and never acked), then '>' "
                 "(what nobody was given yet); XACK after each. A restart under the same "
                 "consumer name loses nothing. Workers that never come back are XAUTOCLAIM's "
                 "job: StreamQueue.claim_orphans.")


#: The quiz: a delivery counter after one crash and one XAUTOCLAIM.
QUIZ_EXPECTED = 2


def check_quiz(answer: object) -> CheckResult:
    return compare(answer, QUIZ_EXPECTED,
                   why="XREADGROUP delivered it once (1), the worker died, and XAUTOCLAIM "
                       "delivered it again to the healthy worker (2). The queue buries an "
                       "entry whose count says max_attempts workers already died holding it.",
                   hint="count the deliveries: the first read, and the claim.")
