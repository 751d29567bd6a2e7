"""Lesson 11: a 6-node Redis Cluster - the slots, hash tags, keys per node, a failover live.

Plain functions (the slot of a key, keys per node, the figures) and two thin widgets:
:class:`SlotExplorer` (type a key, see its slot and node) and :class:`ClusterFailoverButton`
(kill the primary that serves ``{tasks}``, under load). Callbacks update HTML and Output
widgets only.
"""

from __future__ import annotations

import html
from typing import Any

from ..backends import ClusterLab
from ..backends.binaries import no_server_reason
from ..backends.cluster import SLOTS, hash_slot, node_clients
from ..db import HelpdeskStore
from ..keys import KeySchema
from ..lab.failover import DrillReport, cluster_drill
from ..lessons import Table, picture
from . import Shown

__all__ = ["ClusterFailoverButton", "SlotExplorer", "distribution_figure", "hashed_part",
           "keys_per_node", "slot_table", "start_cluster"]


def start_cluster(**options: Any) -> tuple[ClusterLab | None, str]:
    """Start the lesson's cluster, or say why it cannot run here (no binaries)."""
    missing = no_server_reason()
    if missing:
        return None, (f"{missing}: the live cells below explain what they would show and "
                      "skip")
    lab = ClusterLab(**options)
    lab.start()
    return lab, "6 nodes are running: 3 primaries, 3 replicas (real processes)"


def hashed_part(key: str) -> str:
    """What Redis hashes: the text inside the first ``{...}`` if it is not empty, else the key."""
    start = key.find("{")
    if start >= 0:
        end = key.find("}", start + 1)
        if end > start + 1:
            return key[start + 1:end]
    return key


def slot_table(keys: list[str]) -> Table:
    """Each key, the part Redis hashes, and its slot: CRC16(part) mod 16384."""
    return Table(("key", "hashed part", "slot"),
                 [(k, hashed_part(k), hash_slot(k)) for k in keys],
                 caption=f"{SLOTS:,} slots; a key's slot decides its node")


def keys_per_node(client: Any, pattern: str) -> dict[str, int]:
    """Keys matching ``pattern`` on each primary, counted by SCAN on that node itself (as a
    set: SCAN may return a key more than once)."""
    return {address: len(set(node.scan_iter(match=pattern, count=1000)))
            for address, node in node_clients(client)}


def distribution_figure(before: dict[str, int], after: dict[str, int] | None = None,
                        title: str = "keys per primary") -> Any:
    """Bars of keys per node (and after a failover, side by side)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 3.2))
    ax = fig.subplots()
    nodes = sorted(set(before) | set(after or {}))
    xs = range(len(nodes))
    width = 0.4 if after is not None else 0.7
    ax.bar([x - (width / 2 if after is not None else 0) for x in xs],
           [before.get(n, 0) for n in nodes], width, label="before")
    if after is not None:
        ax.bar([x + width / 2 for x in xs], [after.get(n, 0) for n in nodes], width,
               label="after the failover")
        ax.legend(fontsize=8)
    ax.set_xticks(list(xs), nodes, fontsize=7)
    ax.set_ylabel("keys")
    ax.set_title(title)
    fig.tight_layout()
    return fig


class SlotExplorer(Shown):
    """Type a key: its hashed part, slot, and the node that serves it now."""

    def __init__(self, client: Any) -> None:
        import ipywidgets as w

        self.client = client
        self.key = w.Text(description="key", value="{tasks}:pending", continuous_update=False)
        self.button = w.Button(description="where does it live?")
        self.answer = w.HTML()
        self.button.on_click(lambda _b: self.show())
        self.key.observe(lambda _change: self.show(), "value")
        self.widget = w.VBox([w.HBox([self.key, self.button]), self.answer])
        self.show()

    def show(self) -> str:
        key = self.key.value
        node = self.client.get_node_from_key(key).name if self.client is not None else "-"
        text = (f"<code>{html.escape(key)}</code>: Redis hashes "
                f"<code>{html.escape(hashed_part(key))}</code> → slot {hash_slot(key):,} → "
                f"node {node}")
        self.answer.value = text
        return text


class ClusterFailoverButton(Shown):
    """Kill the primary that serves ``{tasks}``, under load; see the figures and the keys."""

    def __init__(self, lab: ClusterLab, store: HelpdeskStore, prefix: str) -> None:
        import ipywidgets as w

        self.lab = lab
        self.store = store
        self.prefix = prefix
        self.runs = 0
        self.button = w.Button(description="Kill the {tasks} primary", icon="bolt",
                               button_style="danger")
        self.result = w.HTML("Press the button: SIGKILL, under load.")
        self.plot = w.Output()
        self.button.on_click(lambda _b: self.kill())
        self.widget = w.VBox([self.button, self.result, self.plot])

    def kill(self) -> DrillReport:
        from IPython.display import display

        from .replication import drill_table

        self.button.disabled = True
        self.result.value = "Killing a primary, under load..."
        try:
            self.runs += 1
            report = cluster_drill(self.lab, self.store,
                                   KeySchema(prefix=f"{self.prefix}button{self.runs}:",
                                             cluster=True), before_s=0.6, after_s=0.5)
            self.result.value = drill_table(report)._repr_html_()
            self.plot.clear_output()
            with self.plot:
                display(picture(distribution_figure(report.keys_before, report.keys_after)))
            return report
        finally:
            self.button.disabled = False
