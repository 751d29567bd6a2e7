"""Lesson 16's exercise: fill a near cache without keeping a value that changed meanwhile.

The learner writes ``answer(l1, versions, key, read_from_redis)``: return the value for
``key`` - from ``l1`` (a dict, the process's copy) if it is there; otherwise call
``read_from_redis()`` and keep what it returns in ``l1``, *unless* an invalidation for
``key`` arrived while it was reading. An invalidation (the check plays Redis' message) does
``l1.pop(key)`` and ``versions[key] += 1``; so noting ``versions.get(key, 0)`` before the read
and comparing after it tells the two cases apart. It is :class:`helpdesk_kit.cache.l1.LocalCopy`
in four lines. The check needs no Redis: it plays the reads and the messages itself.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..checks import (
    AnswerFailed,
    CheckResult,
    is_unanswered,
    not_answered,
    right,
    run_answer,
    wrong,
)
from ..checks import check as compare
from ..lesson import Lesson

__all__ = ["check", "check_quiz"]

HINT = ("look in l1 first; on a miss note versions.get(key, 0), call read_from_redis(), and "
        "keep the value only if versions.get(key, 0) is still what you noted")
KEY = "lesson16:ticket:7"


class _Redis:
    """What the learner's function reads from: counts its calls, may invalidate mid-read."""

    def __init__(self, l1: dict[str, Any], versions: dict[str, int], value: str) -> None:
        self.l1, self.versions, self.value, self.calls = l1, versions, value, 0
        self.during: Callable[[], None] | None = None  # a message arriving while we read

    def invalidate(self) -> None:
        """Redis' invalidation message for KEY, as the near cache handles it."""
        self.l1.pop(KEY, None)
        self.versions[KEY] = self.versions.get(KEY, 0) + 1

    def read(self) -> str:
        self.calls += 1
        if self.during is not None:
            self.during()
            self.during = None
        return self.value


def check(lesson: Lesson, answer: Any) -> CheckResult:
    """A cold read, a warm read, a read that races an invalidation, a read after one."""
    if is_unanswered(answer):
        return not_answered(HINT)
    l1: dict[str, Any] = {}
    versions: dict[str, int] = {}
    redis = _Redis(l1, versions, "v1")

    def read() -> Any:
        return run_answer(answer, l1, versions, KEY, redis.read)

    try:
        if read() != "v1" or redis.calls != 1:
            return wrong("on an empty l1 the value must come from read_from_redis(), called "
                         "once, and be returned.")
        if l1.get(KEY) != "v1":
            return wrong("after a miss, keep the value in l1 (l1[key] = value): the next read "
                         "should not need Redis.")
        if read() != "v1" or redis.calls != 1:
            return wrong("the second read should be answered from l1, without calling "
                         "read_from_redis() again - that round trip is what L1 saves.")
        redis.invalidate()
        redis.value = "v2"
        if read() != "v2" or redis.calls != 2:
            return wrong("after an invalidation l1 has no value for the key: read Redis again.")
        redis.invalidate()  # the key changes again, and this time the message arrives...
        redis.value, redis.during = "v3 (already old)", redis.invalidate  # ...mid-read
        if read() != "v3 (already old)":
            return wrong("return what read_from_redis() gave, even when you do not keep it.")
        if KEY in l1:
            return wrong("an invalidation arrived while read_from_redis() ran, yet l1 kept the "
                         f"value. Hint: {HINT}.")
        redis.value = "v4"
        if read() != "v4" or l1.get(KEY) != "v4":
            return wrong("with no message during the read, the value should be kept again.")
    except AnswerFailed as exc:
        return wrong(f"{exc}. Hint: {HINT}.")
    return right("a value read while its key changed is returned but never kept: otherwise "
                 "L1 would serve an old row until its TTL, and no later message would come.")


def check_quiz(answer: object) -> CheckResult:
    """The quiz: rows L1 holds right after a lost tracking connection is back."""
    return compare(answer, 0,
                   why="a dropped connection may have lost invalidations, and nobody can tell "
                       "which: L1 was emptied when it dropped and starts empty when tracking "
                       "is back; it fills again from Redis, one read at a time.",
                   hint="what could L1 know about the writes made while nobody was listening?")
