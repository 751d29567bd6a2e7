"""Lesson 05: the hit-rate lab - controls for :mod:`helpdesk_kit.simulate`, a plot, a verdict.

The simulation is pure and seeded, so the same settings always draw the same curve; the
widget only turns control values into a :class:`~helpdesk_kit.simulate.SimConfig`.
:func:`eviction_skip_reason` says when the lesson may change its Redis's ``maxmemory`` (the
cells that evict for real run only on a private redis-server of the lesson's own).
"""

from __future__ import annotations

import html
import io

import ipywidgets as widgets
from matplotlib.figure import Figure

from ..backends import Backend
from ..lab.simulate import POLICIES, SimConfig, SimResult, advice, hit_rate_levels, simulate
from ..lessons import Table
from ..vocab import BackendKind
from . import Shown, seed_thresholds

__all__ = ["HitRateLab", "compare_table", "eviction_skip_reason", "plot_results",
           "verdict_html"]


def eviction_skip_reason(backend: Backend) -> str | None:
    """None when the lesson may set ``maxmemory`` on its Redis, else the sentence to print.

    ``CONFIG SET`` changes the whole server, so only a private redis-server that this kernel
    started (``HELPDESK_REDIS_BACKEND=server``, the default when one is installed) is changed;
    fakeredis has no memory limit and never evicts.
    """
    if backend.kind == BackendKind.SERVER:
        return backend.capabilities.why_not("CONFIG")
    if backend.kind == BackendKind.FAKE:
        return ("skipped: this lesson runs on fakeredis, which has no maxmemory and never "
                "evicts. On a redis-server (the default when one is installed) these cells "
                "set a limit and watch Redis evict.")
    return ("skipped: CONFIG SET maxmemory changes the whole server, and this lesson's Redis "
            f"is not one it started ({backend.kind}: it may be shared). Run the lesson on a "
            "private redis-server (HELPDESK_REDIS_BACKEND=server) to watch Redis evict.")


def plot_results(results: dict[str, SimResult]) -> Figure:
    """Hit rate over simulated time, one line per scenario, with the seed's thresholds."""
    fig = Figure(figsize=(7.5, 3.4))
    ax = fig.subplots()
    optimal, poor = hit_rate_levels()
    for label, result in results.items():
        ax.plot(result.times, result.hit_rates, label=f"{label} ({result.hit_rate:.0%})")
    ax.axhspan(optimal, 1.0, color="green", alpha=0.08)
    ax.axhspan(0, poor, color="red", alpha=0.08)
    seed_thresholds(ax, "simulated seconds")
    ax.set_title(f"green: > {optimal:.0%} (óptimo)   red: < {poor:.0%} (deficiente)",
                 fontsize=9)
    fig.tight_layout()
    return fig


def compare_table(results: dict[str, SimResult]) -> Table:
    rows = []
    for label, r in results.items():
        m = r.misses
        rows.append((label, f"{r.hit_rate:.1%}", m["cold"], m["expired"], m["evicted"],
                     m["rejected"], r.evictions, r.verdict_text))
    return Table(("scenario", "hit rate", "cold", "expired", "evicted", "rejected",
                  "evictions", "verdict"), rows, caption="Misses by cause (simulated)")


def verdict_html(result: SimResult) -> str:
    tips = "".join(f"<li>{html.escape(t)}</li>" for t in advice(result))
    return (f"<b>hit rate {result.hit_rate:.1%}</b> - {html.escape(result.verdict_text)}"
            f"<br><small>{html.escape(result.summary())}</small><ul>{tips}</ul>")


class HitRateLab(Shown):
    """Access pattern, key space, TTL, rate, memory limit and policy -> hit rate over time."""

    def __init__(self, config: SimConfig | None = None) -> None:
        c = config or SimConfig()
        style = {"description_width": "140px"}
        self.pattern = widgets.ToggleButtons(options=["zipf", "uniform"], value=c.pattern,
                                             description="access pattern", style=style)
        self.keys = widgets.IntSlider(value=c.key_space, min=100, max=10000, step=100,
                                      description="key space", style=style)
        self.ttl = widgets.IntSlider(value=int(c.ttl), min=5, max=3600, step=5,
                                     description="TTL (s)", style=style)
        self.rate = widgets.IntSlider(value=int(c.rate), min=1, max=200,
                                      description="reads per second", style=style)
        self.memory = widgets.IntSlider(value=100, min=5, max=100, step=5,
                                        description="memory (% of keys)", style=style)
        self.policy = widgets.Dropdown(options=POLICIES, value=c.policy,
                                       description="maxmemory-policy", style=style)
        self.samples = widgets.Dropdown(
            options=[("exact LRU/LFU", 0), ("5 (Redis's default)", 5), ("10", 10)],
            value=c.samples, description="maxmemory-samples", style=style)
        self.button = widgets.Button(description="simulate", button_style="primary")
        self.plot = widgets.Image(format="png")  # an image, not an Output: nothing printed
        self.verdict = widgets.HTML()
        self.button.on_click(lambda _: self.run())
        self.widget = widgets.VBox([self.pattern, self.keys, self.ttl, self.rate, self.memory,
                                    self.policy, self.samples, self.button, self.verdict,
                                    self.plot])
        self.last: SimResult | None = None

    def config(self) -> SimConfig:
        """The controls' values as a simulation config (memory 100% = no limit)."""
        capacity = None if self.memory.value >= 100 else max(
            1, self.keys.value * self.memory.value // 100)
        return SimConfig(pattern=self.pattern.value, key_space=self.keys.value,
                         ttl=float(self.ttl.value), rate=float(self.rate.value),
                         capacity=capacity, policy=self.policy.value,
                         samples=self.samples.value)

    def run(self) -> SimResult:
        self.last = simulate(self.config())
        self.verdict.value = verdict_html(self.last)
        buffer = io.BytesIO()
        plot_results({"this run": self.last}).savefig(buffer, format="png", dpi=80)
        self.plot.value = buffer.getvalue()
        return self.last
