"""Lesson 17: the crash drills as a table, a figure, and a button that runs one more.

:func:`crash_table` and :func:`crash_figure` show :class:`~helpdesk_kit.lab.persistence.CrashRun`
results side by side: what the producer was told, what the restarted server had, and what each
push cost. :class:`CrashLab` is the widget: pick how the server keeps its data, press the
button, and one more drill (a fresh server, SIGKILL mid-load, a restart) adds its row.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from ..backends.launch_persistent import PersistentServers
from ..lab.persistence import CrashRun, crash_under_load
from ..lessons import Table, fmt_seconds
from ..vocab import FsyncPolicy, Persistence
from . import Shown

__all__ = ["CHOICES", "CrashLab", "crash_figure", "crash_table"]

#: What the widget offers: a label, and how the drill's server keeps its data.
CHOICES: dict[str, tuple[Persistence, FsyncPolicy]] = {
    "no persistence": (Persistence.NONE, FsyncPolicy.EVERYSEC),
    "RDB (a BGSAVE at the first third)": (Persistence.RDB, FsyncPolicy.EVERYSEC),
    "AOF, appendfsync no": (Persistence.AOF, FsyncPolicy.NO),
    "AOF, appendfsync everysec": (Persistence.AOF, FsyncPolicy.EVERYSEC),
    "AOF, appendfsync always": (Persistence.AOF, FsyncPolicy.ALWAYS),
}
HEADERS = ("server kept by", "acknowledged", "after the restart", "lost", "kept, never acked",
           "median push", "push cost vs no persistence")


def crash_table(runs: Sequence[CrashRun]) -> Table:
    """One row per drill; push costs as a ratio to the first run without persistence (if
    there is one among ``runs``: the baseline is always measured in the same session)."""
    baseline = next((run.median_push_s for run in runs if run.label == Persistence.NONE), None)
    rows = []
    for run in runs:
        ratio = "" if baseline is None else f"{run.median_push_s / baseline:.1f}x"
        rows.append((run.label, len(run.acknowledged), len(run.recovered), run.lost,
                     run.unacknowledged_kept, fmt_seconds(run.median_push_s), ratio))
    return Table(HEADERS, rows, caption="SIGKILL in the middle of the enqueues, then a restart")


def crash_figure(runs: Sequence[CrashRun]) -> Any:
    """Two panels: acknowledged tasks kept and lost per drill; the median push, per drill."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(9, 3.4), layout="constrained")
    tasks, cost = figure.subplots(1, 2)
    labels = [run.label.replace(", appendfsync ", "\n") for run in runs]
    kept = [len(run.acknowledged) - run.lost for run in runs]
    lost = [run.lost for run in runs]
    tasks.bar(labels, kept, color="tab:green", label="acknowledged, kept")
    tasks.bar(labels, lost, bottom=kept, color="tab:red", label="acknowledged, lost")
    tasks.set_ylabel("tasks")
    tasks.set_title("after SIGKILL and a restart")
    tasks.legend(fontsize=8, loc="lower right")
    micros = [run.median_push_s * 1e6 for run in runs]
    cost.bar(labels, [0 if math.isnan(m) else m for m in micros], color="tab:blue")
    cost.set_ylabel("µs per push (median)")
    cost.set_title("what each push cost the producer")
    for axes in (tasks, cost):
        axes.tick_params(axis="x", labelsize=8)
    return figure


class CrashLab(Shown):
    """Choose how the server keeps its data, press, and a drill adds its row to the table."""

    def __init__(self, servers: PersistentServers | None, runs: Sequence[CrashRun] = ()
                 ) -> None:
        """``servers`` None (fakeredis, or no redis-server here): shown, but disabled."""
        import ipywidgets as w

        self.servers = servers
        self.runs: list[CrashRun] = list(runs)
        self.choice = w.Dropdown(options=list(CHOICES), description="keep data by",
                                 style={"description_width": "initial"})
        self.pushes = w.IntSlider(value=300, min=60, max=1500, step=60,
                                  description="pushes before the kill",
                                  style={"description_width": "initial"})
        self.button = w.Button(description="SIGKILL mid-load", icon="bolt",
                               button_style="danger")
        self.status = w.Label("Press the button: a fresh server, the helpdesk's enqueues, "
                              "SIGKILL, a restart." if servers is not None else
                              "No private redis-server here: the drill cannot run.")
        self.button.disabled = servers is None
        self.table = w.HTML(crash_table(self.runs)._repr_html_())
        self.button.on_click(lambda _b: self.crash())
        self.widget = w.VBox([w.HBox([self.choice, self.pushes, self.button]), self.status,
                              self.table])

    def crash(self) -> CrashRun:
        """One drill with the chosen persistence; its row is added to the table."""
        if self.servers is None:
            raise RuntimeError("no private redis-server here: the drill cannot run")
        persistence, fsync = CHOICES[self.choice.value]
        pushes = self.pushes.value
        snapshot_at = pushes // 3 if persistence == Persistence.RDB else None
        self.button.disabled = True
        self.status.value = f"{self.choice.value}: pushing, then SIGKILL..."
        try:
            run = crash_under_load(self.servers, persistence, fsync, pushes=pushes,
                                   snapshot_at=snapshot_at)
        finally:
            self.button.disabled = False
        self.runs.append(run)
        self.status.value = f"{run}."
        self.table.value = crash_table(self.runs)._repr_html_()
        return run
