"""What ``make bench`` prints and draws: one ratio table per area, and one chart of them all.

Each benchmark module returns :class:`Area` objects: a baseline measured in the same run and
rows whose ``ratio`` is *how many times better than the baseline* (higher is better, so a
throughput ratio is ours/theirs and a latency ratio is theirs/ours). A row that could not run
(a peer not installed) has no ratio and says why. Nothing here measures anything.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

__all__ = ["RESULTS", "Area", "Row", "describe", "machine", "paired", "print_area", "save"]

#: Where the chart and the numbers go (git-ignored).
RESULTS = Path(__file__).resolve().parent / "results"


@dataclass
class Row:
    """One measured thing against the area's baseline."""

    name: str
    ratio: float | None  #: x baseline, higher is better; None: not run
    shown: str = ""  #: the absolute figure (``12.3 µs``, ``8,400 jobs/s``)
    target: float | None = None  #: the ratio it must reach, if any
    note: str = ""  #: why it did not run, or what it means
    guarantee: str = ""  #: a queue's delivery guarantee (``Guarantee.label``), printed beside

    @property
    def verdict(self) -> str:
        if self.ratio is None:
            return "not run"
        if self.target is None:
            return ""
        return "ok" if self.ratio >= self.target else "MISSED"


@dataclass
class Area:
    """One table: a title, what the ratios are relative to, and the rows."""

    title: str
    baseline: str
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def row(self, name: str) -> Row:
        return next(r for r in self.rows if r.name == name)


def paired(samples: dict[str, list[float]], baseline: str, *, lower_is_better: bool = False
           ) -> dict[str, float]:
    """Each round's ratio to the baseline *of the same round*, then the median over rounds.

    Rounds are interleaved, so a busy second on the machine slows both sides of a round
    alike: pairing them cancels it, where a ratio of two medians would not. ``samples[name]``
    holds one number per round (a rate, or with ``lower_is_better`` a duration).
    """
    base = samples[baseline]
    ratios = {}
    for name, values in samples.items():
        pairs = [(b / v if lower_is_better else v / b) for v, b in zip(values, base, strict=True)]
        ratios[name] = statistics.median(pairs)
    return ratios


def print_area(area: Area) -> None:
    width = max(len(r.name) for r in area.rows) if area.rows else 10
    shown = max([14, *(len(r.shown) for r in area.rows)])
    promises = max([0, *(len(r.guarantee) for r in area.rows)])
    print(f"\n## {area.title}\n   ratio = x {area.baseline} (same run; higher is better)")
    header = f"   {'':{width}}  {'measured':>{shown}}  {'ratio':>8}  {'target':>8}  verdict"
    if promises:
        header += f"  {'':7}  delivery"
    print(header)
    for r in area.rows:
        ratio = "-" if r.ratio is None else f"{r.ratio:8.2f}"
        target = "" if r.target is None else f">= {r.target:g}"
        line = f"   {r.name:{width}}  {r.shown:>{shown}}  {ratio:>8}  {target:>8}  {r.verdict}"
        if promises:
            line = f"{line:{len(header) - len('delivery')}}{r.guarantee:{promises}}"
        print(line.rstrip() + (f"  ({r.note})" if r.note else ""))
    for note in area.notes:
        print(f"   {note}")


def machine() -> dict[str, str]:
    """What a table's numbers were measured on: date, ``uname -m``, cores, redis-server."""
    try:
        version = subprocess.run(["redis-server", "--version"], capture_output=True, text=True,
                                 check=False).stdout.split()
        server = next((w.split("=", 1)[1] for w in version if w.startswith("v=")), "?")
    except OSError:
        server = "not installed"
    return {"date": time.strftime("%Y-%m-%d"), "arch": platform.machine(),
            "cores": str(os.cpu_count()), "redis_server": server,
            "python": platform.python_version(), "load": f"{os.getloadavg()[0]:.1f}"}


def describe(info: dict[str, str]) -> str:
    """``2026-12-05, x86_64, 2 cores, redis-server 7.0.15, Python 3.11.7, load 0.2``: the
    load average at the start says whether anything else was running."""
    return (f"{info['date']}, {info['arch']}, {info['cores']} cores, "
            f"redis-server {info['redis_server']}, Python {info['python']}, "
            f"load {info.get('load', '?')} at the start")


def _chart(areas: list[Area], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    shown = [a for a in areas if any(r.ratio for r in a.rows)]
    fig = Figure(figsize=(10, 1.2 + 0.45 * sum(len(a.rows) for a in shown) + 0.6 * len(shown)))
    axes = fig.subplots(len(shown), 1, squeeze=False,
                        gridspec_kw={"height_ratios": [max(1, len(a.rows)) for a in shown]})
    for ax, area in zip(axes[:, 0], shown, strict=True):
        names = [r.name for r in area.rows]
        ratios = [r.ratio or 0 for r in area.rows]
        colors = ["#bbbbbb" if r.ratio is None else "#2a9d8f" if r.verdict != "MISSED"
                  else "#e63946" for r in area.rows]
        hatches = ["//" if r.guarantee.startswith("at most once") else "" for r in area.rows]
        ax.barh(names, ratios, color=colors, hatch=hatches, edgecolor="white")
        for y, r in enumerate(area.rows):
            text = "not run" if r.ratio is None else f"{r.ratio:.2f}x"
            ax.text(max(r.ratio or 0, 0.01), y, f" {text}", va="center", fontsize=8)
            if r.target is not None:
                ax.plot([r.target, r.target], [y - 0.4, y + 0.4], color="black", linewidth=1)
        ax.axvline(1.0, color="#666666", linewidth=0.8, linestyle=":")
        measured = [r.ratio for r in area.rows if r.ratio]
        if max(measured) / min(measured) > 8:  # ratios of 0.8 and 200 side by side: log scale
            ax.set_xscale("log")
        else:
            ax.set_xlim(0, 1.25 * max([*measured, *(r.target or 0 for r in area.rows)]))
        ax.invert_yaxis()
        legend = "; hatched: at most once" if any(hatches) else ""
        ax.set_title(f"{area.title.split(':')[0]}: x {area.baseline}  (| target{legend})",
                     fontsize=9, loc="left")
        ax.tick_params(labelsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def save(areas: list[Area], quick: bool) -> Path:
    """Write ``ratios.png``, ``latest.json`` and one line of ``history.jsonl``; returns the PNG."""
    RESULTS.mkdir(exist_ok=True)
    record = {"time": time.strftime("%Y-%m-%dT%H:%M:%S"), "quick": quick,
              "machine": machine(), "areas": [asdict(a) for a in areas]}
    (RESULTS / "latest.json").write_text(json.dumps(record, indent=1, ensure_ascii=False))
    with (RESULTS / "history.jsonl").open("a") as history:
        history.write(json.dumps(record, ensure_ascii=False) + "\n")
    png = RESULTS / "ratios.png"
    _chart(areas, png)
    return png
