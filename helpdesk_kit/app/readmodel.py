"""A read model kept from the ticket event log: open tickets per priority (lesson 15).

Event sourcing's other half. The events say *what happened*; a read model is a small
structure shaped for one question ("how many open tickets of each priority?"), built by
reading the events, so the question costs one ``HGETALL`` instead of a scan of the table.

:class:`OpenByPriority` reads ``events:tickets`` through its own consumer group
(``read-model``), independent of any other reader:

1. :meth:`~OpenByPriority.bootstrap` starts it from the database: the group is created at the
   log's *end* (``$``) *first*, then every ticket's status, priority and version are copied
   (a snapshot). A change made during the copy is in the log after the group's start, so it
   is read again later - and skipped if the snapshot already had that version;
2. :meth:`~OpenByPriority.catch_up` reads what the group has not seen (``XREADGROUP ... >``),
   first re-reading its own pending entries (``0``: read but not acked when it last
   stopped), and for each batch writes the new states, moves the counts and ``XACK``\\ s the
   entries in one MULTI (under WATCH): an event is applied once, or not at all.

Stopped for a while, it loses nothing: the group's position stays in Redis, and the next
``catch_up`` reads the backlog (``lag``). It needs the events in order, so one consumer runs
it at a time (a second one would only slow it down: WATCH retries).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import redis

from ..backends.raw import bytes_reply
from ..backends.transaction import watched
from ..keys import KeySchema
from ..models import PRIORITIES
from ..queue.stream_entries import read_entries, text
from ..vocab import TicketEventKind
from .events import TicketEvent

if TYPE_CHECKING:
    from ..db.store import HelpdeskStore

__all__ = ["GROUP", "OPEN", "OpenByPriority", "open_counts"]

#: The read model's consumer group on the event log.
GROUP = "read-model"
#: The statuses counted as open (everything but ``closed``).
OPEN = frozenset({"open", "in_progress", "waiting"})
State = dict[str, Any]  # {"status": ..., "priority": ..., "version": ...}


def _all_tickets(store: HelpdeskStore, page: int = 500) -> Iterator[Any]:
    offset = 0
    while rows := store.list_tickets(limit=page, offset=offset):
        yield from rows
        offset += len(rows)


def open_counts(store: HelpdeskStore) -> dict[str, int]:
    """Open tickets per priority, counted in the database (to compare with the model)."""
    counts = dict.fromkeys(PRIORITIES, 0)
    for ticket in _all_tickets(store):
        if ticket.status in OPEN:
            counts[ticket.priority] += 1
    return counts


def _next(state: State | None, event: TicketEvent) -> State | None:
    """The ticket's state after ``event``, or None if the event changes nothing we know."""
    if state is not None and event.version <= int(state["version"]):
        return None  # applied already (the snapshot had it, or a retried task appended twice)
    if event.kind == TicketEventKind.CREATED:
        return {"status": event.data.get("status", "open"),
                "priority": event.data.get("priority", "medium"), "version": event.version}
    if state is None:
        return None  # a ticket the snapshot did not have: nothing to move
    after = {**state, "version": event.version}
    for name in ("status", "priority"):
        if isinstance(event.data.get(name), str):
            after[name] = event.data[name]
    if event.kind == TicketEventKind.CLOSED:
        after["status"] = "closed"
    return after


class OpenByPriority:
    """Open tickets per priority, kept from the event log by the consumer group ``read-model``."""

    def __init__(self, client: redis.Redis, keys: KeySchema | None = None, *,
                 consumer: str = "model") -> None:
        self.client = client
        self.keys = keys or KeySchema()
        self.consumer = consumer

    def __repr__(self) -> str:
        return f"OpenByPriority({self.counts()})"

    def bootstrap(self, store: HelpdeskStore) -> int:
        """Start again from the database: group at the log's end, then the snapshot.
        Returns how many tickets it copied."""
        log = self.keys.ticket_events
        with contextlib.suppress(redis.ResponseError):  # no log yet: nothing to destroy
            self.client.xgroup_destroy(log, GROUP)
        self.client.xgroup_create(log, GROUP, id="$", mkstream=True)  # before the snapshot
        self.client.delete(self.keys.ticket_states, self.keys.open_by_priority)
        counts = dict.fromkeys(PRIORITIES, 0)
        copied = 0
        pipe = self.client.pipeline(transaction=False)
        for ticket in _all_tickets(store):
            state = {"status": ticket.status, "priority": ticket.priority,
                     "version": ticket.version}
            pipe.hset(self.keys.ticket_states, str(ticket.id), json.dumps(state))
            if ticket.status in OPEN:
                counts[ticket.priority] += 1
            copied += 1
        pipe.hset(self.keys.open_by_priority, mapping=counts)  # type: ignore[arg-type]
        pipe.execute()
        return copied

    def catch_up(self, batch: int = 500) -> int:
        """Apply every event the group has not applied yet; returns how many changed the model
        (a repeat, or a change to a field it does not keep, is read and acked all the same)."""
        applied = 0
        for start in ("0", ">"):  # our own unacked entries first (a stop mid-batch), then new
            while True:
                got = read_entries(bytes_reply(
                    self.client, "XREADGROUP", "GROUP", GROUP, self.consumer, "COUNT", batch,
                    "STREAMS", self.keys.ticket_events, start))
                if not got:
                    break
                applied += self._apply(got)
        return applied

    def _apply(self, got: list[tuple[str, Any]]) -> int:
        events = [(entry_id, TicketEvent.from_entry(entry_id, fields)) for entry_id, fields in got]
        ids = sorted({str(e.ticket_id) for _id, e in events if e is not None})
        states_key = self.keys.ticket_states
        counts_key = self.keys.open_by_priority

        def build(pipe: Any) -> int:
            current = dict(zip(ids, pipe.hmget(states_key, ids), strict=True)) if ids else {}
            states = {k: json.loads(v) for k, v in current.items() if v is not None}
            moves: dict[str, int] = {}
            changed: dict[str, str] = {}
            applied = 0
            for _entry_id, event in events:
                if event is None:
                    continue  # not an event of ours (written by hand): acked, ignored
                key = str(event.ticket_id)
                before = states.get(key)
                after = _next(states.get(key), event)
                if after is None:
                    continue
                for state, step in ((before, -1), (after, +1)):
                    if state is not None and state["status"] in OPEN:
                        moves[state["priority"]] = moves.get(state["priority"], 0) + step
                states[key] = after
                changed[key] = json.dumps(after)
                applied += 1
            pipe.multi()
            if changed:
                pipe.hset(states_key, mapping=changed)
            for priority, step in moves.items():
                if step:
                    pipe.hincrby(counts_key, priority, step)
            pipe.xack(self.keys.ticket_events, GROUP, *(entry_id for entry_id, _ in events))
            return applied

        return watched(self.client, build, states_key)

    def counts(self) -> dict[str, int]:
        """The model's answer: open tickets per priority (one HGETALL)."""
        stored = self.client.hgetall(self.keys.open_by_priority)
        return {p: int(stored.get(p, 0)) for p in PRIORITIES}

    def lag(self) -> int:
        """Events in the log the group has not read yet (how far behind the model is)."""
        try:
            groups = self.client.xinfo_groups(self.keys.ticket_events)
        except redis.ResponseError:
            return 0
        group = next((g for g in groups if text(g["name"]) == GROUP), None)
        if group is None:
            return 0
        last = text(group["last-delivered-id"])
        return len(bytes_reply(self.client, "XRANGE", self.keys.ticket_events, f"({last}", "+"))
