"""The design's three background tasks, doing real work on the database.

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
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

import redis

from ..errors import TaskValidationError
from ..keys import KeySchema
from ..models import to_iso, utcnow
from ..queue import RetryPolicy, Task, TaskQueue, TaskRegistry

if TYPE_CHECKING:
    from ..db.store import HelpdeskStore
    from .events import EventLog

__all__ = [
    "ARCHIVE_BATCH",
    "REGISTRY",
    "TaskContext",
    "archive_old_interactions",
    "close_inactive_tickets",
    "helpdesk_queue",
    "send_notifications",
]

#: Rows moved per transaction by ``archive_old_interactions`` (small: short write locks).
ARCHIVE_BATCH = 500


class TicketInvalidator(Protocol):
    """The part of ``cache.Cache`` the tasks use."""

    def invalidate_tickets(self, ids: Iterable[int]) -> None: ...


@dataclass
class TaskContext:
    """What a handler may touch. ``now=None`` means the real clock."""

    store: HelpdeskStore
    cache: TicketInvalidator | None = None
    redis: redis.Redis | None = None
    keys: KeySchema = field(default_factory=KeySchema)
    now: datetime | None = None
    #: The ticket event log (lesson 15): ``close_inactive_tickets`` appends ``closed`` events.
    events: EventLog | None = None

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
    Then the closed tickets leave the cache: a closed ticket must never be served as open;
    with an event log (``ctx.events``) each gets a ``closed`` event.
    """
    now = ctx.current_time(task)
    closed = ctx.store.close_inactive_tickets(now - timedelta(days=task.payload["days"]), now)
    # A retry after a failed invalidation closes nothing new: find what this run's "now" closed.
    to_invalidate = sorted(set(ctx.store.tickets_closed_at(now)) | set(closed))
    if ctx.cache is not None and to_invalidate:
        ctx.cache.invalidate_tickets(to_invalidate)
    if ctx.events is not None and to_invalidate:  # a retry appends again: the version dedupes
        rows = (ctx.store.get_ticket(ticket_id) for ticket_id in to_invalidate)
        ctx.events.closed([ticket for ticket in rows if ticket is not None])
    return {"closed": len(closed), "invalidated": len(to_invalidate)}


def send_notifications(ctx: TaskContext, task: Task) -> dict[str, Any]:
    """Record a notification (one row per task) and publish it on the notifications channel.

    At least once, not exactly once: the row is written once per task (``task_id`` is UNIQUE,
    ``INSERT OR IGNORE``), but the Redis message is published again on every retry - a worker
    that dies after ``PUBLISH`` and before its ack hands the task to another worker, which
    publishes it a second time. The message carries ``taskId``: subscribers drop repeats.
    """
    p = task.payload
    if not ctx.store.ticket_exists(p["ticketId"]):
        raise TaskValidationError(f"send_notifications: ticket {p['ticketId']} does not exist")
    now = ctx.current_time(task)
    recorded = ctx.store.record_notification(p["ticketId"], p["usuarioId"], p["tipo"], now,
                                             task.id)
    receivers = 0
    if ctx.redis is not None:
        message = {"taskId": task.id, "ticketId": p["ticketId"], "usuarioId": p["usuarioId"],
                   "tipo": p["tipo"], "createdAt": to_iso(now)}
        receivers = int(ctx.redis.publish(ctx.keys.notifications_channel,
                                          json.dumps(message)))
    return {"recorded": recorded, "receivers": receivers}


def archive_old_interactions(ctx: TaskContext, task: Task) -> dict[str, Any]:
    """Move comments older than ``days`` to ``interactions_archive``, one transaction per batch."""
    now = ctx.current_time(task)
    cutoff = now - timedelta(days=task.payload["days"])
    batch_size = int(task.payload.get("batch", ARCHIVE_BATCH))
    archived = batches = 0
    while moved := ctx.store.archive_interactions_batch(cutoff, batch_size, now):
        archived += moved
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


#: The design's three task types: the registry a queue for the helpdesk is built with.
REGISTRY = TaskRegistry()
REGISTRY.register("close_inactive_tickets", close_inactive_tickets, {"days": int}, _positive_days)
REGISTRY.register("send_notifications", send_notifications,
                  {"ticketId": int, "usuarioId": int, "tipo": str}, _notification_ids)
REGISTRY.register("archive_old_interactions", archive_old_interactions, {"days": int},
                  _positive_days)


def helpdesk_queue(client: redis.Redis, keys: KeySchema | None = None, *,
                   retry: RetryPolicy | None = None) -> TaskQueue:
    """A :class:`~helpdesk_kit.queue.TaskQueue` that accepts the helpdesk's three tasks."""
    return TaskQueue(client, keys, registry=REGISTRY, retry=retry)
