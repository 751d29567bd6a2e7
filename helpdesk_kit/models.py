"""The helpdesk's rows as small dataclasses: what the store returns and the cache stores.

Timestamps are timezone-aware ``datetime`` objects in UTC. In the database they are ISO 8601
text (``2026-05-01T09:30:00+00:00``), which sorts correctly as text; in the cache they are the
same text inside JSON, and :mod:`helpdesk_kit.cache` turns them back into ``datetime``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

__all__ = [
    "PRIORITIES",
    "ROLES",
    "STATUSES",
    "Interaction",
    "Ticket",
    "User",
    "from_iso",
    "to_iso",
    "utcnow",
]

STATUSES = ("open", "in_progress", "waiting", "closed")
PRIORITIES = ("low", "medium", "high", "urgent")
ROLES = ("customer", "agent", "admin")


def utcnow() -> datetime:
    """Now, in UTC, to the second (the precision the database stores)."""
    return datetime.now(UTC).replace(microsecond=0)


def to_iso(moment: datetime) -> str:
    """The one text form of a timestamp, in the database and in cached JSON."""
    if moment.tzinfo is None:
        raise ValueError(f"naive datetime {moment!r}: the kit stores UTC-aware times only")
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def from_iso(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


@dataclass(frozen=True)
class User:
    id: int
    name: str
    email: str
    role: str
    active: bool
    created_at: datetime


@dataclass(frozen=True)
class Ticket:
    id: int
    title: str
    description: str
    status: str
    priority: str
    requester_id: int
    owner_id: int | None
    created_at: datetime
    updated_at: datetime
    version: int  # +1 on every write (shown to learners); the cache guard uses Redis counters


@dataclass(frozen=True)
class Interaction:
    """A comment on a ticket (the design's "interacción")."""

    id: int
    ticket_id: int
    author_id: int
    body: str
    created_at: datetime
