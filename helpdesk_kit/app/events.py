"""The ticket event log: every ticket change appended to a stream (the design's "event sourcing").

The database stays the system of record; beside it, each change becomes one entry of the
stream ``events:tickets`` - ``created``, ``updated``, ``commented``, and ``closed`` by the
``close_inactive_tickets`` task - with the ticket's ``version`` after the change. Two things
follow from a log that keeps *what happened*, in order:

- **history**: :meth:`EventLog.history` reads a ticket's events back and :func:`rebuild` folds
  them into its state, which can be compared with the database's row (:func:`differences`);
- **read models**: :class:`~.readmodel.OpenByPriority` (in :mod:`.readmodel`) is a consumer
  group that keeps a count of open tickets per priority from the events alone. Stopped, it
  loses nothing: the group remembers what it has read, and ``catch_up`` reads the rest.

Appends are *after* the database write (like invalidation), and a retried task may append
twice: the version makes both harmless - a fold skips an event whose version it has already
applied. ``max_len`` caps the log (``MAXLEN ~``); a trimmed log cannot rebuild the tickets
whose creation it dropped, which is why the read model starts from a database snapshot.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import redis

from ..backends.raw import bytes_reply
from ..keys import KeySchema
from ..models import Interaction, Ticket, to_iso
from ..vocab import TicketEventKind

__all__ = ["FIELDS", "EventLog", "TicketEvent", "TicketState", "differences", "rebuild"]

log = logging.getLogger("helpdesk_kit.app")

#: The ticket fields an event may carry, and a rebuilt state compares with the database.
FIELDS = ("title", "description", "status", "priority", "requester_id", "owner_id")


def _text(value: object) -> str:
    return value.decode("utf-8", "backslashreplace") if isinstance(value, bytes) else str(value)


@dataclass(frozen=True)
class TicketEvent:
    """One entry of the log: what happened to which ticket, at which version, when."""

    kind: TicketEventKind
    ticket_id: int
    version: int
    at: str
    data: dict[str, Any] = field(default_factory=dict)
    entry_id: str = ""

    def fields(self) -> dict[str, str]:
        """The stream entry's fields (all text: the entry is readable with redis-cli)."""
        return {"kind": self.kind, "ticket": str(self.ticket_id), "version": str(self.version),
                "at": self.at, "data": json.dumps(self.data, separators=(",", ":"))}

    @classmethod
    def from_entry(cls, entry_id: Any, fields: Mapping[Any, Any] | None) -> TicketEvent | None:
        """The event in one stream entry, or None for anything that is not one of ours."""
        if not isinstance(fields, Mapping):
            return None
        raw = {_text(k): v for k, v in fields.items()}
        try:
            kind = TicketEventKind(_text(raw["kind"]))
            ticket = int(_text(raw["ticket"]))
            version = int(_text(raw["version"]))
            data = json.loads(_text(raw.get("data", "{}")))
        except (KeyError, ValueError, RecursionError):
            return None
        if ticket < 1 or version < 1 or not isinstance(data, dict):
            return None
        return cls(kind, ticket, version, _text(raw.get("at", "")), data, _text(entry_id))


@dataclass(frozen=True)
class TicketState:
    """A ticket as its events say it is (``comments``: how many ``commented`` events)."""

    ticket_id: int
    title: str
    description: str
    status: str
    priority: str
    requester_id: int
    owner_id: int | None
    version: int
    comments: int = 0


def rebuild(events: Iterable[TicketEvent]) -> TicketState | None:
    """Fold one ticket's events (oldest first) into its state; None without a ``created``."""
    state: TicketState | None = None
    for event in events:
        if event.kind == TicketEventKind.CREATED:
            if state is None:
                known: dict[str, Any] = {k: event.data.get(k) for k in FIELDS}
                state = TicketState(event.ticket_id, version=event.version, **known)
            continue
        if state is None or event.version <= state.version:
            continue  # before the log began, or a repeat (a retried task): applied already
        changes = {k: v for k, v in event.data.items() if k in FIELDS}
        if event.kind == TicketEventKind.CLOSED:
            changes["status"] = "closed"
        comments = state.comments
        if event.kind == TicketEventKind.COMMENTED:
            comments += 1
        state = replace(state, **changes, version=event.version, comments=comments)
    return state


