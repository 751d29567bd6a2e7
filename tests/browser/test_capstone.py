"""Lesson 19 in a real browser: every cell runs, then a learner types the reference solution
into the first empty cell, runs the check again, and presses the board's button.

Stored, the check says "Not answered yet"; typed in, the same cell says every part held - with
drill 2's worker killed in a process of its own on the lesson's private redis-server - and the
board checks drill 1 on the functions the learner just defined.
"""

from __future__ import annotations

from typing import Any

from .conftest import Server, run_all_cells
from .test_lessons import _FOCUS_CELL, _solution_source


def _run_cell(page: Any, marker: str, text: str | None = None) -> Any:
    """Focus the cell holding ``marker``, replace its text if given, run it; the cell."""
    index = page.evaluate(_FOCUS_CELL, marker)
    assert index >= 0, f"no cell holds {marker!r}"
    cell = page.locator(".jp-Notebook .jp-Cell").nth(index)
    cell.locator(".cm-content").click()
    if text is not None:
        page.keyboard.press("Control+a")
        page.keyboard.insert_text(text)
    page.keyboard.press("Shift+Enter")
    return cell


def test_lesson_19_a_learner_builds_it_and_the_kit_checks_it(page: Any, jupyter_lab: Server
                                                              ) -> None:
    from playwright.sync_api import expect

    run_all_cells(page, jupyter_lab, "19_capstone.ipynb")
    check_marker = "from helpdesk_kit.lessons.exercises.lesson19 import check\n"
    index = page.evaluate(_FOCUS_CELL, check_marker)
    checked = page.locator(".jp-Notebook .jp-Cell").nth(index)
    expect(checked.locator(".jp-OutputArea-output")).to_contain_text("Not answered yet")
    _run_cell(page, "# part 1: your code", _solution_source("19"))
    checked = _run_cell(page, check_marker)
    output = checked.locator(".jp-OutputArea-output")
    expect(output).to_contain_text("Right: all 11 part(s) checked held")
    expect(output).to_contain_text("none lost")       # drill 2, a real SIGKILL
    expect(output).to_contain_text("refused the late write")  # drill 1, the kit beside
    # The board: drill 1 chosen, pressed. Its first check was the stored cell's
    # board.run("race") (nothing built then), so this press is check 2.
    board = page.locator(".jp-OutputArea", has=page.locator(".widget-dropdown"))
    board.locator("select").select_option(label="drill 1: a stale-read race")
    board.get_by_role("button", name="check it").click()
    status = page.locator(".jp-OutputArea .widget-label", has_text="check 2:").first
    expect(status).to_contain_text("Right")
