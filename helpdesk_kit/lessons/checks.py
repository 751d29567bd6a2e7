"""Check yourself: compare a learner's answer with the expected one, and say why."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

__all__ = ["CheckResult", "check"]


@dataclass(frozen=True)
class CheckResult:
    """The verdict on one answer: ``ok`` is True, False, or None (not answered yet)."""

    ok: bool | None
    message: str

    def __repr__(self) -> str:
        mark = {True: "✅ Right", False: "❌ Not quite", None: "✏️ Not answered yet"}[self.ok]
        return f"{mark}: {self.message}"

    def __bool__(self) -> bool:
        return bool(self.ok)


def _same(answer: Any, expected: Any, tolerance: float) -> bool:
    if isinstance(expected, bool) or isinstance(answer, bool):
        return answer is expected
    if isinstance(expected, int | float) and isinstance(answer, int | float):
        return math.isclose(answer, expected, rel_tol=0, abs_tol=tolerance)
    if isinstance(expected, str) and isinstance(answer, str):
        return answer.strip().lower() == expected.strip().lower()
    if isinstance(expected, set | frozenset):
        return isinstance(answer, set | frozenset | list | tuple) and set(answer) == expected
    return bool(answer == expected)


def check(answer: Any, expected: Any, *, why: str, hint: str = "",
          tolerance: float = 0.0) -> CheckResult:
    """Compare a learner's answer with the expected one and say why.

    ``answer`` left as ``...`` means "not answered yet" (the stored notebooks look like that).
    Numbers match within ``tolerance``; text ignores case and surrounding spaces; a set
    matches any list with the same members. ``why`` is shown either way: the reason matters
    more than the mark. A wrong answer gets the ``hint`` (and a new try) when there is one,
    otherwise the answer and the reason.
    """
    if answer is Ellipsis:
        return CheckResult(None, "replace ... with your answer and run the cell again."
                           + (f" Hint: {hint}" if hint else ""))
    if _same(answer, expected, tolerance):
        return CheckResult(True, why)
    if hint:  # let the learner try again without giving the answer away
        return CheckResult(False, f"you answered {answer!r}. Hint: {hint}")
    return CheckResult(False, f"you answered {answer!r}; the answer is {expected!r}. {why}")
