"""Lessons 12-15 in a real browser: every cell runs in JupyterLab, then a learner's click.

Lesson 12's button creates a ticket and the live feed (a listener in the kernel's background
thread) shows its notification arriving; lesson 13's button is refused nothing under the Lua
limiter yet and counts the window; lesson 14's buttons drive a stream's consumer group;
lesson 15's read model lags while stopped and catches up.
"""

from __future__ import annotations

from typing import Any

from .conftest import Server, run_all_cells


def _button(page: Any, name: str) -> Any:
    return page.locator(".jp-OutputArea").get_by_role("button", name=name)


def test_lesson_12_a_click_and_its_notification_arrives_live(page: Any,
                                                             jupyter_lab: Server) -> None:
    from playwright.sync_api import expect

    run_all_cells(page, jupyter_lab, "12_pubsub.ipynb")
    feed = page.locator(".jp-OutputArea .widget-html", has_text="heard")
    # three tickets below it, the repeat lesson's one, and the two of "the app, on your pieces"
    expect(feed).to_contain_text("6 heard")
    _button(page, "Create a ticket").click()
    expect(feed).to_contain_text("7 heard")  # pushed by Redis to the listener's thread
    expect(feed).to_contain_text("ticket 2007")
    expect(page.locator(".jp-OutputArea .widget-label", has_text="created ticket 2007")
           ).to_be_visible()


def test_lesson_13_the_rate_limit_lab_counts_the_window(page: Any, jupyter_lab: Server) -> None:
    from playwright.sync_api import expect

    run_all_cells(page, jupyter_lab, "13_lua_functions.ipynb")
    table = page.locator(".jp-OutputArea .widget-html", has_text="window used")
    expect(table).to_contain_text("1 of 5")  # the cell below the widget created one
    _button(page, "Create a ticket").click()
    expect(table).to_contain_text("2 of 5")


def test_lesson_14_the_stream_lab_acks_and_recovers(page: Any, jupyter_lab: Server) -> None:
    from playwright.sync_api import expect

    run_all_cells(page, jupyter_lab, "14_streams.ipynb")
    status = page.locator(".jp-OutputArea .widget-label", has_text="XREADGROUP")
    expect(status).to_be_visible()  # the cell below the widget enqueued 3, A took 2
    _button(page, "A dies").click()
    _button(page, "B recovers").click()
    expect(page.locator(".jp-OutputArea .widget-label", has_text="B claimed 2")).to_be_visible()
    table = page.locator(".jp-OutputArea .widget-html", has_text="state")
    expect(table).to_contain_text("done (acked)")
    expect(table).to_contain_text("waiting")


def test_lesson_15_the_read_model_lags_and_catches_up(page: Any, jupyter_lab: Server) -> None:
    from playwright.sync_api import expect

    run_all_cells(page, jupyter_lab, "15_event_log.ipynb")
    view = page.locator(".jp-OutputArea .widget-html", has_text="lag:")
    expect(view).to_contain_text("lag: 0")  # the cell below the widget caught up
    _button(page, "change a ticket").click()  # the box is unticked: the model is stopped
    expect(view).to_contain_text("lag: 1")
    _button(page, "catch up").click()
    expect(view).to_contain_text("lag: 0")
    expect(page.locator(".jp-OutputArea .widget-label", has_text="catch_up applied 1")
           ).to_be_visible()
