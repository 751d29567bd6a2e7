"""Lesson 10's exercise and quizzes: which replicas have a write? Asked of a live primary.

The learner writes ``answer(client, offset) -> list[str]``: ``client`` is connected to a
primary, ``offset`` a position in its replication stream (the offset right after a write);
return the ``host:port`` of every replica that has acknowledged at least that much, read from
the primary's own ``ROLE`` reply (or ``INFO replication``). The check runs it on a real
primary with real replicas - the lesson's Sentinel set when it is given, otherwise a small
set of its own - three times: after a write every replica acknowledged (``WAIT``), after a
write one replica could not have seen (it is paused, ``SIGSTOP``, for a moment), and for an
offset nobody has reached yet.
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator
from typing import Any

from ...backends import SentinelLab
from ...backends.launchers import Node
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
from ..practice import practice_lab, servers_missing

__all__ = ["check", "check_quiz", "check_quiz_2", "practice_set"]

def practice_set() -> SentinelLab:
    """A primary with 2 replicas (and the one Sentinel a :class:`SentinelLab` needs), for a
    check run without the lesson's set."""
    return practice_lab("replicas", lambda: SentinelLab(replicas=2, sentinels=1, quorum=1))


@contextlib.contextmanager
def _paused(node: Node) -> Iterator[None]:
    """Stop a replica's process for the block (``SIGSTOP``): it cannot receive or acknowledge
    anything until it is continued (``SIGCONT``), whatever happens in the block."""
    assert node.process is not None
    node.process.send_signal(signal.SIGSTOP)
    try:
        yield
    finally:
        node.process.send_signal(signal.SIGCONT)


def _addresses(got: Any) -> set[str]:
    if isinstance(got, str) or not isinstance(got, list | tuple | set | frozenset):
        raise AnswerFailed(f"return a list of 'host:port' strings, not {got!r}")
    if not all(isinstance(item, str) for item in got):
        raise AnswerFailed(f"each replica is one 'host:port' string; you returned {got!r}")
    return set(got)


def _compare(case: str, got: set[str], expected: set[str], everyone: set[str]) -> str | None:
    if got == expected:
        return None
    if got - everyone:
        return (f"{case}: {sorted(got - everyone)} is not a replica of this primary. ROLE lists "
                "each replica as [ip, port, offset]: join the first two with ':'.")
    if got - expected:
        return (f"{case}: you named {sorted(got - expected)}, which has not acknowledged that "
                "offset. Compare each replica's acknowledged offset (the third item) with "
                "`offset` - as numbers: ROLE answers them as text.")
    return (f"{case}: you left out {sorted(expected - got)}, which has acknowledged at least "
            "that offset. Compare the offsets as numbers; a replica exactly at `offset` has "
            "the write too.")


def check(lesson: Lesson, answer: Any, lab: SentinelLab | None = None) -> CheckResult:
    """Run ``answer(client, offset)`` on the primary of ``lab`` (the lesson's set) or of a
    practice set; compare it with what the primary knows."""
    if is_unanswered(answer):
        return not_answered()
    missing = servers_missing()
    if missing:
        return missing
    lab = lab or practice_set()
    primary = lab.primary()
    replicas = [node for node in lab.data if node.alive and node is not primary]
    if len(replicas) < 2:
        return CheckResult(None, "the set has fewer than 2 live replicas right now (a drill "
                                 "still restarting one?): run the check again in a moment.")
    everyone = {node.address for node in replicas}
    key = sandbox(lesson).entity("replicated", "probe")
    try:
        with primary.client() as client:
            client.set(key, "written")
            first = int(client.role()[1])        # the stream's end, right after the write
            client.wait(len(replicas), 2000)     # every replica acknowledges it
            cases = [("after a write every replica acknowledged", first, everyone)]
            paused = replicas[-1]
            with _paused(paused):
                client.set(key, "written again")
                second = int(client.role()[1])
                client.wait(len(replicas), 300)  # the others acknowledge; the paused one cannot
                cases.append(("after a write the paused replica never saw", second,
                              everyone - {paused.address}))
                cases.append(("for an offset the primary has not even reached", second + 10**9,
                              set()))
                cases.append(("for the first write again", first, everyone))
                for case, offset, expected in cases:
                    got = _addresses(run_answer(answer, client, offset))
                    problem = _compare(case, got, expected, everyone)
                    if problem:
                        return wrong(problem)
            client.delete(key)
    except AnswerFailed as exc:
        return wrong(str(exc))
    return right("ROLE on a primary answers its own offset and, for each replica, the offset "
                 "that replica last acknowledged (replicas acknowledge about once a second, "
                 "and at once when a WAIT asks). A replica at or past a write's offset has the "
                 "write - in memory, for now: which replica a failover promotes, and whether "
                 "it had the write, is still Sentinel's best effort.")


check_quiz = Quiz(
    "b",
    why="WAIT 1 answered 1: one of the two replicas has the push. If the primary dies, the "
        "Sentinels promote a replica, preferring (at equal replica-priority) the one with the "
        "largest offset they last saw - a best effort, from numbers a moment old. If they "
        "promote the other one, the push is gone, although WAIT said 1.",
    hint="WAIT counts replicas that have the write. Which replica does a failover promote?")

check_quiz_2 = Quiz(
    "b",
    why="min-replicas-to-write 1 with min-replicas-max-lag 10 asks for at least one replica "
        "heard from within the last 10 s. Neither has been heard from for 15 s, so the "
        "primary refuses the write (NOREPLICAS) before applying it: nothing to lose, nothing "
        "to undo. WAIT is the other way round: the write is applied first.",
    hint="min-replicas-max-lag is about how recently a replica was heard from, not only "
         "whether it is connected.")
