"""Lesson 10's exercise: when has ``WAIT`` covered every replica a failover could promote?

The learner writes ``answer(acknowledged, connected) -> bool``: ``WAIT`` answered that
``acknowledged`` replicas have the write, and ``connected`` replicas are connected now. The
push is *covered* when whichever of the connected replicas the Sentinels promote has it -
what the kit's durable push (``HELPDESK_QUEUE_DURABLE=all``) waits for. Covered is not
"sure to survive": the lesson lists what can still lose it. Checked on cases, each with its
own hint; the solution is in notebooks/solutions/lesson10.py.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..checks import CheckResult

__all__ = ["CASES", "check"]

#: (acknowledged, connected, covered?, what a wrong answer on this case misses)
CASES: tuple[tuple[int, int, bool, str], ...] = (
    (2, 2, True, "every connected replica has it: whichever of them is promoted has it too"),
    (1, 2, False, "with 2 replicas, WAIT 1 is not enough: the Sentinels may promote the "
                  "other one, which does not have the write yet"),
    (1, 1, True, "the only replica has it, and only it can be promoted"),
    (0, 0, False, "no replica at all: nothing survives the primary's death"),
    (0, 2, False, "no replica acknowledged: the write lives on the primary only"),
    (3, 2, True, "WAIT may count more than you asked for; more acknowledgements are fine"),
)


def check(lesson: Any, answer: Callable[[int, int], bool] | Any) -> CheckResult:
    """Run ``answer`` on every case; the first wrong one gives its hint."""
    if answer is Ellipsis:
        return CheckResult(None, "replace ... with your function answer(acknowledged, "
                                 "connected) and run the cell again.")
    if not callable(answer):
        return CheckResult(False, "answer must be a function: def answer(acknowledged, "
                                  "connected): ...")
    for acknowledged, connected, covered, why in CASES:
        try:
            got = answer(acknowledged, connected)
        except Exception as exc:  # a learner's bug is a hint, not a crash
            return CheckResult(False, f"answer({acknowledged}, {connected}) raised "
                                      f"{type(exc).__name__}: {exc}")
        if bool(got) is not covered:
            return CheckResult(False, f"answer({acknowledged}, {connected}) gave {got!r}. "
                                      f"Hint: {why}.")
    return CheckResult(True, "covered when at least one replica is connected and all of them "
                             "acknowledged it - what durable=True (HELPDESK_QUEUE_DURABLE=all) "
                             "waits for. It narrows the loss, it does not rule it out: a replica "
                             "that was not connected just then can still be promoted, and the "
                             "primary and its replicas can die together.")