def differences(state: TicketState | None, ticket: Ticket | None
                ) -> dict[str, tuple[Any, Any]]:
    """``{field: (from the log, from the database)}`` where they disagree; {} if they agree."""
    if state is None or ticket is None:
        return {} if state is ticket else {"ticket": (state is not None, ticket is not None)}
    fields = (*FIELDS, "version")
    return {name: (getattr(state, name), getattr(ticket, name)) for name in fields
            if getattr(state, name) != getattr(ticket, name)}


class EventLog:
    """Appends ticket events to ``events:tickets`` and reads them back."""

    def __init__(self, client: redis.Redis, keys: KeySchema | None = None, *,
                 max_len: int = 100_000) -> None:
        self.client = client
        self.keys = keys or KeySchema()
        self.max_len = max_len

    def __repr__(self) -> str:
        return f"EventLog({self.keys.ticket_events!r})"

    def append(self, events: Iterable[TicketEvent]) -> list[str]:
        """``XADD`` each event (one pipeline); returns their entry ids."""
        pipe = self.client.pipeline(transaction=False)
        for event in events:
            pipe.xadd(self.keys.ticket_events, event.fields(),  # type: ignore[arg-type]
                      maxlen=self.max_len, approximate=True)
        return [str(entry_id) for entry_id in pipe.execute()]

    def created(self, ticket: Ticket) -> list[str]:
        data = {name: getattr(ticket, name) for name in FIELDS}
        return self.append([TicketEvent(TicketEventKind.CREATED, ticket.id, ticket.version,
                                        to_iso(ticket.created_at), data)])

    def updated(self, ticket: Ticket, changes: Mapping[str, Any]) -> list[str]:
        data = {k: v for k, v in changes.items() if k in FIELDS}
        return self.append([TicketEvent(TicketEventKind.UPDATED, ticket.id, ticket.version,
                                        to_iso(ticket.updated_at), data)])

    def commented(self, ticket: Ticket, comment: Interaction) -> list[str]:
        """``ticket`` as it is *after* the comment (its version went up)."""
        data = {"comment_id": comment.id, "author_id": comment.author_id}
        return self.append([TicketEvent(TicketEventKind.COMMENTED, ticket.id, ticket.version,
                                        to_iso(comment.created_at), data)])

    def closed(self, tickets: Iterable[Ticket], reason: str = "inactive") -> list[str]:
        return self.append([TicketEvent(TicketEventKind.CLOSED, t.id, t.version,
                                        to_iso(t.updated_at), {"reason": reason})
                            for t in tickets])

    def read(self, start: str = "-", count: int | None = None) -> list[TicketEvent]:
        """Events from ``start`` on, oldest first (entries that are not events are skipped)."""
        args: list[Any] = ["XRANGE", self.keys.ticket_events, start, "+"]
        if count is not None:
            args += ["COUNT", count]
        events = (TicketEvent.from_entry(e[0], e[1]) for e in bytes_reply(self.client, *args))
        return [e for e in events if e is not None]

    def history(self, ticket_id: int, page: int = 1000) -> list[TicketEvent]:
        """One ticket's events, oldest first. The log is one stream, so this reads all of it
        (page by page): replaying *is* reading in order; a big system would keep an index."""
        found: list[TicketEvent] = []
        start = "-"
        while True:
            batch = bytes_reply(self.client, "XRANGE", self.keys.ticket_events, start, "+",
                                "COUNT", page)
            for entry_id, entry in batch:
                event = TicketEvent.from_entry(entry_id, entry)
                if event is not None and event.ticket_id == ticket_id:
                    found.append(event)
            if len(batch) < page:
                return found
            start = f"({_text(batch[-1][0])}"

    def length(self) -> int:
        return int(self.client.xlen(self.keys.ticket_events))

    def record(self, append: Callable[[EventLog], object]) -> dict[str, str]:
        """Run ``append(self)`` after a committed write: ``{}``, or a ``warning`` if Redis
        failed - as for invalidation, the row is saved, so the action still succeeded."""
        try:
            append(self)
        except redis.RedisError as exc:
            log.error("the change was saved, but not appended to the event log: %s", exc)
            return {"warning": f"saved, but not in the event log: {exc}"}
        return {}

