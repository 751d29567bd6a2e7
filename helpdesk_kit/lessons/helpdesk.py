"""The learner's own helpdesk: pieces checked, kept in ``my_helpdesk.py``, and run by the app.

Two moments in a lesson use it:

* the **exercise**: ``check(lesson, cache_user, get_cached_user, invalidate_user)`` runs the
  lesson's conformance check on the functions just written (:func:`check_pieces`). A wrong
  piece gets the step that broke and why; a passing one is kept in the workbook
  (:mod:`.workbook`);
* the **app on your pieces**: ``mine = lesson.my_helpdesk()`` loads the workbook, checks
  every piece again, and says for each piece whose function will run - yours, or the kit's
  reference (not written yet, or failing now); ``lesson.make_app(pieces=mine)`` builds the
  app on them (:mod:`.assembly`). A stored notebook, whose exercises are unanswered, runs on
  the kit's pieces - the same output on every machine.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .checks import CheckResult, is_unanswered, not_answered, right, sandbox, wrong
from .conformance import KIT, PIECES, ConformanceError, Workspace, lessons_with_pieces, verify
from .conformance.pieces import Piece, pieces_of
from .output import Table, capture_logs
from .workbook import Workbook, WorkbookError

if TYPE_CHECKING:  # the lesson builds a Helpdesk; this module only reads it
    from .lesson import Lesson

__all__ = ["Choice", "Helpdesk", "check_pieces", "load_helpdesk"]


@dataclass(frozen=True)
class Choice:
    """Which function does one piece: ``yours`` (from the workbook) or the kit's."""

    piece: Piece
    function: Callable[..., Any]
    yours: bool
    why: str


class Helpdesk:
    """The pieces the app will run, lesson by lesson: yours where they pass, else the kit's.

    ``helpdesk.cache_user`` is the function chosen for that piece; ``mine`` the learner's.
    """

    def __init__(self, choices: list[Choice], source: str) -> None:
        self.choices = {choice.piece.name: choice for choice in choices}
        self.source = source

    @property
    def mine(self) -> dict[str, Callable[..., Any]]:
        """The learner's pieces only (what :class:`.assembly.PieceCache` plugs in)."""
        return {name: c.function for name, c in self.choices.items() if c.yours}

    def __getattr__(self, name: str) -> Callable[..., Any]:
        choices = self.__dict__.get("choices", {})
        if name in choices:
            return choices[name].function
        raise AttributeError(name)

    def table(self) -> Table:
        rows = []
        for lesson in dict.fromkeys(c.piece.lesson for c in self.choices.values()):
            group = [c for c in self.choices.values() if c.piece.lesson == lesson]
            whose = "yours" if group[0].yours else "the kit's reference"
            rows.append((lesson, ", ".join(c.piece.name for c in group), whose, group[0].why))
        return Table(("lesson", "pieces", "the app runs", "why"), rows,
                     caption=f"Your helpdesk ({self.source})")

    def __repr__(self) -> str:
        return repr(self.table())

    def _repr_html_(self) -> str:
        return self.table()._repr_html_()


def _workspace(lesson: Lesson, name: str) -> Workspace:
    return Workspace(lesson.client, sandbox(lesson, name), lesson.store)


def _recheck(lesson: Lesson, number: str, pieces: dict[str, Callable[..., Any]]) -> str | None:
    """Run lesson ``number``'s check on ``pieces`` in a sandbox: None if they pass, else why."""
    try:
        with capture_logs():
            verify(number, pieces, _workspace(lesson, "workbook"))
    except ConformanceError as exc:
        return str(exc)
    finally:
        sandbox(lesson, "workbook")
    return None


def load_helpdesk(lesson: Lesson, workbook: Workbook | None = None) -> Helpdesk:
    """The pieces of the lessons up to this one, each group checked again before it is used."""
    book = workbook or Workbook()
    written: dict[str, Callable[..., Any]] = {}
    trouble = ""
    try:
        written = book.load()
    except WorkbookError as exc:
        trouble = str(exc)
    choices: list[Choice] = []
    yours: dict[str, Callable[..., Any]] = {}
    for number in lessons_with_pieces(up_to=lesson.number):
        group = pieces_of(number)
        theirs = {p.name: written[p.name] for p in group if p.name in written}
        why = trouble or "not written yet"
        if len(theirs) == len(group):
            failure = _recheck(lesson, number, {**yours, **theirs})
            if failure is None:
                yours.update(theirs)
                choices += [Choice(p, theirs[p.name], True, "they pass the checks")
                            for p in group]
                continue
            why = f"yours fail now: {failure}"
        choices += [Choice(p, KIT[p.name], False, why) for p in group]
    return Helpdesk(choices, book.path.name)


def check_pieces(lesson: Lesson, number: str, functions: tuple[Any, ...], why: str
                 ) -> CheckResult:
    """Lesson ``number``'s exercise: check the learner's pieces; keep them if they pass.

    ``functions`` are the pieces in the template's order. The check runs on them plus the
    learner's earlier pieces from the workbook (lesson 04 reads back with lesson 01's
    ``get_cached_user``) - or the kit's, where those are missing.
    """
    group = pieces_of(number)
    if is_unanswered(functions):
        return not_answered()
    if len(functions) != len(group):
        return wrong(f"check takes the lesson and your {len(group)} function(s), in this "
                     f"order: {', '.join(p.name for p in group)}.")
    for piece, function in zip(group, functions, strict=True):
        if is_unanswered(function):
            return not_answered(f"{piece.name} is still only `...`.")
    given = {piece.name: function for piece, function in zip(group, functions, strict=True)}
    book = Workbook()
    earlier = load_helpdesk(lesson, book).mine
    failure = _recheck(lesson, number, {**earlier, **given})
    if failure is not None:
        kept = (f" ({book.path.name} still has your last version that passed.)"
                if number in book.sections() else "")
        return wrong(failure + kept)
    return right(why + " " + _keep(lesson, book, number, given, earlier))


def _keep(lesson: Lesson, book: Workbook, number: str, given: dict[str, Callable[..., Any]],
          earlier: dict[str, Callable[..., Any]]) -> str:
    """Save the pieces, load them back from the file and check them again; say what became
    of them (a piece that cannot run on its own from the file is not kept)."""
    others = frozenset(piece.name for piece in PIECES)
    try:
        previous = book.save(number, given, defined=others)
    except WorkbookError as exc:
        return f"Not kept in {book.path.name}: {exc}."
    try:
        loaded = book.load()
        reloaded = {name: loaded[name] for name in given}
    except (WorkbookError, KeyError) as exc:
        book.restore(number, previous)
        return f"Not kept in {book.path.name}: it does not run from there ({exc})."
    failure = _recheck(lesson, number, {**earlier, **reloaded})
    if failure is not None:
        book.restore(number, previous)
        return f"Not kept in {book.path.name}: from there it fails ({failure})."
    return f"Kept in {book.path.name}: the app runs on it from now on."
