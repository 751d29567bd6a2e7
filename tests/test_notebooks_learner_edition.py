"""scripts/learner-edition: the learner's clean copy of the lessons, and that it stays theirs.

The copy (``make lessons``, ``make start``) has no outputs, no ``ci-only`` cells and no
solutions; a rerun adds what is missing and refreshes untouched copies, but never overwrites a
notebook the learner edited; ``--reset`` moves their copies aside instead of deleting them.
The folder is git-ignored, so ruff, pytest and git never look at a learner's edits.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import shutil
import subprocess
from pathlib import Path
from types import ModuleType

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"


def _script() -> ModuleType:
    path = ROOT / "scripts" / "learner-edition"
    loader = importlib.machinery.SourceFileLoader("learner_edition", str(path))
    spec = importlib.util.spec_from_loader("learner_edition", loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


edition = _script()


def test_the_copy_is_clean(tmp_path: Path) -> None:
    dest = tmp_path / "my-lessons"
    assert edition.main(["--dest", str(dest)]) == 0
    stored = sorted(p.name for p in NOTEBOOKS.glob("*.ipynb"))
    assert sorted(p.name for p in dest.glob("*.ipynb")) == stored
    assert (dest / "README.md").exists() and not (dest / "solutions").exists()
    assert (dest / "GLOSSARY.md").exists()  # the lessons link to it
    for path in dest.glob("*.ipynb"):
        notebook = nbformat.read(path, as_version=4)
        nbformat.validate(notebook)
        assert "widgets" not in notebook.metadata
        for cell in notebook.cells:
            tags = cell.metadata.get("tags", [])
            assert "ci-only" not in tags and "nbval-ignore-output" not in tags
            assert "execution" not in cell.metadata
            if cell.cell_type == "code":
                assert cell.outputs == [] and cell.execution_count is None


def test_ci_only_cells_are_dropped_and_teaching_cells_kept(tmp_path: Path) -> None:
    source = NOTEBOOKS / "02_keys_ttl_serialisation.ipynb"
    stored = nbformat.read(source, as_version=4)
    ci_only = [c for c in stored.cells if "ci-only" in c.metadata.get("tags", [])]
    assert ci_only, "lesson 02 has a CI-only check (the key inspector's)"
    clean = edition.clean(stored)
    assert len(clean.cells) == len(stored.cells) - len(ci_only)
    assert stored.cells[-1].source == clean.cells[-1].source


def _copy_source(tmp_path: Path) -> Path:
    source = tmp_path / "notebooks"
    source.mkdir()
    for name in ("00_start_here.ipynb", "01_cache_aside.ipynb", "README.md"):
        shutil.copy(NOTEBOOKS / name, source / name)
    return source


def _edit_first_code_cell(path: Path, text: str) -> None:
    notebook = nbformat.read(path, as_version=4)
    next(c for c in notebook.cells if c.cell_type == "code").source += f"\n{text}"
    nbformat.write(notebook, path)


def test_a_rerun_keeps_the_learners_edits_and_refreshes_untouched_copies(tmp_path: Path
                                                                        ) -> None:
    source, dest = _copy_source(tmp_path), tmp_path / "mine"
    edition.build(source, dest)
    _edit_first_code_cell(dest / "00_start_here.ipynb", "# my note")
    (dest / "01_cache_aside.ipynb").unlink()  # deleted by the learner: copied again
    _edit_first_code_cell(source / "00_start_here.ipynb", "# a new edition")
    report = edition.build(source, dest)
    assert report["kept (yours)"] == ["00_start_here.ipynb"]
    assert report["new"] == ["01_cache_aside.ipynb"]
    assert "# my note" in (dest / "00_start_here.ipynb").read_text()
    # an untouched copy follows the stored lesson when it changes
    _edit_first_code_cell(source / "01_cache_aside.ipynb", "# fixed upstream")
    assert edition.build(source, dest)["updated"] == ["01_cache_aside.ipynb"]
    assert "# fixed upstream" in (dest / "01_cache_aside.ipynb").read_text()


def test_reset_moves_the_learners_copies_aside_and_starts_fresh(tmp_path: Path) -> None:
    source, dest = _copy_source(tmp_path), tmp_path / "mine"
    edition.build(source, dest)
    _edit_first_code_cell(dest / "00_start_here.ipynb", "# my note")
    report = edition.build(source, dest, reset=True)
    assert len(report["moved aside"]) == 3 and sorted(report["new"]) == sorted(
        ["00_start_here.ipynb", "01_cache_aside.ipynb", "README.md"])
    assert "# my note" not in (dest / "00_start_here.ipynb").read_text()
    kept = list((dest / ".previous").glob("*/00_start_here.ipynb"))
    assert len(kept) == 1 and "# my note" in kept[0].read_text()


def test_the_learners_helpdesk_survives_a_rerun_and_a_reset_moves_it_aside(tmp_path: Path
                                                                          ) -> None:
    source, dest = _copy_source(tmp_path), tmp_path / "mine"
    edition.build(source, dest)
    (dest / "my_helpdesk.py").write_text("def cache_user(client, keys, user_id, data): ...\n")
    edition.build(source, dest)
    assert "cache_user" in (dest / "my_helpdesk.py").read_text()
    report = edition.build(source, dest, reset=True)
    assert any(line.startswith("my_helpdesk.py") for line in report["moved aside"])
    assert not (dest / "my_helpdesk.py").exists()
    assert len(list((dest / ".previous").glob("*/my_helpdesk.py"))) == 1


def test_it_refuses_to_write_over_the_stored_lessons(tmp_path: Path) -> None:
    source = _copy_source(tmp_path)
    before = (source / "00_start_here.ipynb").read_text()
    assert edition.main(["--source", str(source), "--dest", str(source)]) == 2
    assert (source / "00_start_here.ipynb").read_text() == before


def test_the_copy_is_git_ignored_so_linters_and_tests_never_see_it() -> None:
    assert "my-lessons/" in (ROOT / ".gitignore").read_text().splitlines()
    if shutil.which("git") and (ROOT / ".git").exists():
        ignored = subprocess.run(["git", "check-ignore", "-q", "my-lessons/00_start_here.ipynb"],
                                 cwd=ROOT, check=False)
        assert ignored.returncode == 0


@pytest.mark.parametrize("target", ["start", "lessons"])
def test_make_start_opens_the_copy_and_lessons_builds_it(target: str) -> None:
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    plan = subprocess.run(["make", "-n", target], cwd=ROOT, capture_output=True, text=True,
                          check=True).stdout
    assert "scripts/learner-edition --dest my-lessons" in plan
    if target == "start":
        assert "--ServerApp.root_dir=my-lessons" in plan
        assert "root_dir=notebooks" not in plan  # never the stored lessons nbval tests
