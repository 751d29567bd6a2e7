"""Lesson 04: cache warming (the seed's ``warmupCache``): cold vs warm start, loop vs pipeline.

Reads follow a skew by *recency*: the tickets with the latest activity are the hot ones, as on
a real helpdesk. So warming the most recently active tickets (``warm_tickets``' default order)
covers most reads without caching the whole database.
"""

from __future__ import annotations

import json
import random
from typing import Any

import ipywidgets as widgets
import redis
from matplotlib.figure import Figure

from ..app import HelpdeskApp
from ..keys import KeySchema
from ..lab.simulate import zipf_sample
from ..lessons import (
    Lesson,
    Table,
    capture_logs,
    clean_prefix,
    fmt_seconds,
    median_seconds,
    replay_hit_rates,
)
from . import Shown, seed_thresholds

__all__ = ["WarmupLab", "recent_first_reads", "start_plot",
           "time_loop_vs_pipeline"]


def recent_first_reads(lesson: Lesson, n: int, seed: int = 4, s: float = 1.1) -> list[int]:
    """``n`` ticket ids, Zipf-skewed so the most recently active tickets are read most."""
    order = [t.id for t in lesson.store.list_tickets(limit=lesson.sample.tickets)]
    return zipf_sample(order, n, random.Random(seed), s)


def start(lesson: Lesson, app: HelpdeskApp, reads: list[int], window: int, warm: int
          ) -> list[float]:
    """Empty this lesson's keys, warm the ``warm`` most recent tickets, replay the reads."""
    assert app.cache is not None
    clean_prefix(lesson.client, lesson.keys.prefix)
    if warm:
        with capture_logs():
            app.cache.warm_tickets(lesson.store, limit=warm, progress=False)
    return replay_hit_rates(app, reads, window)


def start_plot(curves: dict[str, list[float]]) -> Figure:
    fig = Figure(figsize=(7, 3.2))
    ax = fig.subplots()
    for label, rates in curves.items():
        ax.plot(range(1, len(rates) + 1), rates, marker="o", label=label)
    seed_thresholds(ax, "window of 100 reads after start")
    ax.set_title("Hit rate after a restart: cold vs warmed (measured)")
    fig.tight_layout()
    return fig


def time_loop_vs_pipeline(client: redis.Redis, keys: KeySchema, users: list[dict[str, Any]],
                          repeat: int = 5) -> Table:
    """Medians of ``repeat`` warm-ups of ``users``: one ``SET`` per user (the seed's loop),
    then all of them on one pipeline. Same commands, same keys; only the round trips differ."""
    def loop() -> None:
        for user in users:
            client.set(keys.user(user["id"]), json.dumps(user), ex=300)

    def pipelined() -> None:
        pipe = client.pipeline(transaction=False)
        for user in users:
            pipe.set(keys.user(user["id"]), json.dumps(user), ex=300)
        pipe.execute()

    rows = [("one SET per user (the seed's loop)", median_seconds(loop, repeat)),
            ("one pipeline", median_seconds(pipelined, repeat))]
    return Table((f"cache {len(users)} users", f"median of {repeat}"),
                 [(name, fmt_seconds(seconds)) for name, seconds in rows],
                 caption="The same SETs, measured on this machine")


class WarmupLab(Shown):
    """Choose how many recent tickets to warm, then replay 1,000 reads: see the hit rate."""

    def __init__(self, lesson: Lesson, app: HelpdeskApp, reads: list[int]) -> None:
        self.lesson = lesson
        self.app = app
        self.reads = reads
        self.warm = widgets.IntSlider(value=500, min=0, max=lesson.sample.tickets, step=100,
                                      description="warm N")
        self.button = widgets.Button(description="restart and replay")
        self.result = widgets.HTML("<i>press the button</i>")
        self.button.on_click(lambda _: self.run())
        self.widget = widgets.VBox([widgets.HBox([self.warm, self.button]), self.result])

    def run(self) -> float:
        rates = start(self.lesson, self.app, self.reads, 100, self.warm.value)
        overall = sum(rates) / len(rates)
        self.result.value = (f"warmed {self.warm.value} tickets: first 100 reads "
                             f"{rates[0]:.0%} hits, all {len(self.reads)} reads {overall:.0%}")
        return overall
