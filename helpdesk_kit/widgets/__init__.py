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
| 06 task queue: enqueue, step and burst a worker | :mod:`.queue_lab` |
| 07 reliable queue: crashes, retries with backoff, several workers | :mod:`.reliability` |
| 08 monitoring and tuning: the live dashboard (also the instructor's) | :mod:`.monitoring` |
| 09 with vs without Redis: cost-model sliders, measured tables | :mod:`.comparison` |
| 10 replication and Sentinel: offsets, a failover timeline | :mod:`.replication` |
| 11 Redis Cluster: slots, hash tags, keys per node | :mod:`.cluster` |
| 12 Pub/Sub: notifications arriving live | :mod:`.pubsub` |
| 13 Lua scripts and Functions | :mod:`.lua` |
| 14 Streams: a queue on a consumer group, the three queues side by side | :mod:`.streams` |
| 15 the event log: the read model, a lost append | :mod:`.events` |
| 16 the near cache: invalidations live, the staleness window | :mod:`.near_cache` |
| 17 persistence: crash drills under load, tasks lost per policy | :mod:`.persistence` |
| 18 incidents: a first look at a slow or full Redis | :mod:`.incidents` |
| 19 capstone: check one part of your helpdesk, or all of it | :mod:`.capstone` |
| the instructor's per-learner table (classroom mode) | :mod:`.classroom` |
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
    """Dress a hit-rate plot: 0..1 axis, the optimal and poor lines, a legend.

    The levels are :class:`~helpdesk_kit.tuning.Thresholds` (``HELPDESK_HIT_RATE_*``): by
    default the seed's tuning table, > 90% optimal and < 50% deficient.
    """
    from ..lab.simulate import hit_rate_levels

    optimal, poor = hit_rate_levels()
    ax.axhline(optimal, color="green", linewidth=0.8, linestyle="--",
               label=f"> {optimal:.0%} optimal")
    ax.axhline(poor, color="red", linewidth=0.8, linestyle="--", label=f"< {poor:.0%} poor")
    ax.set_ylim(0, 1.05)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("hit rate")
    ax.legend(loc="lower right", fontsize=8)
