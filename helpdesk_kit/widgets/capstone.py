"""Lesson 19: the capstone's board - check one part (or everything) at the press of a button.

The learner builds the checklist part by part; the board runs the kit's check on the part
chosen (:func:`~helpdesk_kit.lessons.capstone.run_capstone` with ``only=``) and shows its
report, so a part can be tried the moment its cell runs. The namespace is the notebook's
``globals()``, read at each press: a function defined after the board was shown counts.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..lessons import Lesson
from ..lessons.capstone import DRILLS, PARTS, Report, run_capstone
from . import Shown

__all__ = ["CapstoneBoard"]

#: The dropdown's choices: everything, or one part or drill by its key.
EVERYTHING = "everything"


class CapstoneBoard(Shown):
    """A dropdown of the checklist's parts and a button that checks the one chosen."""

    def __init__(self, lesson: Lesson, namespace: Mapping[str, Any]) -> None:
        import ipywidgets as w

        self.lesson = lesson
        self.namespace = namespace
        self.presses = 0
        options = [(EVERYTHING, EVERYTHING)] + [(p.label, p.key) for p in PARTS + DRILLS]
        self.choice = w.Dropdown(options=options, value=EVERYTHING, description="check")
        self.button = w.Button(description="check it", icon="check")
        self.status = w.Label("Choose a part (or everything) and press the button.")
        self.view = w.HTML("")
        self.button.on_click(lambda _b: self.run(self.choice.value))
        self.widget = w.VBox([w.HBox([self.choice, self.button]), self.status, self.view])

    def run(self, key: str = EVERYTHING) -> Report:
        """Check part ``key`` (``"race"``...) or everything; the board shows the report."""
        only = () if key == EVERYTHING else (key,)
        report = run_capstone(self.lesson, self.namespace, only=only)
        self.presses += 1
        self.status.value = f"check {self.presses}: {report.message}"
        self.view.value = report._repr_html_()
        return report
