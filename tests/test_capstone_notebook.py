"""The stored capstone, run end to end with the reference solution typed into it.

The stored lesson is unanswered: its check prints "not built yet", so nbval alone never runs
the drills or the board on real code. Here a kernel runs the whole notebook with the reference
solution (``notebooks/solutions/lesson19.py``) in the first of the checklist's cells, as a
learner would have it, on the session's real redis-server and on fakeredis: every cell runs
without an error, the check says every part held (drill 2 skipped on fakeredis), and the board
checks a part on the same functions.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient
from test_solutions import SOLUTIONS

NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "19_capstone.ipynb"


def solution_source() -> str:
    """The solution file as a learner would type it: no docstring, no ``answer`` line."""
    text = (SOLUTIONS / "lesson19.py").read_text()
    body = text.split('"""', 2)[2] if text.startswith('"""') else text
    lines = [line for line in body.splitlines()
             if not line.startswith(("answer = ", "# What the notebook's check cell"))]
    return "\n".join(lines).strip() + "\n"


def _text(cell: Any) -> str:
    return "".join(output.get("text", "") + str(output.get("data", {}).get("text/plain", ""))
                   for output in cell.get("outputs", []))


@pytest.fixture(params=["real", "fake"])
def kernel_env(request: pytest.FixtureRequest, tmp_path: Path,
               monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The environment the kernel starts with: the session's server, or fakeredis."""
    monkeypatch.setenv("HELPDESK_DATA_DIR", str(tmp_path / "data"))
    if request.param == "real":
        server = request.getfixturevalue("redis_server")
        monkeypatch.setenv("REDIS_URL", server.url)
        monkeypatch.setenv("HELPDESK_REDIS_BACKEND", "url")
    else:
        monkeypatch.delenv("REDIS_URL", raising=False)
        monkeypatch.setenv("HELPDESK_REDIS_BACKEND", "fake")
    yield request.param


def test_the_capstone_runs_with_the_solution_filled_in(kernel_env: str, tmp_path: Path) -> None:
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    first = next(c for c in notebook.cells if c.source.startswith("# part 1:"))
    first.source = solution_source()
    NotebookClient(notebook, timeout=120, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    errors = [c.source[:60] for c in notebook.cells if c.cell_type == "code"
              and any(o.output_type == "error" for o in c.get("outputs", []))]
    assert not errors, errors
    checked = next(c for c in notebook.cells if "check(lesson, globals())" in c.source)
    report = _text(checked)
    assert report.startswith("✅ Right"), report[:3000]
    assert "not built yet" not in report and "broke" not in report
    drill = "skipped on fakeredis" if kernel_env == "fake" else "none lost"
    assert drill in report, report[-2000:]
    board = next(c for c in notebook.cells if 'board.run("race")' in c.source)
    assert "drill 1: a stale-read race -> held" in _text(board)
