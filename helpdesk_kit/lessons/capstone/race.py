"""Drill 1: the stale-read race, staged on the learner's ``get_ticket`` and ``update_ticket``.

Lesson 03's race, step by step and always in the same order - no threads racing, no sleeps:

1. a reader calls ``get_ticket``: Redis has no copy (a miss), so it reads the row from the
   database - the *old* row;
2. right then - inside the reader's database call, before it returns - a writer calls
   ``update_ticket``: the database gets the new status, and the cached copy is invalidated
   (there is none yet: the reader has not stored anything);
3. the reader goes on, and stores (or not) the row it read in step 1;
4. what does Redis hold now, and what does the next ``get_ticket`` return?

A cache that keeps the old row serves it for up to its TTL (300 s): the drill breaks. The same
steps run on the kit's own cache too, whose guard refuses the late write, so the report can say
what the kit did in the same place.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import redis

from ...cache import Cache
from ...db import HelpdeskStore
from ...keys import KeySchema
from ...models import Ticket
from ..output import capture_logs
from .parts import DRILLS
from .report import Finding, Verdict

__all__ = ["race_drill", "stage_race"]

PART = DRILLS[0]


class _SlowReaderStore:
    """The store, as the reader sees it: its first ticket read lets the writer act before it
    returns the row it read."""

    def __init__(self, store: HelpdeskStore, writer: Callable[[], Any]) -> None:
        self._store = store
        self._writer = writer
        self.read: Ticket | None = None
        self.fired = False

    def get_ticket(self, ticket_id: int) -> Ticket | None:
        row = self._store.get_ticket(ticket_id)
        if not self.fired:
            self.fired = True
            self.read = row
            self._writer()
        return row

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


def _status_in(client: redis.Redis, key: str) -> str | None:
    """The status field of the JSON cached at ``key`` (None: no key; ``"?"``: not readable)."""
    text = client.get(key)
    if text is None:
        return None
    try:
        return str(json.loads(text).get("status"))
    except (ValueError, AttributeError):
        return "?"


def stage_race(store: HelpdeskStore, client: redis.Redis, keys: KeySchema, ticket_id: int,
               read: Callable[[HelpdeskStore], str | None], write: Callable[[str], Any]
               ) -> tuple[Verdict, str, list[str]]:
    """Run the four steps: ``read(store)`` is a reader (it returns the status it got),
    ``write(new_status)`` the writer. Returns the verdict, a sentence, and the steps."""
    key = keys.ticket(ticket_id)
    client.delete(key)
    old = store.get_ticket(ticket_id)
    if old is None:
        raise ValueError(f"ticket {ticket_id} does not exist")
    new = "closed" if old.status != "closed" else "open"
    hooked = _SlowReaderStore(store, lambda: write(new))
    read(hooked)  # type: ignore[arg-type]
    if not hooked.fired:
        return (Verdict.BROKE, "get_ticket never read the database on a miss, so the race "
                "could not be staged: on a miss (GET answers nil) read store.get_ticket.", [])
    steps = [f"1. reader: {key} is not in Redis (a miss); it reads ticket {ticket_id} from "
             f"the database: status {old.status!r}",
             f"2. writer: update_ticket -> the database says {new!r}; the cached copy is "
             "invalidated (there is none yet)"]
    stored = _status_in(client, key)
    if stored is None:
        steps.append("3. reader: stores nothing - its row may be out of date")
    elif stored == old.status:
        steps.append(f"3. reader: stores the row it read in step 1: status {old.status!r}, "
                     "out of date already")
    else:
        steps.append(f"3. reader: Redis holds status {stored!r}")
    served = read(store)
    freshness = "fresh" if served == new else "STALE until the TTL runs out"
    steps.append(f"4. the next read gets status {served!r} - {freshness}")
    if served == new and stored in (None, new):
        return Verdict.HELD, "the writer's update won: no reader is served the old row.", steps
    return (Verdict.BROKE, f"the reader stored the old row after the writer's invalidation: "
            f"Redis serves status {old.status!r} while the database says {new!r}, to every "
            "reader, for up to 300 s. Deleting the key cannot stop a write that comes after "
            "the delete: the reader must find out, when it stores, that a writer came in "
            "between (lesson 03).", steps)


def _status_of(ticket: Any) -> str | None:
    """The status a ``get_ticket`` returned (a dict, or the kit's Ticket row)."""
    if isinstance(ticket, dict):
        return None if ticket.get("status") is None else str(ticket["status"])
    return getattr(ticket, "status", None)


def race_drill(store: HelpdeskStore, client: redis.Redis, keys: KeySchema,
               found: dict[str, Callable[..., Any]]) -> Finding:
    """Drill 1 on the learner's ``get_ticket`` and ``update_ticket``; the kit's cache beside."""
    get_ticket = found["get_ticket"]
    update_ticket = found["update_ticket"]
    ticket_id = store.counts()["tickets"] - 2  # none of the lesson's cells touches it
    try:
        verdict, sentence, steps = stage_race(
            store, client, keys, ticket_id,
            lambda hooked: _status_of(get_ticket(hooked, client, keys, ticket_id)),
            lambda status: update_ticket(store, client, keys, ticket_id, status=status))
    except Exception as exc:  # the learner's functions: their error is the finding
        return Finding(PART, Verdict.BROKE, f"it stopped with {type(exc).__name__}: {exc}")
    kit = Cache(client, keys)
    with capture_logs():
        kit_verdict, _, _ = stage_race(
            store, client, keys, ticket_id - 1,
            lambda hooked: _status_of(kit.get_ticket(ticket_id - 1,
                                                     lambda: hooked.get_ticket(ticket_id - 1))),
            lambda status: _kit_update(store, kit, ticket_id - 1, status))
    kit_did = ("The kit's cache, in the same steps, refused the late write: the ticket's "
               "generation had moved." if kit_verdict == Verdict.HELD
               else "The kit's cache kept the old row too.")
    return Finding(PART, verdict, f"{sentence} {kit_did}", tuple(steps))


def _kit_update(store: HelpdeskStore, cache: Cache, ticket_id: int, status: str) -> None:
    store.update_ticket(ticket_id, status=status)
    cache.invalidate_ticket(ticket_id)
