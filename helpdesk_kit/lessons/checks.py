"""Check yourself: the verdicts on a quiz answer and on a coding exercise, and why.

Two kinds of checks share one :class:`CheckResult`:

* :func:`check` compares a quiz answer (a number, a word, a set) with the expected one;
* the coding exercises (``helpdesk_kit.lessons.exercises.lessonNN.check``) run the learner's
  code and judge what it *did*. They build their verdicts with :func:`right`, :func:`wrong`
  and :func:`not_answered`, and call the learner's code through :func:`run_answer`, so an
  exception in it becomes a hint instead of a traceback.

``...`` - or a function whose body is still only ``...`` - means "not answered yet": that is
how the stored notebooks look, and it is never marked wrong.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..keys import KeySchema

if TYPE_CHECKING:  # only for the type hint: lesson.py imports this module's neighbours
    from .lesson import Lesson

__all__ = ["AnswerFailed", "CheckResult", "Quiz", "check", "is_unanswered", "not_answered",
           "right", "run_answer", "sandbox", "wrong"]


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
    if isinstance(expected, tuple) and isinstance(answer, tuple | list):
        return len(answer) == len(expected) and all(
            _same(a, e, tolerance) for a, e in zip(answer, expected, strict=True))
    return bool(answer == expected)


def check(answer: Any, expected: Any, *, why: str, hint: str = "",
          tolerance: float = 0.0) -> CheckResult:
    """Compare a learner's answer with the expected one and say why.

    ``answer`` left as ``...`` means "not answered yet" (the stored notebooks look like that).
    Numbers match within ``tolerance``; text ignores case and surrounding spaces; a set
    matches any list with the same members; a tuple matches item by item. ``why`` is shown
    on a right answer: the reason matters more than the mark. A wrong answer gets the ``hint``
    (and a new try) when there is one, otherwise the answer and the reason.
    """
    if answer is Ellipsis:
        return not_answered(hint)
    if _same(answer, expected, tolerance):
        return CheckResult(True, why)
    if hint:  # let the learner try again without giving the answer away
        return CheckResult(False, f"you answered {answer!r}. Hint: {hint}")
    return CheckResult(False, f"you answered {answer!r}; the answer is {expected!r}. {why}")


@dataclass(frozen=True)
class Quiz:
    """A "check yourself" question, kept in the package so no cell shows its answer.

    Call it with the learner's answer: ``check_quiz(0.4)``. ``why`` is shown only once the
    answer is right (the explanation is the lesson's last word on the question); a wrong one
    gets the ``hint`` and another try. ``giveaways`` are the texts that would answer the
    question if an earlier cell printed them (a test makes sure none does); a number in
    0..1 adds its percentage (``0.4`` -> ``40%``) itself.
    """

    expected: Any
    why: str
    hint: str
    tolerance: float = 0.0
    giveaways: tuple[str, ...] = ()

    def __call__(self, answer: Any) -> CheckResult:
        return check(answer, self.expected, why=self.why, hint=self.hint,
                     tolerance=self.tolerance)

    def revealing_texts(self) -> tuple[str, ...]:
        """Every text an earlier output must not hold: the giveaways, and a rate's percent."""
        texts = list(self.giveaways)
        rate = self.expected
        if isinstance(rate, float) and 0 < rate <= 1:
            texts.append(f"{rate:.0%}")
        return tuple(texts)


# --- coding exercises ----------------------------------------------------------------------
def _stub() -> None: ...


def _is_stub(function: Any) -> bool:
    """A function whose body is only ``...`` (or ``pass``): the exercise's empty template."""
    code = getattr(function, "__code__", None)
    return code is not None and code.co_code == _stub.__code__.co_code


def is_unanswered(answer: Any) -> bool:
    """``...``, or the template's functions (bodies still ``...``), as the notebook stores them."""
    if answer is Ellipsis:
        return True
    if isinstance(answer, tuple | list) and answer:
        return all(is_unanswered(part) for part in answer)
    return _is_stub(answer)


def not_answered(hint: str = "") -> CheckResult:
    """The verdict on an exercise nobody has written yet (never "wrong")."""
    return CheckResult(None, "replace ... with your answer and run the cell again."
                       + (f" Hint: {hint}" if hint else ""))


def right(why: str) -> CheckResult:
    return CheckResult(True, why)


def wrong(hint: str) -> CheckResult:
    """A wrong answer: what went wrong and where to look - never the solution."""
    return CheckResult(False, hint)


class AnswerFailed(Exception):
    """The learner's code raised; the message is the hint to show."""


def run_answer(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call the learner's function; an exception becomes :class:`AnswerFailed` with a hint.

    Exercises catch it and return ``wrong(str(exc))``: a traceback from inside the kit would
    teach nothing, the exception's type and message (and the call that raised it) do.
    """
    if not callable(function):
        raise AnswerFailed(f"answer should be a function, got {type(function).__name__}")
    try:
        return function(*args, **kwargs)
    except Exception as exc:
        raise AnswerFailed(f"your code raised {type(exc).__name__}: {exc}") from exc


def sandbox(lesson: Lesson, name: str = "exercise") -> KeySchema:
    """Keys an exercise's check works under: ``<lesson prefix><name>:``, emptied first.

    A check runs the learner's code for real, against the lesson's Redis; its own prefix keeps
    that away from the lesson's keys, and emptying it first makes every run start alike.
    """
    from .lesson import clean_prefix

    keys = KeySchema(prefix=f"{lesson.keys.prefix}{name}:")
    clean_prefix(lesson.client, keys.prefix)
    return keys
