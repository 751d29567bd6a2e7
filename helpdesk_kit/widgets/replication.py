"""Lesson 10: a primary, 2 replicas and 3 Sentinels you can break - offsets, a kill button, the
failover timeline, and ``WAIT`` with and without.

The work is in :mod:`helpdesk_kit.lab.failover` and :mod:`helpdesk_kit.backends`; here are the
tables and figures that show it, and :class:`FailoverButton`, whose callback only updates
HTML and Output widgets (never prints).
"""

from __future__ import annotations

from typing import Any

from ..backends import SentinelLab
from ..backends.binaries import no_server_reason
from ..db import HelpdeskStore
from ..keys import KeySchema
from ..lab.failover import DrillReport, GapResult, sentinel_drill
from ..lessons import Table, picture
from . import Shown

__all__ = ["FailoverButton", "drill_table", "gap_table", "offsets_table", "start_lab",
           "timeline_figure"]


def start_lab(**options: Any) -> tuple[SentinelLab | None, str]:
    """Start the lesson's Sentinel set, or say why it cannot run here (no binaries)."""
    missing = no_server_reason()
    if missing:
        return None, (f"{missing}: the live cells below explain what they would show and "
                      "skip")
    lab = SentinelLab(**options)
    lab.start()
    return lab, "a primary, 2 replicas and 3 Sentinels are running (real processes)"


def offsets_table(lab: SentinelLab) -> Table:
    """Each data node's role and replication offset, asked of the node itself."""
    rows: list[tuple[str, str, str, str, int | str]] = []
    head = 0
    for node in lab.data:
        if not node.alive:
            rows.append((node.name, node.address, "dead", "-", "-"))
            continue
        with node.client() as client:
            info = client.info("replication")
        if info["role"] == "master":
            head = int(info["master_repl_offset"])
            rows.append((node.name, node.address, "primary", f"{head:,}", ""))
        else:
            offset = int(info.get("slave_repl_offset", 0))
            rows.append((node.name, node.address, "replica", f"{offset:,}", offset))
    shown = [(*r[:4], "" if r[4] in ("", "-") else f"{head - int(r[4]):,} bytes")
             for r in rows]
    return Table(("node", "address", "role", "offset", "behind the primary"), shown)


def drill_table(report: DrillReport) -> Table:
    """The measured figures of one failover, one per row."""
    return Table(("measured", "value"), [
        ("every Sentinel (or the cluster) agrees on it after", f"{report.promoted_s:.2f} s"),
        ("new primary serving writes after", f"{report.new_primary_serves_s:.2f} s"),
        ("Redis unreachable for", f"{report.redis_outage_s:.2f} s"),
        ("read outage (reads answered by the database)", f"{report.read_outage_s:.2f} s"),
        ("failed reads", report.reads_failed),
        ("write outage", f"{report.write_outage_s:.2f} s"),
        ("tasks acknowledged / lost", f"{report.acknowledged} / {report.lost}"),
        ("stale entries after a confirmed invalidation", report.stale_confirmed),
        ("earlier runs set aside (a failover had begun before the kill)",
         report.unsteady_runs),
        ("this run steady (the kill started the failover)", "yes" if report.steady else "NO"),
    ], caption=f"{report.kind} failover: {report.killed} killed, {report.new_primary} promoted")


def gap_table(results: list[GapResult]) -> Table:
    """Pushed, acknowledged, refused (and applied all the same: WAIT undoes nothing), still
    there after the failover, and acknowledged-then-lost."""
    return Table(("push mode", "pushed", "acknowledged", "refused, yet applied",
                  "on the new primary", "acknowledged, then lost"),
                 [("durable (WAIT for the replicas)" if r.durable else "plain RPUSH",
                   r.pushed, r.acknowledged, r.pushed - r.acknowledged, r.kept, r.lost)
                  for r in results])


def _rates(report: DrillReport, op: str, ok: bool, bucket: float) -> tuple[list[float],
                                                                         list[float]]:
    end = max((e.t for e in report.events), default=0.0)
    n = int(end / bucket) + 1
    counts = [0] * n
    for event in report.events:
        if event.op == op and event.ok == ok:
            counts[int(event.t / bucket)] += 1
    return [i * bucket for i in range(n)], [c / bucket for c in counts]


def timeline_figure(report: DrillReport, bucket: float = 0.25) -> Any:
    """Who was primary when; reads, writes and enqueues per second; errors per second."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 5.5))
    who, rates, errors = fig.subplots(3, 1, sharex=True,
                                      gridspec_kw={"height_ratios": [1, 2, 1.3]})
    names = sorted({p or "nobody" for _, p in report.primaries})
    who.step([t for t, _ in report.primaries],
             [names.index(p or "nobody") for _, p in report.primaries], where="post")
    who.set_yticks(range(len(names)), names, fontsize=7)
    who.set_title(f"{report.kind} failover: who is primary, what the app manages")
    for op, label in (("read", "reads/s"), ("write", "writes/s"), ("enqueue", "enqueues/s")):
        rates.plot(*_rates(report, op, True, bucket), label=label)
    rates.set_ylabel("per second")
    rates.legend(fontsize=7, loc="upper right")
    for op, label in (("write", "failed writes/s"), ("enqueue", "failed enqueues/s"),
                      ("probe-write", "Redis refused/s")):
        errors.plot(*_rates(report, op, False, bucket), label=label)
    errors.set_ylabel("errors/s")
    errors.set_xlabel("seconds since the load started")
    errors.legend(fontsize=7, loc="upper right")
    for ax in (who, rates, errors):
        ax.axvline(report.killed_at, color="red", linewidth=0.8, linestyle="--")
        ax.axvline(report.killed_at + report.new_primary_serves_s, color="green",
                   linewidth=0.8, linestyle="--")
    fig.tight_layout()
    return fig


class FailoverButton(Shown):
    """A "kill the primary" button: each click runs one measured failover under load."""

    def __init__(self, lab: SentinelLab, store: HelpdeskStore, prefix: str) -> None:
        import ipywidgets as w

        self.lab = lab
        self.store = store
        self.prefix = prefix
        self.runs = 0
        self.durable = w.Checkbox(description="durable pushes (WAIT)", value=False)
        self.button = w.Button(description="Kill the primary", icon="bolt",
                               button_style="danger")
        self.offsets = w.HTML(offsets_table(lab)._repr_html_())
        self.result = w.HTML("Press the button: SIGKILL, under load.")
        self.plot = w.Output()
        self.button.on_click(lambda _b: self.kill())
        self.widget = w.VBox([w.HBox([self.button, self.durable]), self.offsets, self.result,
                              self.plot])

    def kill(self) -> DrillReport:
        """One drill; the killed node is restarted as a replica so the next click works."""
        from IPython.display import display

        self.button.disabled = True
        self.result.value = "Killing the primary, under load..."
        try:
            self.runs += 1
            report = sentinel_drill(self.lab, self.store,
                                    KeySchema(prefix=f"{self.prefix}button{self.runs}:"),
                                    durable=self.durable.value, before_s=0.6, after_s=0.5)
            self.result.value = drill_table(report)._repr_html_()
            self.plot.clear_output()
            with self.plot:
                display(picture(timeline_figure(report)))
            self.lab.restart(self.lab.node_at(report.killed))
            self.offsets.value = offsets_table(self.lab)._repr_html_()
            return report
        finally:
            self.button.disabled = False
