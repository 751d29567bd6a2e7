"""Lessons in a real browser: run every cell in JupyterLab, then use the widget like a learner.

Each test asserts what the package says the widget should show after a click, so a widget
that renders but no longer reaches the kernel (or shows the wrong outcome) fails here.
Widgets are found by their visible labels and button texts - what the learner reads.
"""

from __future__ import annotations

import re
from typing import Any

from conftest import ROOT

from .conftest import Server, run_all_cells

#: A ticket no cell of lesson 01 reads, so its first fetch in the browser must be a MISS.
UNREAD_TICKET = "77"


def test_lesson_01_fetch_misses_then_hits(page: Any, jupyter_lab: Server) -> None:
    from playwright.sync_api import expect

    run_all_cells(page, jupyter_lab, "01_cache_aside.ipynb")
    _assert_plots_are_images(page)
    ticket = page.locator(".jp-OutputArea .widget-text",
                          has=page.locator(".widget-label", has_text="ticket id"))
    fetch = page.locator(".jp-OutputArea").get_by_role("button", name="get_ticket")
    forget = page.locator(".jp-OutputArea").get_by_role("button", name="invalidate")
    result = page.locator(".jp-OutputArea .widget-html", has_text="Cache")

    ticket.locator("input").fill(UNREAD_TICKET)
    ticket.locator("input").press("Enter")
    fetch.click()
    expect(result).to_contain_text("Cache MISS")
    expect(result).to_contain_text(f"#{UNREAD_TICKET}")
    fetch.click()
    expect(result).to_contain_text("Cache HIT")
    expect(result).to_contain_text(f"#{UNREAD_TICKET}")
    expect(page.locator(".jp-OutputArea .widget-label", has_text="TTL of")).to_be_visible()
    # Invalidation removes the key: the next read goes to the database again.
    forget.click()
    expect(page.locator(".jp-OutputArea .widget-label", has_text="is not in Redis")
           ).to_be_visible()
    fetch.click()
    expect(result).to_contain_text("Cache MISS")


def _verdict(page: Any) -> Any:
    return page.locator(".jp-OutputArea .widget-html", has_text="hit rate").first


def _hit_rate(page: Any) -> str:
    """The hit rate the lab's verdict reports, as shown ("19.6%": its first 'hit rate N%').

    ``text_content``, not ``inner_text``: JupyterLab renders only the cells near the view, and
    the rendered text of a cell scrolled away is empty."""
    text = _verdict(page).text_content() or ""
    found = re.search(r"hit rate (\d+(?:\.\d+)?%)", text)
    assert found, f"no hit rate in {text!r}"
    return found.group(1)


def _percent(shown: str) -> float:
    return float(shown.rstrip("%"))


def _slider(page: Any, label: str) -> Any:
    return page.locator(".jp-OutputArea .widget-slider",
                        has=page.locator(".widget-label", has_text=label))


def _simulate(page: Any, before: str) -> str:
    """Press simulate and wait until the verdict reports another hit rate than ``before``."""
    from playwright.sync_api import expect

    page.locator(".jp-OutputArea").get_by_role("button", name="simulate").click()
    expect(_verdict(page)).not_to_contain_text(f"hit rate {before}")
    return _hit_rate(page)


def test_lesson_05_memory_and_ttl_sliders_move_the_hit_rate(page: Any, jupyter_lab: Server
                                                            ) -> None:
    from playwright.sync_api import expect

    run_all_cells(page, jupyter_lab, "05_hit_rate_lab.ipynb")
    _assert_plots_are_images(page)
    # The notebook leaves the lab at uniform access with memory for 20% of the keys.
    small_memory = _hit_rate(page)
    memory = _slider(page, "memory")
    expect(memory.locator(".widget-readout")).to_have_text("20")

    memory.locator(".noUi-handle").focus()
    page.keyboard.press("End")  # no memory limit: nothing is evicted any more
    expect(memory.locator(".widget-readout")).to_have_text("100")
    unlimited = _simulate(page, small_memory)
    assert _percent(unlimited) > _percent(small_memory), "more memory must raise the hit rate"

    ttl = _slider(page, "TTL")
    ttl.locator(".noUi-handle").focus()
    page.keyboard.press("Home")  # TTL 5 s: most keys expire before they are read again
    expect(ttl.locator(".widget-readout")).to_have_text("5")
    short_ttl = _simulate(page, unlimited)
    assert _percent(short_ttl) < _percent(unlimited), "a shorter TTL must lower the hit rate"


# --- every plot is drawn, live ----------------------------------------------------------------
# nbval checks that every stored image comes back as image/png in both notebook passes
# (notebooks/conftest.py); these check what JupyterLab itself shows, for a lesson with a
# widget (01), a lab of plots (05) and one that starts servers of its own (15).
def _assert_plots_are_images(page: Any) -> None:
    """After run-all: an image is rendered, and no figure is shown as its text."""
    from playwright.sync_api import expect

    page.evaluate(_SCROLL_TO_LAST)
    expect(page.locator(".jp-OutputArea-output img").first).to_be_attached(timeout=60_000)
    assert not page.locator(".jp-OutputArea-output", has_text="<Figure size").count(), \
        "a figure rendered as text, not as an image"


def test_lesson_15_starts_its_server_runs_every_cell_and_draws(page: Any, jupyter_lab: Server
                                                               ) -> None:
    run_all_cells(page, jupyter_lab, "16_near_cache.ipynb")  # fails on any cell that raised
    _assert_plots_are_images(page)


_SCROLL_TO_LAST = """() => {
    const panel = window.jupyterapp.shell.currentWidget;
    const cells = panel.content.widgets;
    panel.content.activeCellIndex = cells.length - 1;
    return panel.content.scrollToItem(cells.length - 1);
}"""


# --- a learner solves an exercise in the real UI ----------------------------------------------
_FOCUS_CELL = """(marker) => {
    const panel = window.jupyterapp.shell.currentWidget;
    const cells = panel.content.widgets;
    const index = cells.findIndex(c => c.model.sharedModel.getSource().includes(marker));
    if (index < 0) return -1;
    panel.content.activeCellIndex = index;
    panel.content.mode = 'edit';
    return panel.content.scrollToItem(index).then(() => index);
}"""


def _solution_source(number: str) -> str:
    """The solution file's code (its docstring left out), as a learner would type it."""
    text = (ROOT / "notebooks" / "solutions" / f"lesson{number}.py").read_text()
    body = text.split('"""', 2)[2] if text.startswith('"""') else text
    return body.strip() + "\n"


def test_a_learner_types_the_lesson_00_solution_and_the_check_passes(
        page: Any, jupyter_lab: Server) -> None:
    from playwright.sync_api import expect

    run_all_cells(page, jupyter_lab, "00_start_here.ipynb")
    marker = "check_exercise(lesson, answer)"
    index = page.evaluate(_FOCUS_CELL, marker)
    assert index >= 0, "lesson 00 has no exercise cell"
    cell = page.locator(".jp-Notebook .jp-Cell").nth(index)
    expect(cell.locator(".jp-OutputArea-output")).to_contain_text("Not answered yet")
    cell.locator(".cm-content").click()
    page.keyboard.press("Control+a")
    page.keyboard.insert_text(_solution_source("00") + "\n\n" + marker + "\n")
    page.keyboard.press("Shift+Enter")
    expect(cell.locator(".jp-OutputArea-output")).to_contain_text("Right")
