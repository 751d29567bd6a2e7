"""Lesson 15: the ticket event log, its read model, and what a failed append leaves behind.

- :class:`ReadModelLab` is the widget: change tickets through the app while the read model
  runs or is stopped, then let it catch up, and compare its counts with the database's;
- :func:`state_table` shows a rebuilt ticket beside its row in the database, field by field
  (no dataclass dumps in a lesson);
- :func:`lost_append` makes one ``XADD`` of the log fail after its database write committed -
  the dual write a lesson has to show before it shows the outbox.
"""

from __future__ import annotations

from typing import Any

import ipywidgets as widgets
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from ..app import EventLog, HelpdeskApp, OpenByPriority
from ..app.events import FIELDS, TicketState
from ..app.readmodel import open_counts
from ..lessons import Table, capture_logs
from ..models import Ticket
from . import Shown

__all__ = ["CHANGES", "ReadModelLab", "lost_append", "state_table"]

#: What the lab's button does, in turn: (ticket id, the changes) - a fixed story, so a run
#: of the lesson always shows the same counts.
CHANGES: tuple[tuple[int, dict[str, str]], ...] = (
    (20, {"status": "closed"}),
    (21, {"priority": "urgent"}),
    (22, {"status": "open", "priority": "high"}),
    (23, {"status": "closed"}),
    (24, {"priority": "low"}),
)


def state_table(state: TicketState | None, ticket: Ticket | None) -> Table:
    """Each field as the events say it and as the database row has it."""
    rows = [(name, getattr(state, name, None), getattr(ticket, name, None))
            for name in (*FIELDS, "version")]
    return Table(("field", "rebuilt from the log", "the database"), rows)


def lost_append(app: HelpdeskApp, ticket_id: int, **changes: Any) -> dict[str, Any]:
    """``update_ticket`` while the event log's Redis does not answer: the database commits,
    the ``XADD`` fails. Returns the action's result (a success, with a ``warning``)."""
    if app.events is None:
        raise ValueError("the app keeps no event log: app.events = EventLog(...)")
    good = app.events
    down = redis.Redis(port=1, retry=Retry(NoBackoff(), 0))  # nothing listens on port 1
    app.events = EventLog(down, good.keys)
    try:
        with capture_logs():
            return app.update_ticket(ticket_id, **changes)
    finally:
        app.events = good
        down.close()


class ReadModelLab(Shown):
    """Change tickets while the read model runs or is stopped; catch up; compare."""

    def __init__(self, app: HelpdeskApp, model: OpenByPriority) -> None:
        self.app = app
        self.model = model
        self.done = 0
        self.running = widgets.Checkbox(value=True, description="read model running")
        change = widgets.Button(description="change a ticket", icon="pencil")
        catch_up = widgets.Button(description="catch up")
        change.on_click(lambda _b: self.change())
        catch_up.on_click(lambda _b: self.catch_up())
        self.status = widgets.Label("")
        self.view = widgets.HTML()
        self.widget = widgets.VBox([widgets.HBox([change, self.running, catch_up]),
                                    self.status, self.view])
        self._show("the read model keeps open tickets per priority from the log")

    def table(self) -> Table:
        model = self.model.counts()
        database = open_counts(self.app.store)
        return Table(("", *model), [("read model", *model.values()),
                                    ("database", *database.values())],
                     caption=f"lag: {self.model.lag()} event(s) the model has not read")

    def _show(self, said: str) -> str:
        self.status.value = said
        self.view.value = self.table()._repr_html_()
        return said

    def change(self) -> str:
        """The next change of :data:`CHANGES` through the app (an event is appended); the
        model applies it at once if it is running."""
        ticket_id, changes = CHANGES[self.done % len(CHANGES)]
        self.done += 1
        with capture_logs():
            self.app.update_ticket(ticket_id, **changes)
        if self.running.value:
            self.model.catch_up()
        what = ", ".join(f"{k}={v}" for k, v in changes.items())
        return self._show(f"ticket {ticket_id}: {what}")

    def catch_up(self) -> str:
        applied = self.model.catch_up()
        return self._show(f"catch_up applied {applied} event(s)")
