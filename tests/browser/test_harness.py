"""The harness itself, on a four-line notebook: if this fails, no lesson test can pass.

It tells "the browser machinery is broken" apart from "a lesson's widget is broken", in
JupyterLab and in Voila (through ``helpdesk-kit dashboard --notebook``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import nbformat
import pytest

from .conftest import Server, run_all_cells, start_dashboard

PROBE = "harness_probe.ipynb"
PROBE_CODE = """\
import ipywidgets as w
n = w.IntSlider(value=3, min=0, max=10, description="n")
square = w.Label(value="square 9")
n.observe(lambda change: setattr(square, "value", f"square {change['new'] ** 2}"), "value")
w.VBox([n, square])
"""


def write_probe(folder: Path) -> Path:
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(PROBE_CODE)])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                       "language": "python"}
    nbformat.write(notebook, folder / PROBE)
    return folder / PROBE


def move_probe_slider(page: Any) -> None:
    """Press ArrowRight on the probe's slider: 3 -> 4, and the kernel answers 'square 16'."""
    from playwright.sync_api import expect

    slider = page.locator(".widget-slider").first
    expect(page.locator(".widget-label", has_text="square 9")).to_be_visible()
    slider.locator(".noUi-handle").focus()
    page.keyboard.press("ArrowRight")
    expect(slider.locator(".widget-readout")).to_have_text("4")
    # The label is only changed by the kernel's observer: this is the round trip.
    expect(page.locator(".widget-label", has_text="square 16")).to_be_visible()


def test_a_slider_moved_in_jupyterlab_reaches_the_kernel(page: Any, jupyter_lab: Server
                                                         ) -> None:
    write_probe(jupyter_lab.root)
    run_all_cells(page, jupyter_lab, PROBE)
    move_probe_slider(page)


def test_the_dashboard_command_serves_a_live_notebook(page: Any, tmp_path: Path,
                                                      request: pytest.FixtureRequest) -> None:
    server = start_dashboard(tmp_path / "home", write_probe(tmp_path))
    request.addfinalizer(server.stop)
    try:
        page.goto(server.url + "/")
        move_probe_slider(page)
    except Exception:
        server.keep_log("voila-probe")
        raise
