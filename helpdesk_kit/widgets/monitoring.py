"""Lesson 08's live dashboard - also the instructor's dashboard (Voila serves it alone).

:func:`dashboard` returns one widget that shows what the seed monitors: the key numbers of a
:class:`~helpdesk_kit.metrics.Snapshot`, the seed's tuning table with a verdict per row
(:mod:`helpdesk_kit.metrics.tuning`) and a small chart of the queue length and the hit rate
over time. It refreshes itself from a background thread - for ``duration_s`` seconds in a
lesson (so a notebook always finishes), or until stopped on an instructor's screen.

Called with no arguments it connects the way the kit always does (``REDIS_URL``, else a
private server, else fakeredis) and watches every key (no prefix): on Binder, with ``REDIS_URL``
pointing at the class's Redis, that is the whole class. Numbers a backend cannot give show as
``n/a`` with the reason; nothing is made up.
"""

from __future__ import annotations

import html
import io
import threading
import time
from typing import Any

import ipywidgets as widgets
import redis

from ..app import helpdesk_queue
from ..keys import KeySchema
from ..metrics import MetricsCollector, Snapshot, catalogue
from ..metrics.sources import CacheCounters, QueueInspector
from ..metrics.tuning import Thresholds, tuning_table

__all__ = ["INFO_MEMORY_FIELDS", "KEY_METRICS", "Dashboard", "dashboard"]

#: The ``INFO memory`` fields lesson 08 explains, in the order it explains them.
INFO_MEMORY_FIELDS = ("used_memory", "used_memory_human", "used_memory_peak",
                      "used_memory_peak_human", "maxmemory", "maxmemory_policy",
                      "mem_fragmentation_ratio")

#: The numbers on the dashboard's first line, in order: (metric name, label), from the catalogue.
KEY_METRICS: tuple[tuple[str, str], ...] = tuple((m.name, m.label) for m in catalogue.DASHBOARD)


class Dashboard(widgets.VBox):
    """A live view of one :class:`MetricsCollector`. ``refresh()`` is the whole update."""

    def __init__(self, collector: MetricsCollector, *, refresh_s: float = 1.0,
                 history: int = 120, thresholds: Thresholds | None = None,
                 title: str = "Redis monitor") -> None:
        if refresh_s <= 0:
            raise ValueError(f"refresh_s must be positive, got {refresh_s}")
        self.collector = collector
        self.refresh_s = refresh_s
        self.max_history = history
        self.thresholds = thresholds
        self.title = title
        #: (seconds since the first refresh, queue length, hit rate or None), oldest first
        self.history: list[tuple[float, int | None, float | None]] = []
        self.refreshes = 0
        self.last: Snapshot | None = None
        self._started = time.monotonic()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

        self.header = widgets.HTML()
        self.numbers = widgets.HTML()
        self.table = widgets.HTML()
        self.chart = widgets.Image(format="png")
        self.live = widgets.ToggleButton(value=False, description="Live", icon="play")
        self.refresh_button = widgets.Button(description="Refresh now", icon="refresh")
        self.live.observe(self._on_live, names="value")
        self.refresh_button.on_click(lambda _: self.refresh())
        super().__init__([self.header, widgets.HBox([self.live, self.refresh_button]),
                          self.numbers, self.table, self.chart])
        self.refresh()

    # --- one refresh ---------------------------------------------------------------------
    def refresh(self) -> Snapshot:
        """Take a snapshot and show it: numbers, tuning table, chart. Returns the snapshot."""
        with self._lock:
            snap = self.collector.snapshot()
            self.last = snap
            self.refreshes += 1
            pending = snap.value(catalogue.QUEUE_PENDING.name)
            rate = snap.value(catalogue.CACHE_HIT_RATE.name)
            if rate is None and self.collector.cache is None:
                # No Cache to ask (a class's screen): the server's rate, which counts every
                # read of every client. A Cache not read yet has no rate: a gap, not the
                # dashboard's own reads rated as hits.
                rate = snap.value(catalogue.REDIS_KEYSPACE_HIT_RATE.name)
            self.history.append((snap.monotonic - self._started,
                                 None if pending is None else int(pending),
                                 None if rate is None else float(rate)))
            del self.history[:-self.max_history]
            self.header.value = self._header_html(snap)
            self.numbers.value = numbers_html(snap)
            self.table.value = tuning_table(snap, self.thresholds)._repr_html_()
            self.chart.value = chart_png(self.history)
            return snap

    def _header_html(self, snap: Snapshot, running: bool | None = None) -> str:
        state = "live" if (self.running if running is None else running) else "paused"
        backend = f" · backend {html.escape(snap.backend)}" if snap.backend else ""
        prefix = f" · keys under {html.escape(snap.key_prefix)!s}" if snap.key_prefix else ""
        return (f"<b>{html.escape(self.title)}</b>{backend}{prefix} · "
                f"{snap.taken_at:%H:%M:%S} UTC · refresh #{self.refreshes} ({state})")

    # --- running in the background -------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self, duration_s: float | None = None) -> threading.Thread:
        """Refresh every ``refresh_s`` until :meth:`stop` (or for ``duration_s`` seconds)."""
        if self._thread is not None and self._thread.is_alive():  # already running
            return self._thread
        self._stop.clear()
        deadline = None if duration_s is None else time.monotonic() + duration_s
        self._thread = threading.Thread(target=self._loop, args=(deadline,), daemon=True,
                                        name="dashboard")
        self._thread.start()
        self.live.value = True  # no change event when it already is (the toggle started us)
        return self._thread

    def stop(self, wait: bool = True) -> None:
        """Stop refreshing (after the refresh in progress, if any)."""
        self._stop.set()
        if wait and self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join()
        self.live.value = False

    def wait(self, timeout: float | None = None) -> None:
        """Block until a bounded run (``start(duration_s=...)``) has finished."""
        if self._thread is not None:
            self._thread.join(timeout)

    def _loop(self, deadline: float | None) -> None:
        error: str | None = None
        while not self._stop.is_set():
            try:
                self.refresh()
                error = None
            except Exception as exc:  # Redis went away: say so, keep trying
                error = str(exc)
                self.header.value = (f"<b>{html.escape(self.title)}</b> · "
                                     f"<span style='color:#b00'>{html.escape(error)}</span>")
            if deadline is not None and time.monotonic() >= deadline:
                break
            self._stop.wait(self.refresh_s)
        self.live.value = False
        if self.last is not None and error is None:
            self.header.value = self._header_html(self.last, running=False)

    def _on_live(self, change: dict[str, Any]) -> None:
        if change["new"] and not self.running:
            self.start()
        elif not change["new"] and self.running:
            self._stop.set()


