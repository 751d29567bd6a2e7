"""The harness itself, on a four-line notebook: if this fails, no lesson test can pass.

It tells "the browser machinery is broken" apart from "a lesson's widget is broken".
"""

from __future__ import annotations

from typing import Any

import nbformat
import pytest

from .conftest import Server, run_all_cells

PROBE = "harness_probe.ipynb"
PROBE_CODE = """\
import ipywidgets as w
n = w.IntSlider(value=3, min=0, max=10, description="n")
square = w.Label(value="square 9")
n.observe(lambda change: setattr(square, "value", f"square {change['new'] ** 2}"), "value")
w.VBox([n, square])
"""


@pytest.fixture
def probe_notebook(jupyter_lab: Server) -> str:
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(PROBE_CODE)])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                       "language": "python"}
    nbformat.write(notebook, jupyter_lab.root / PROBE)
    return PROBE


def test_a_slider_moved_in_the_browser_reaches_the_kernel(
        page: Any, jupyter_lab: Server, probe_notebook: str) -> None:
    from playwright.sync_api import expect

    run_all_cells(page, jupyter_lab, probe_notebook)
    slider = page.locator(".jp-OutputArea .widget-slider").first
    expect(page.locator(".widget-label", has_text="square 9")).to_be_visible()
    slider.locator(".noUi-handle").focus()
    page.keyboard.press("ArrowRight")
    expect(slider.locator(".widget-readout")).to_have_text("4")
    # The label is only changed by the kernel's observer: this is the round trip.
    expect(page.locator(".widget-label", has_text="square 16")).to_be_visible()
