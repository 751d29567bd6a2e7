"""Lessons in a real browser: run every cell in JupyterLab, then use the widget like a learner.

Each test asserts what the package says the widget should show after a click, so a widget
that renders but no longer reaches the kernel (or shows the wrong outcome) fails here.
Widgets are found by their visible labels and button texts - what the learner reads.
"""

from __future__ import annotations

from typing import Any

from .conftest import Server, run_all_cells

#: A ticket no cell of lesson 01 reads, so its first fetch in the browser must be a MISS.
UNREAD_TICKET = "42"


def test_lesson_01_fetch_misses_then_hits(page: Any, jupyter_lab: Server) -> None:
    from playwright.sync_api import expect

    run_all_cells(page, jupyter_lab, "01_cache_aside.ipynb")
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
