"""Lesson 16: the near cache - a live view of Redis' invalidation messages, and L1's state.

The experiments (staleness, the hit-cost ladder, a writer in another process) are
:mod:`helpdesk_kit.lab.near_cache`; this module shows them. :class:`InvalidationWatch`
subscribes to a :class:`~helpdesk_kit.cache.NearCache`'s messages and lists them as they
arrive, while its button makes the helpdesk app in *another process* update tickets.
"""

from __future__ import annotations

import html
import threading
import time
from collections.abc import Sequence

import ipywidgets as widgets

from ..cache import NearCache
from ..lab.near_cache import (
    FILE_RUNG,
    L1_RUNG,
    REDIS_RUNG,
    REMOTE_RUNG,
    Staleness,
    drop_tracking,
    fill,
    hit_ladder,
    ladder_plot,
    measure_staleness,
    redis_url,
    run_writer,
    staleness_plot,
)
from ..lessons import Lesson, Table, fmt_seconds
from . import Shown

__all__ = ["FILE_RUNG", "L1_RUNG", "REDIS_RUNG", "REMOTE_RUNG", "InvalidationWatch", "Staleness",
           "drop_tracking", "fill", "hit_ladder", "ladder_plot", "ladder_table",
           "measure_staleness", "near_state", "redis_url", "staleness_plot"]

#: The tickets the watch's button updates in another process.
WRITER_TICKETS = (3, 5, 8)


def near_state(near: NearCache) -> Table:
    """Where L1 stands: on or off (and why), what it holds, what it answered."""
    stats = near.near_stats()
    hits = sum(s.hits for s in stats.values())
    misses = sum(s.misses for s in stats.values())
    return Table(("L1", "value"), [
        ("state", near.reason), ("rows held", f"{len(near.local):,} of {near.local.size:,}"),
        ("reads answered by L1", f"{hits:,}"), ("reads that went to Redis", f"{misses:,}"),
        ("values refused (changed while read)", f"{sum(s.refused for s in stats.values()):,}")])


def ladder_table(ladder: dict[str, float]) -> Table:
    """The ladder's medians, and how many reads of the first rung fit in one of each."""
    first = next(iter(ladder.values()))
    return Table(("one read of the same ticket", "median", "reads of the first row in that time"),
                 [(name, fmt_seconds(seconds), f"{seconds / first:,.0f}")
                  for name, seconds in ladder.items()],
                 caption="What one read costs here (medians of 7 rounds, the levels interleaved)")


class InvalidationWatch(Shown):
    """The messages Redis sends this process's near cache, listed live as they arrive."""

    def __init__(self, lesson: Lesson, near: NearCache) -> None:
        self.lesson = lesson
        self.near = near
        self.url = redis_url(lesson.client, lesson.settings)
        #: (seconds since the last writer started, the key names; None: "every key")
        self.events: list[tuple[float, list[str] | None]] = []
        self._started = time.monotonic()
        self._lock = threading.Lock()
        near.listeners.append(self._heard)
        self.button = widgets.Button(description="write from another process", icon="pencil",
                                     layout=widgets.Layout(width="260px"))
        self.button.on_click(lambda _b: self._write_in_background())
        self.status = widgets.Label()
        self.log = widgets.HTML()
        if self.url is None or not near.active:
            self.button.disabled = True
            self.status.value = f"L1 is {near.reason}: no messages to watch here"
        else:
            self.status.value = (f"tickets {', '.join(map(str, WRITER_TICKETS))} will be updated "
                                 "by the helpdesk app in another process")
        self.widget = widgets.VBox([widgets.HBox([self.button, self.status]), self.log])
        self._render()

    def _heard(self, keys: list[str] | None, at: float) -> None:
        with self._lock:
            self.events.append((at - self._started, keys))
        self._render()

    def _render(self) -> None:
        with self._lock:
            recent = self.events[-12:]
        rows = "".join(
            f"<tr><td>{at * 1e3:,.1f} ms</td><td><code>"
            f"{html.escape(', '.join(keys) if keys is not None else '(every key: FLUSHDB)')}"
            f"</code></td></tr>" for at, keys in recent)
        self.log.value = ("<table><thead><tr><th>after the writer began</th><th>keys named on "
                          f"__redis__:invalidate</th></tr></thead><tbody>{rows}</tbody></table>"
                          f"<small>{len(self.events)} message(s) so far</small>")

    def write_elsewhere(self, ticket_ids: Sequence[int] = WRITER_TICKETS, pause: float = 0.2
                        ) -> list[tuple[int, float]]:
        """The app in another process updates these tickets, ``pause`` s apart; blocks until
        it is done and returns ``(ticket id, when)`` per update. The list of messages starts
        again with each run."""
        if self.url is None:
            raise RuntimeError("fakeredis lives inside this process: no other process can write")
        with self._lock:
            self.events.clear()
            self._started = time.monotonic()
        self._render()
        return run_writer(self.lesson.settings, self.url, ticket_ids, pause)

    def _write_in_background(self) -> None:
        self.button.disabled = True
        self.status.value = "another process is updating tickets..."

        def run() -> None:
            try:
                written = self.write_elsewhere()
                self.status.value = f"done: {len(written)} updates from another process"
            except Exception as exc:  # shown in the widget, never printed into a cell
                self.status.value = f"the writer failed: {exc}"
            finally:
                self.button.disabled = False

        threading.Thread(target=run, daemon=True, name="lesson16-writer").start()

    def keys_heard(self) -> set[str]:
        with self._lock:
            return {key for _, keys in self.events for key in keys or ()}

    def wait_heard(self, keys: set[str], timeout: float = 5.0) -> bool:
        """Wait (at most ``timeout`` s) until every one of ``keys`` was named by a message."""
        deadline = time.monotonic() + timeout
        while not keys <= self.keys_heard():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.01)
        return True

    def close(self) -> None:
        if self._heard in self.near.listeners:
            self.near.listeners.remove(self._heard)
