"""The instructor's per-learner table: one row per learner of the class sharing this Redis.

Read with the instructor's user (``REDIS_URL`` from ``instructor.env``) by
:func:`~helpdesk_kit.lab.classroom_activity.activity`: each learner's keys, pending tasks,
dead letters, finished tasks, when they last did something, their open connections, and how
often Redis refused them a classmate's key or channel. The widget only shows those rows; it
refreshes itself every ``refresh_s`` seconds while the page is open (the instructor's
dashboard, served by Voila). On a Redis with no class (Binder, a laptop) it says so.
"""

from __future__ import annotations

import html
import threading

import ipywidgets as widgets
import redis

from ..errors import HelpdeskError
from ..lab.classroom_activity import (
    HEADERS,
    Activity,
    activity,
    idle_text,
    rate_text,
    server_hit_rate,
    shown_rows,
)
from ..lessons import Table, quiet_thread
from . import Shown

__all__ = ["HEADERS", "ClassroomTable", "activity_table", "classroom_table", "idle_text"]

NO_CLASS = ("No class on this Redis yet: `helpdesk-kit classroom create --learners N --out DIR`"
            " makes one (an ACL user and an env file per learner).")


def activity_table(rows: list[Activity], class_hit_rate: float | None = None) -> Table:
    """The rows as a :class:`~helpdesk_kit.lessons.Table` (HTML in a notebook, text in a CLI)."""
    caption = (f"{len(rows)} learner(s). Each hit rate is what the learner's caches "
               "published (HELPDESK_PUBLISH_STATS, in their env file; n/a until they read "
               "through one); the whole class's, INFO keyspace_hits: "
               f"{rate_text(class_hit_rate)}.")
    return Table(HEADERS, shown_rows(rows), caption=caption)


class ClassroomTable(Shown):
    """The live table. ``refresh()`` is the whole update; ``start``/``stop`` the timer."""

    def __init__(self, client: redis.Redis, *, refresh_s: float = 5.0) -> None:
        if refresh_s <= 0:
            raise ValueError(f"refresh_s must be positive, got {refresh_s}")
        self.client = client
        self.refresh_s = refresh_s
        self.rows: list[Activity] = []
        self.refreshes = 0
        self.error: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.header = widgets.HTML()
        self.table = widgets.HTML()
        self.button = widgets.Button(description="Refresh now", icon="refresh")
        self.button.on_click(lambda _: self.refresh())
        self.widget = widgets.VBox([self.header, self.button, self.table])
        self.refresh()

    def refresh(self) -> list[Activity]:
        """Read every learner's row again and show it (a refusal or an outage is shown too)."""
        rate: float | None = None
        try:
            self.rows = activity(self.client)
            rate = server_hit_rate(self.client) if self.rows else None
            self.error = None
        except (HelpdeskError, redis.RedisError) as exc:  # a learner's user, Redis down...
            self.error = str(exc)
        self.refreshes += 1
        title = "<b>Learners</b>"
        if self.error is not None:
            self.header.value = (f"{title} · <span style='color:#b00'>"
                                 f"{html.escape(self.error)}</span>")
        elif not self.rows:
            self.header.value = f"{title} · {html.escape(NO_CLASS)}"
            self.table.value = ""
        else:
            self.header.value = f"{title} · refresh #{self.refreshes}"
            self.table.value = activity_table(self.rows, rate)._repr_html_()
        return self.rows

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self, duration_s: float | None = None) -> None:
        """Refresh every ``refresh_s`` seconds until :meth:`stop` (or ``duration_s``)."""
        if self.running:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, args=(duration_s,), daemon=True,
                                        name="classroom-table")
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join()

    def _loop(self, duration_s: float | None) -> None:
        waited = 0.0
        with quiet_thread():
            while not self._stop.wait(self.refresh_s):
                self.refresh()
                waited += self.refresh_s
                if duration_s is not None and waited >= duration_s:
                    return


def classroom_table(client: redis.Redis | None = None, *, refresh_s: float = 5.0,
                    duration_s: float | None = None, start: bool = True) -> ClassroomTable:
    """The table widget; without ``client`` it connects from the environment (REDIS_URL)."""
    if client is None:
        from ..backends import connect

        client = connect().client
    table = ClassroomTable(client, refresh_s=refresh_s)
    if start:
        table.start(duration_s)
    return table
