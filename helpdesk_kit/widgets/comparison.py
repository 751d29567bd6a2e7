"""Lesson 09: when does a cache pay? Sliders over the cost model, and plots of measured tables.

The measuring is :mod:`helpdesk_kit.compare` (the same table ``helpdesk-kit bench compare``
prints) and :mod:`helpdesk_kit.loadtest`. This module only shows their numbers:

* :class:`BreakEvenExplorer` - sliders for the database and cache round-trip times and the hit
  rate; a bar chart of the average read with and without the cache, and the break-even hit
  rate (below it, reading through the cache is *slower* than asking the database);
* :func:`where_redis_pays` - one row per place the database can be (a local file, sqld over
  the loopback, the design's network): a lookup, a cache hit and the break-even hit rate;
* :func:`plot_comparison` - the measured tables side by side (local, real sqld, seed network);
* :func:`plot_load` - the load test: requests served and queries that reached the database.
"""

from __future__ import annotations

import html
import io
from typing import Any

import ipywidgets as widgets

from ..lab.compare import Comparison, break_even_hit_rate, expected_read_ms
from ..lab.loadtest import LoadResult
from ..lessons import Table
from . import Shown

__all__ = ["BreakEvenExplorer", "plot_comparison", "plot_load", "where_redis_pays"]

#: The hit rate the last column of :func:`where_redis_pays` asks about.
GOOD_HIT_RATE = 0.9


class BreakEvenExplorer(Shown):
    """Move the round-trip times and the hit rate; see what one average read costs."""

    def __init__(self, db_ms: float = 50.0, cache_ms: float = 5.0, hit_rate: float = 0.8
                 ) -> None:
        style = {"description_width": "9em"}
        layout = widgets.Layout(width="28em")
        self.db_ms = widgets.FloatLogSlider(value=db_ms, base=10, min=-1, max=2.5, step=0.05,
                                            description="database RTT (ms)", style=style,
                                            layout=layout, readout_format=".2f")
        self.cache_ms = widgets.FloatLogSlider(value=cache_ms, base=10, min=-2, max=2,
                                               step=0.05, description="cache RTT (ms)",
                                               style=style, layout=layout,
                                               readout_format=".2f")
        self.hit_rate = widgets.FloatSlider(value=hit_rate, min=0, max=1, step=0.01,
                                            description="hit rate", style=style, layout=layout,
                                            readout_format=".0%")
        self.verdict = widgets.HTML()
        self.chart = widgets.Image(format="png")
        for slider in (self.db_ms, self.cache_ms, self.hit_rate):
            slider.observe(lambda _: self.update(), names="value")
        self.widget = widgets.VBox([self.db_ms, self.cache_ms, self.hit_rate, self.verdict,
                                    self.chart])
        self.update()

    def update(self, db_ms: float | None = None, cache_ms: float | None = None,
               hit_rate: float | None = None) -> dict[str, float | bool]:
        """Recompute for the sliders' values (or for the ones given, which move the sliders)."""
        for slider, value in ((self.db_ms, db_ms), (self.cache_ms, cache_ms),
                              (self.hit_rate, hit_rate)):
            if value is not None:
                slider.value = value
        d = self.db_ms.value
        c = self.cache_ms.value
        h = self.hit_rate.value
        with_cache = expected_read_ms(h, d, c)
        even = break_even_hit_rate(d, c)
        self.result: dict[str, float | bool] = {
            "without_ms": d, "with_ms": with_cache, "break_even": even,
            "pays": with_cache < d, "speedup": d / with_cache if with_cache else float("inf")}
        self.verdict.value = verdict_html(self.result, h)
        self.chart.value = bars_png(d, with_cache, h, even, c)
        return self.result


def verdict_html(result: dict[str, Any], hit_rate: float) -> str:
    """One sentence: what a read costs each way, and whether the cache pays at this hit rate."""
    even = result["break_even"]
    if even >= 1:
        line = "The cache is as slow as the database: it never pays."
    elif result["pays"]:
        line = (f"At a {hit_rate:.0%} hit rate the cache pays: {result['speedup']:.1f}x faster "
                f"on average. It stops paying below a {even:.0%} hit rate.")
    else:
        line = (f"At a {hit_rate:.0%} hit rate the cache costs more than it saves: "
                f"break-even is {even:.0%}.")
    return (f"<p>Average read: <b>{result['without_ms']:.2f} ms</b> without the cache, "
            f"<b>{result['with_ms']:.2f} ms</b> with it (a hit pays one GET; a miss pays GET + "
            f"database + SET). {html.escape(line)}</p>")


def _png(fig: Any) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


