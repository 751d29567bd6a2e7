"""The stored notebooks, as a learner and as nbval read them: every rule checked on every one.

These run over each ``notebooks/*.ipynb`` that exists - lessons 00-15 and the instructor's
dashboard - so a lesson written later is held to the same rules the day it is added:

* every figure is an image (a bare matplotlib ``Figure`` stores only ``<Figure size ...>``);
* no output shows a machine's paths (``/root/``, ``/home/<you>/``, ``/tmp/``);
* the test machinery stays out of sight: no "nbval" in the prose, markers are cell tags, and
  quiz answers live in the package, not in a cell's ``why=``;
* a cell whose output nbval ignores is followed by a code cell that *asserts* - an ``assert``
  statement or a ``check...(...)`` call, found by parsing the cell, not by searching a word;
* each lesson has one coding exercise, stored unanswered, with a folded hint and a solution.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path
from typing import Any

import pytest

from helpdesk_kit.lessons import LESSONS

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
ALL = sorted(NOTEBOOKS.glob("*.ipynb"))
LESSON_STEMS = {stem for stem, _ in LESSONS}
STORED_LESSONS = [p for p in ALL if p.stem in LESSON_STEMS]
#: Lessons 00-09: the single-server course, which also carries the reader's header.
FIRST_TEN = [p for p in STORED_LESSONS if p.stem[:2] <= "09"]
MACHINE_PATHS = re.compile(r"/root/|/home/|/tmp/")
EXERCISE_IMPORT = re.compile(
    r"^from helpdesk_kit\.lessons\.exercises\.lesson(\d\d) import (.*)$", re.M)


def _cells(path: Path) -> list[dict[str, Any]]:
    return json.loads(path.read_text())["cells"]


def _text(cell: dict[str, Any]) -> str:
    source = cell["source"]
    return source if isinstance(source, str) else "".join(source)


def _tags(cell: dict[str, Any]) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


def _output_texts(output: dict[str, Any]) -> list[str]:
    """Every piece of text an output holds (stream, text/plain, text/html, a traceback)."""
    texts = []
    if "text" in output:
        texts.append("".join(output["text"]) if isinstance(output["text"], list)
                     else output["text"])
    for mime, value in output.get("data", {}).items():
        if mime.startswith("text/") or mime.endswith("json"):
            texts.append(value if isinstance(value, str) else json.dumps(value))
    texts += output.get("traceback", [])
    return texts


def _parse(source: str) -> ast.Module:
    """A code cell as Python: IPython's ``%magic`` and ``!shell`` lines are left out."""
    lines = [line for line in source.splitlines() if not line.lstrip().startswith(("%", "!"))]
    return ast.parse("\n".join(lines))


def asserts_something(source: str) -> bool:
    """Does the cell hold an ``assert`` statement, or call a ``check...`` function?"""
    for node in ast.walk(_parse(source)):
        if isinstance(node, ast.Assert):
            return True
        if isinstance(node, ast.Call):
            name = getattr(node.func, "id", None) or getattr(node.func, "attr", "")
            if name.startswith("check"):
                return True
    return False


def ids(paths: list[Path]) -> list[str]:
    return [p.stem for p in paths]


# --- what the outputs show ------------------------------------------------------------------
@pytest.mark.parametrize("path", ALL, ids=ids(ALL))
def test_every_figure_is_an_image(path: Path) -> None:
    for cell in _cells(path):
        for output in cell.get("outputs", []):
            plain = output.get("data", {}).get("text/plain", "")
            plain = "".join(plain) if isinstance(plain, list) else plain
            if plain.startswith("<Figure"):
                assert "image/png" in output["data"], \
                    f"a figure stored as text only (wrap it: picture(fig)): {_text(cell)[:80]}"


@pytest.mark.parametrize("path", ALL, ids=ids(ALL))
def test_no_output_shows_a_machine_path(path: Path) -> None:
    for cell in _cells(path):
        for output in cell.get("outputs", []):
            for text in _output_texts(output):
                found = MACHINE_PATHS.search(text)
                assert not found, f"{found.group(0)} in the output of: {_text(cell)[:80]}"


# --- test machinery out of sight --------------------------------------------------------------
@pytest.mark.parametrize("path", ALL, ids=ids(ALL))
def test_the_prose_never_mentions_nbval(path: Path) -> None:
    for cell in _cells(path):
        if cell["cell_type"] == "markdown":
            assert "nbval" not in _text(cell).lower(), _text(cell)[:120]


