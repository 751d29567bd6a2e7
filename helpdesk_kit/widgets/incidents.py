"""Lesson 18: the triage panel - a first look at a slow or full Redis, at the press of a button.

:func:`triage_tables` turns a :class:`~helpdesk_kit.lab.triage.Triage` into small tables;
:class:`TriagePanel` asks the server again each time its button is pressed, so a learner can
stage an incident, press, and read what a responder would read first.
"""

from __future__ import annotations

import redis

from ..lab.triage import Triage, triage
from ..lessons import Table
from . import Shown

__all__ = ["TriagePanel", "triage_tables"]


def triage_tables(report: Triage) -> list[Table]:
    """One table per question (and one for the questions Redis refused, if any)."""
    if report.hottest is not None:
        hot = [(key, str(freq)) for key, freq in report.hottest]
    else:
        hot = [("(the policy is not an LFU one: Redis counts no accesses)", "")]
    tables = [
        Table(("command", "ran for"), [(c, f"{ms:.1f} ms") for c, ms in report.slow],
              caption="slow log (SLOWLOG GET)"),
        Table(("event", "latest", "max"),
              [(event, f"{latest} ms", f"{worst} ms") for event, latest, worst in report.spikes],
              caption="latency spikes (LATENCY LATEST)"),
        Table(("field", "value"), sorted(report.memory.items()),
              caption="memory (INFO memory, INFO errorstats)"),
        Table(("key", "bytes"), [(key, f"{size:,}") for key, size in report.biggest],
              caption="biggest keys of the sample (MEMORY USAGE)"),
        Table(("key", "OBJECT FREQ"), hot, caption="hottest keys of the sample"),
    ]
    if report.refused:
        tables.append(Table(("question", "refused"), sorted(report.refused.items())))
    return tables


class TriagePanel(Shown):
    """A button that runs :func:`~helpdesk_kit.lab.triage.triage` and shows its tables."""

    def __init__(self, client: redis.Redis | None, match: str = "*") -> None:
        """``client`` None (fakeredis, or no private server here): shown, but disabled."""
        import ipywidgets as w

        self.client = client
        self.match = match
        self.presses = 0
        self.button = w.Button(description="triage now", icon="stethoscope",
                               disabled=client is None)
        self.status = w.Label("Press: the slow log, latency spikes, memory, big and hot keys."
                              if client is not None else
                              "No private redis-server here: nothing to look at.")
        self.tables = w.HTML("")
        self.button.on_click(lambda _b: self.look())
        self.widget = w.VBox([w.HBox([self.button, self.status]), self.tables])

    def look(self) -> Triage:
        """Ask the server now; the tables replace the previous ones."""
        if self.client is None:
            raise RuntimeError("no private redis-server here: nothing to look at")
        report = triage(self.client, match=self.match)
        self.presses += 1
        self.status.value = f"look {self.presses}: what the server says now"
        self.tables.value = "<br/>".join(table._repr_html_() for table in triage_tables(report))
        return report
