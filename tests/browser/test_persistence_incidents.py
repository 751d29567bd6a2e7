"""Lessons 17 and 18 in a real browser: every cell runs in JupyterLab, then a learner's click.

Lesson 17's button crashes one more server under load (no persistence, the first choice) and
its row says every acknowledged task was lost; lesson 18's triage panel asks its server again
and names the hot key of incident 4.
"""

from __future__ import annotations

import re
from typing import Any

from .conftest import Server, run_all_cells


def _button(page: Any, name: str) -> Any:
    return page.locator(".jp-OutputArea").get_by_role("button", name=name)


def test_lesson_17_a_crash_drill_from_the_button(page: Any, jupyter_lab: Server) -> None:
    from playwright.sync_api import expect

    run_all_cells(page, jupyter_lab, "17_persistence.ipynb")
    status = page.locator(".jp-OutputArea .widget-label", has_text="Press the button")
    expect(status).to_be_visible()
    _button(page, "SIGKILL mid-load").click()
    done = page.locator(".jp-OutputArea .widget-label", has_text="after the restart")
    expect(done).to_be_visible()
    counts = re.search(r"(\d+) acknowledged, (\d+) after the restart, (\d+) lost",
                       done.inner_text())
    assert counts, done.inner_text()
    acknowledged, recovered, lost = (int(n) for n in counts.groups())
    assert recovered == 0 and lost == acknowledged > 0  # no persistence: every task gone
    table = page.locator(".jp-OutputArea .widget-html", has_text="server kept by")
    expect(table.locator("tbody tr")).to_have_count(6)  # the lesson's five, and this one


def test_lesson_18_the_triage_panel_looks_again(page: Any, jupyter_lab: Server) -> None:
    from playwright.sync_api import expect

    run_all_cells(page, jupyter_lab, "18_incidents.ipynb")
    expect(page.locator(".jp-OutputArea .widget-label", has_text="look 1")).to_be_visible()
    _button(page, "triage now").click()
    expect(page.locator(".jp-OutputArea .widget-label", has_text="look 2")).to_be_visible()
    panel = page.locator(".jp-OutputArea .widget-html", has_text="slow log")
    expect(panel).to_contain_text("allkeys-lfu")        # incident 4's policy...
    expect(panel).to_contain_text("lesson18:ticket:7")  # ...and its hot key