@pytest.mark.parametrize("path", ALL, ids=ids(ALL))
def test_markers_are_tags_not_comments(path: Path) -> None:
    for cell in _cells(path):
        if cell["cell_type"] == "code":
            assert "NBVAL_" not in _text(cell), f"use a cell tag: {_text(cell)[:80]}"


@pytest.mark.parametrize("path", ALL, ids=ids(ALL))
def test_quiz_answers_live_in_the_package(path: Path) -> None:
    """A ``check(answer, expected, why=...)`` in a cell shows the answer to whoever reads it."""
    for cell in _cells(path):
        if cell["cell_type"] == "code":
            assert "why=" not in _text(cell), f"answers go in the package: {_text(cell)[:80]}"


def _checked(cell: dict[str, Any]) -> bool:
    """A cell whose run is checked: it asserts, or it prints a fact that is compared (its
    output is not ignored and not empty: strict nbval fails if the fact changes)."""
    if asserts_something(_text(cell)):
        return True
    return "nbval-ignore-output" not in _tags(cell) and bool(cell.get("outputs"))


@pytest.mark.parametrize("path", ALL, ids=ids(ALL))
def test_an_ignored_output_is_followed_by_a_checked_cell(path: Path) -> None:
    code = [c for c in _cells(path) if c["cell_type"] == "code"]
    for i, cell in enumerate(code):
        if "nbval-ignore-output" not in _tags(cell):
            continue
        assert i + 1 < len(code), f"the last cell's output is ignored: {_text(cell)[:80]}"
        assert _checked(code[i + 1]), \
            f"the cell after this ignored one should check what matters: {_text(cell)[:80]}"


@pytest.mark.parametrize("path", ALL, ids=ids(ALL))
def test_ci_only_cells_assert_and_are_folded(path: Path) -> None:
    for cell in _cells(path):
        if "ci-only" in _tags(cell):
            assert asserts_something(_text(cell)), _text(cell)[:80]
            assert cell["metadata"].get("jupyter", {}).get("source_hidden") is True


def test_the_asserting_cell_rule_is_parsed_not_searched() -> None:
    assert asserts_something("x = 1\nassert x == 1")
    assert asserts_something("check(lesson, answer)")
    assert asserts_something("from m import check_quiz\ncheck_quiz(answer)")
    assert not asserts_something("# assert nothing here\nprint('assert')")
    assert not asserts_something("asserted = True")


# --- the coding exercise ----------------------------------------------------------------------
def _exercise_cells(path: Path) -> list[tuple[int, dict[str, Any]]]:
    """(index, cell) of the cells that import the lesson's exercise ``check``."""
    found = []
    for i, cell in enumerate(_cells(path)):
        for number, names in EXERCISE_IMPORT.findall(_text(cell)):
            assert number == path.stem[:2], f"{path.name} imports lesson {number}'s exercise"
            if re.search(r"\bcheck\b(?!_)", names):
                found.append((i, cell))
    return found


@pytest.mark.parametrize("path", STORED_LESSONS, ids=ids(STORED_LESSONS))
def test_one_coding_exercise_stored_unanswered_with_a_hint_and_a_solution(path: Path) -> None:
    exercises = _exercise_cells(path)
    assert len(exercises) == 1, "one coding exercise per lesson"
    index, cell = exercises[0]
    stored = "".join(t for o in cell.get("outputs", []) for t in _output_texts(o))
    assert "Not answered yet" in stored, "stored unanswered: the learner writes the answer"
    following = _cells(path)[index + 1]
    assert following["cell_type"] == "markdown"
    assert "<details><summary>Hint</summary>" in _text(following), "a folded hint after it"
    assert (NOTEBOOKS / "solutions" / f"lesson{path.stem[:2]}.py").exists(), "its solution"


@pytest.mark.parametrize("path", FIRST_TEN, ids=ids(FIRST_TEN))
def test_each_lesson_says_how_long_what_it_needs_and_links_its_commands(path: Path) -> None:
    title = next(_text(c) for c in _cells(path) if _text(c).startswith("# "))
    assert "**Time:**" in title and "**Before you start:**" in title
    assert "https://redis.io/docs/latest/" in title, "links to the commands it introduces"
