"""ipywidgets front-ends for the lessons: one module per lesson, thin on purpose.

Each module builds its controls and wires them to *plain functions* that do the work by
calling the package (the app, the cache, the simulator). Those functions return values or
text; the widgets only show them. So unit tests call the functions directly, and a callback
never prints (nbval would store the print inside the widget's state): results go to
``Label``/``HTML`` widgets.

| lesson | module |
|---|---|
| 00 start here | :mod:`.start_here` |
| 01 cache-aside | :mod:`.cache_aside` |
| 02 keys, TTL and serialisation | :mod:`.keys_ttl` |
| 03 invalidation | :mod:`.invalidation` |
| 04 cache warming | :mod:`.warming` |
| 05 hit-rate lab | :mod:`.hit_rate_lab` |
"""

from __future__ import annotations

from typing import Any

__all__ = ["Shown", "seed_thresholds"]


class Shown:
    """Base for the lesson widgets: the object displays as its ``widget`` (a VBox) in Jupyter."""

    widget: Any

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)


def seed_thresholds(ax: Any, xlabel: str) -> None:
    """Dress a hit-rate plot: 0..1 axis, the seed's > 80% and < 50% lines, a legend."""
    ax.axhline(0.8, color="green", linewidth=0.8, linestyle="--", label="seed: > 80% good")
    ax.axhline(0.5, color="red", linewidth=0.8, linestyle="--", label="seed: < 50% poor")
    ax.set_ylim(0, 1.05)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("hit rate")
    ax.legend(loc="lower right", fontsize=8)