def bars_png(db_ms: float, with_ms: float, hit_rate: float, break_even: float,
             cache_ms: float) -> bytes:
    """Left: the two bars. Right: cost against hit rate, with the break-even point marked."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 2.6), dpi=80)
    bars, curve = fig.subplots(1, 2)
    bars.bar(["without Redis", "with Redis"], [db_ms, with_ms],
             color=["tab:gray", "tab:red" if with_ms < db_ms else "tab:orange"])
    bars.set_ylabel("ms per read (average)")
    rates = [i / 100 for i in range(101)]
    curve.plot(rates, [expected_read_ms(r, db_ms, cache_ms) for r in rates], color="tab:red",
               label="with Redis")
    curve.axhline(db_ms, color="tab:gray", linestyle="--", label="without Redis")
    if break_even < 1:
        curve.axvline(break_even, color="black", linewidth=0.8)
        curve.annotate(f"break-even {break_even:.0%}", (break_even, db_ms),
                       textcoords="offset points", xytext=(4, 4))
    curve.axvline(hit_rate, color="tab:blue", linewidth=0.8, linestyle=":")
    curve.set_xlabel("hit rate")
    curve.set_ylabel("ms per read")
    curve.legend(loc="upper right", fontsize="small")
    fig.subplots_adjust(left=0.08, right=0.98, bottom=0.2, top=0.95, wspace=0.3)
    return _png(fig)


def where_redis_pays(tables: dict[str, Comparison | None]) -> Table:
    """One row per table: its ticket lookup without Redis and the cache hit with it (medians),
    whether those numbers were measured or simulated, the break-even hit rate, and whether
    Redis pays at a 90% hit rate. A table that is None (a skipped part) says so.
    """
    rows: list[tuple[str, ...]] = []
    for name, table in tables.items():
        if table is None:
            rows.append((name, "skipped", "-", "-", "-", "-"))
            continue
        db_ms, cache_ms = table.read_costs()
        even = break_even_hit_rate(db_ms, cache_ms)
        pays = expected_read_ms(GOOD_HIT_RATE, db_ms, cache_ms) < db_ms
        rows.append((name, table.profile.label, f"{db_ms:,.3f} ms", f"{cache_ms:,.3f} ms",
                     "never" if even >= 1 else f"{even:.0%}", "yes" if pays else "no"))
    return Table(("the database", "numbers", "lookup without Redis", "cache hit",
                  "break-even hit rate", f"Redis pays at {GOOD_HIT_RATE:.0%} hits?"), rows)


def plot_comparison(tables: dict[str, Comparison | None]) -> Any:
    """One panel per measured table: each operation without vs with Redis (log scale, ms).

    Tables that are None (a part that was skipped) are left out. Returns a bare Figure (no
    pyplot): a notebook shows it with ``picture(...)``, as a real image.
    """
    from matplotlib.figure import Figure

    shown = {name: table for name, table in tables.items() if table is not None}
    fig = Figure(figsize=(4 * max(1, len(shown)), 3.4))
    axes = fig.subplots(1, max(1, len(shown)), squeeze=False)[0]
    for ax, (name, table) in zip(axes, shown.items(), strict=False):
        rows = [row for row in table.rows if row.unit == "ms"]
        places = range(len(rows))
        ax.bar([p - 0.2 for p in places], [r.without for r in rows], width=0.4,
               color="tab:gray", label="without Redis")
        ax.bar([p + 0.2 for p in places], [r.with_redis for r in rows], width=0.4,
               color="tab:red", label="with Redis")
        ax.set_xticks(list(places), [r.operation.replace(" (hit)", "") for r in rows],
                      rotation=20, fontsize="small")
        ax.set_yscale("log")
        ax.set_title(name, fontsize="medium")
        ax.set_ylabel("ms (median, log scale)")
    axes[0].legend(fontsize="small")
    fig.subplots_adjust(left=0.07, right=0.98, bottom=0.25, top=0.9, wspace=0.35)
    return fig


def plot_load(without: LoadResult, with_cache: LoadResult) -> Any:
    """Requests served per second, and database queries per second, for the two load runs."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 2.8))
    served, queries = fig.subplots(1, 2)
    names = ["without Redis", "with Redis"]
    colors = ["tab:gray", "tab:red"]
    served.bar(names, [without.requests_per_s, with_cache.requests_per_s], color=colors)
    served.set_title("requests served per second", fontsize="medium")
    queries.bar(names, [r.db_queries / r.seconds for r in (without, with_cache)], color=colors)
    queries.set_title("queries reaching the database per second", fontsize="medium")
    fig.subplots_adjust(left=0.08, right=0.98, bottom=0.12, top=0.88, wspace=0.3)
    return fig