def numbers_html(snap: Snapshot) -> str:
    """The key numbers as a row of boxes; ``n/a`` boxes carry the reason as a tooltip."""
    boxes = []
    for name, label in KEY_METRICS:
        metric = snap.metrics.get(name)
        if metric is None:
            continue
        tip = html.escape(metric.reason or metric.source, quote=True)
        boxes.append(
            f"<div title='{tip}' style='display:inline-block;margin:0 1.2em .4em 0'>"
            f"<div style='font-size:1.3em'><b>{html.escape(metric.display())}</b></div>"
            f"<div style='color:#555'>{html.escape(label)}</div></div>"
        )
    return "<div>" + "".join(boxes) + "</div>"


def chart_png(history: list[tuple[float, int | None, float | None]]) -> bytes:
    """Queue length and hit rate over time as a PNG (Matplotlib's object API: thread-safe)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.5, 2.2), dpi=80)
    ax = fig.add_subplot()
    times = [t for t, _, _ in history]
    ax.plot(times, [p if p is not None else float("nan") for _, p, _ in history],
            color="tab:blue", label="queue length")
    ax.set_xlabel("seconds")
    ax.set_ylabel("tasks pending", color="tab:blue")
    rate_ax = ax.twinx()
    rate_ax.plot(times, [r * 100 if r is not None else float("nan") for _, _, r in history],
                 color="tab:green", label="hit rate")
    rate_ax.set_ylim(0, 100)
    rate_ax.set_ylabel("hit rate %", color="tab:green")
    fig.subplots_adjust(left=0.1, right=0.88, bottom=0.22, top=0.95)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


def dashboard(client: redis.Redis | None = None, keys: KeySchema | None = None, *,
              cache: CacheCounters | None = None, queue: QueueInspector | None = None,
              backend: str | None = None, refresh_s: float = 1.0,
              duration_s: float | None = None, start: bool = True,
              thresholds: Thresholds | None = None) -> Dashboard:
    """The dashboard widget. Without ``client`` it connects from the environment.

    ``cache`` / ``queue`` add the app's own hit rate and the reliable queue's lists; without a
    queue the queue length is still read (``LLEN tasks:pending`` under ``keys``). With
    ``start`` it refreshes in the background right away, for ``duration_s`` seconds (None:
    until stopped - an instructor's screen).
    """
    if client is None:
        # Redis alone, not HelpdeskApp.from_settings: that also opens the database, and a
        # dashboard that only watches Redis must not need one (nor stop when it is down).
        from ..backends import connect
        from ..config import Settings

        settings = Settings.from_env()
        connected = connect(settings)
        client = connected.client
        backend = backend or connected.kind
        keys = keys or KeySchema(prefix=settings.key_prefix)
    if queue is None:
        queue = helpdesk_queue(client, keys or KeySchema())
    collector = MetricsCollector(client, keys, cache=cache, queue=queue, backend=backend)
    board = Dashboard(collector, refresh_s=refresh_s, thresholds=thresholds)
    if start:
        board.start(duration_s)
    return board
