"""The seed's three background tasks, doing real work on the database.

Every handler may run more than once for the same task (the reliable queue is *at least once*:
a worker killed after the work but before the ack hands the task to another worker). So each
one is idempotent:

- ``close_inactive_tickets`` closes what is still open; a second run finds nothing new, and it
  re-invalidates the tickets it closed (found by their ``updated_at``, which is this run's "now").
- ``send_notifications`` inserts with ``task_id`` UNIQUE (``INSERT OR IGNORE``): one row per
  task; the Redis message may be published twice, and carries ``task_id`` so readers can dedupe.
- ``archive_old_interactions`` copies a batch with ``INSERT OR IGNORE`` and deletes the same ids
  in one transaction: interrupted between batches, nothing is lost or copied twice.

Handlers get a :class:`TaskContext`: the store, the cache (to invalidate), the Redis client and
``now`` (pass ``db.sample.SAMPLE_NOW`` so the sample's dates give the same result every time).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

import redis

from .errors import TaskValidationError
from .keys import KeySchema
from .models import to_iso, utcnow
from .task_types import Task, TaskRegistry

if TYPE_CHECKING:
    from .db.store import HelpdeskStore

__all__ = [
    "ARCHIVE_BATCH",
    "REGISTRY",
    "TaskContext",
    "archive_old_interactions",
    "close_inactive_tickets",
    "send_notifications",
]

#: Rows moved per transaction by ``archive_old_interactions`` (small: short write locks).
ARCHIVE_BATCH = 500


class TicketInvalidator(Protocol):
    """The part of ``cache.Cache`` the tasks use."""

    def invalidate_tickets(self, ids: Any) -> Any: ...


@dataclass
class TaskContext:
    """What a handler may touch. ``now=None`` means the real clock."""

    store: HelpdeskStore
    cache: TicketInvalidator | None = None
    redis: redis.Redis | None = None
    keys: KeySchema = field(default_factory=KeySchema)
    now: datetime | None = None

    def current_time(self, task: Task) -> datetime:
        """``now`` if fixed; else the moment the task was enqueued (the same on every retry)."""
        if self.now is not None:
            return self.now
        if task.timestamp > 0:
            return datetime.fromtimestamp(task.timestamp // 1000, UTC)
        return utcnow()


def close_inactive_tickets(ctx: TaskContext, task: Task) -> dict[str, Any]:
    """Close non-closed tickets whose last activity (``updated_at``) is ``days`` or more old.

    Closing is itself activity, so it bumps ``updated_at`` (to this run's now) and ``version``.
    Then the closed tickets leave the cache: a closed ticket must never be served as open.
    """
    now = ctx.current_time(task)
    stamp = to_iso(now)
    cutoff = to_iso(now - timedelta(days=task.payload["days"]))
    rs = ctx.store.db.execute(
        "UPDATE tickets SET status = 'closed', updated_at = ?, version = version + 1 "
        "WHERE status != 'closed' AND updated_at < ? RETURNING id",
        (stamp, cutoff),
    )
    closed = [row[0] for row in rs.rows]
    # A retry after a failed invalidation closes nothing new: find what this run's "now" closed.
    again = ctx.store.db.execute(
        "SELECT id FROM tickets WHERE status = 'closed' AND updated_at = ?", (stamp,)
    )
    to_invalidate = sorted({row[0] for row in again.rows} | set(closed))
    if ctx.cache is not None and to_invalidate:
        ctx.cache.invalidate_tickets(to_invalidate)
    return {"closed": len(closed), "invalidated": len(to_invalidate)}


def send_notifications(ctx: TaskContext, task: Task) -> dict[str, Any]:
    """Record a notification (one row per task) and publish it on the notifications channel.

    At least once, not exactly once: the row is written once per task (``task_id`` is UNIQUE,
    ``INSERT OR IGNORE``), but the Redis message is published again on every retry - a worker
    that dies after ``PUBLISH`` and before its ack hands the task to another worker, which
    publishes it a second time. The message carries ``taskId``: subscribers drop repeats.
    """
    p = task.payload
    exists = ctx.store.db.execute("SELECT 1 FROM tickets WHERE id = ?", (p["ticketId"],))
    if not exists.rows:
        raise TaskValidationError(f"send_notifications: ticket {p['ticketId']} does not exist")
    stamp = to_iso(ctx.current_time(task))
    rs = ctx.store.db.execute(
        "INSERT OR IGNORE INTO notifications (ticket_id, user_id, kind, created_at, task_id) "
        "VALUES (?, ?, ?, ?, ?)",
        (p["ticketId"], p["usuarioId"], p["tipo"], stamp, task.id),
    )
    receivers = 0
    if ctx.redis is not None:
        message = {"taskId": task.id, "ticketId": p["ticketId"], "usuarioId": p["usuarioId"],
                   "tipo": p["tipo"], "createdAt": stamp}
        receivers = int(ctx.redis.publish(ctx.keys.notifications_channel,  # type: ignore[arg-type]
                                          json.dumps(message)))
    return {"recorded": rs.rows_affected, "receivers": receivers}


def archive_old_interactions(ctx: TaskContext, task: Task) -> dict[str, Any]:
    """Move comments older than ``days`` to ``interactions_archive``, one transaction per batch."""
    now = ctx.current_time(task)
    cutoff = to_iso(now - timedelta(days=task.payload["days"]))
    batch_size = int(task.payload.get("batch", ARCHIVE_BATCH))
    archived = batches = 0
    while True:
        rs = ctx.store.db.execute(
            "SELECT id FROM interactions WHERE created_at < ? ORDER BY id LIMIT ?",
            (cutoff, batch_size),
        )
        ids = [row[0] for row in rs.rows]
        if not ids:
            break
        marks = ", ".join("?" for _ in ids)  # only "?" placeholders: the ids are parameters
        ctx.store.db.batch([
            ("INSERT OR IGNORE INTO interactions_archive "  # noqa: S608
             "(id, ticket_id, author_id, body, created_at, archived_at) "
             f"SELECT id, ticket_id, author_id, body, created_at, ? FROM interactions "
             f"WHERE id IN ({marks})", (to_iso(now), *ids)),
            (f"DELETE FROM interactions WHERE id IN ({marks})", ids),  # noqa: S608
        ])
        archived += len(ids)
        batches += 1
    return {"archived": archived, "batches": batches}


def _positive_days(payload: dict[str, Any]) -> str | None:
    if payload["days"] < 0:
        return f"'days' must be 0 or more, got {payload['days']}"
    batch = payload.get("batch", ARCHIVE_BATCH)
    if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
        return f"'batch' must be a positive int, got {batch!r}"
    return None


def _notification_ids(payload: dict[str, Any]) -> str | None:
    if payload["ticketId"] < 1 or payload["usuarioId"] < 1:
        return "'ticketId' and 'usuarioId' must be positive ids"
    if not payload["tipo"].strip():
        return "'tipo' must not be empty"
    return None


#: The seed's three task types. ``TaskQueue`` and ``Worker`` use this unless given another.
REGISTRY = TaskRegistry()
REGISTRY.register("close_inactive_tickets", close_inactive_tickets, {"days": int}, _positive_days)
REGISTRY.register("send_notifications", send_notifications,
                  {"ticketId": int, "usuarioId": int, "tipo": str}, _notification_ids)
REGISTRY.register("archive_old_interactions", archive_old_interactions, {"days": int},
                  _positive_days)
