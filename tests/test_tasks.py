"""The three handlers: their effects on the sample database, idempotency, cache invalidation."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import redis

from helpdesk_kit.app import TaskContext
from helpdesk_kit.app.handlers import (
    archive_old_interactions,
    close_inactive_tickets,
    send_notifications,
)
from helpdesk_kit.cache import Cache
from helpdesk_kit.db import HelpdeskStore
from helpdesk_kit.db.sample import SAMPLE_NOW
from helpdesk_kit.errors import TaskValidationError
from helpdesk_kit.keys import KeySchema
from helpdesk_kit.models import to_iso
from helpdesk_kit.queue import Task


def _scalar(store: HelpdeskStore, sql: str, args: tuple = ()) -> int:
    return int(store.db.execute(sql, args).rows[0][0])


@pytest.fixture
def context(store: HelpdeskStore, redis_client: redis.Redis, keys: KeySchema) -> TaskContext:
    return TaskContext(store, Cache(redis_client, keys), redis_client, keys, SAMPLE_NOW)


def test_close_inactive_tickets_closes_and_invalidates(context: TaskContext,
                                                       store: HelpdeskStore) -> None:
    cutoff = to_iso(SAMPLE_NOW - timedelta(days=30))
    stale_ids = [r[0] for r in store.db.execute(
        "SELECT id FROM tickets WHERE status != 'closed' AND updated_at < ? ORDER BY id",
        (cutoff,)).rows]
    fresh_id = store.db.execute(
        "SELECT id FROM tickets WHERE status != 'closed' AND updated_at >= ? LIMIT 1",
        (cutoff,)).rows[0][0]
    assert stale_ids, "the sample should have inactive tickets"
    before = {i: store.get_ticket(i) for i in (*stale_ids, fresh_id)}
    cache = context.cache
    assert isinstance(cache, Cache)
    for ticket in before.values():
        cache.cache_ticket(ticket)

    result = close_inactive_tickets(context, Task("close_inactive_tickets", {"days": 30}))

    assert result["closed"] == len(stale_ids)
    for ticket_id in stale_ids:
        after = store.get_ticket(ticket_id)
        assert after.status == "closed" and after.version == before[ticket_id].version + 1
        assert after.updated_at == SAMPLE_NOW  # closing is activity
        assert cache.get_cached_ticket(ticket_id) is None  # never served open from the cache
    assert store.get_ticket(fresh_id).status == before[fresh_id].status
    assert cache.get_cached_ticket(fresh_id) == before[fresh_id]
    # Idempotent: a retry closes nothing new, but invalidates the same tickets again.
    again = close_inactive_tickets(context, Task("close_inactive_tickets", {"days": 30}))
    assert again["closed"] == 0 and again["invalidated"] >= len(stale_ids)


def test_send_notifications_records_once_and_publishes(context: TaskContext,
                                                       store: HelpdeskStore,
                                                       redis_client: redis.Redis,
                                                       keys: KeySchema) -> None:
    pubsub = redis_client.pubsub()
    pubsub.subscribe(keys.notifications_channel)
    assert pubsub.get_message(timeout=1)["type"] == "subscribe"
    task = Task("send_notifications", {"ticketId": 5, "usuarioId": 12, "tipo": "ticket_creado"})
    before = _scalar(store, "SELECT COUNT(*) FROM notifications")
    first = send_notifications(context, task)
    second = send_notifications(context, task)  # a redelivered task
    assert (first["recorded"], second["recorded"]) == (1, 0)
    rows = store.db.execute("SELECT ticket_id, user_id, kind, task_id FROM notifications "
                            "WHERE task_id = ?", (task.id,)).rows
    assert [tuple(r) for r in rows] == [(5, 12, "ticket_creado", task.id)]
    assert _scalar(store, "SELECT COUNT(*) FROM notifications") == before + 1
    message = pubsub.get_message(timeout=1)
    assert message is not None and json.loads(message["data"])["taskId"] == task.id
    pubsub.close()
    missing = Task("send_notifications", {"ticketId": 10**6, "usuarioId": 1, "tipo": "x"})
    with pytest.raises(TaskValidationError, match="does not exist"):
        send_notifications(context, missing)


def test_archive_old_interactions_moves_every_row_once(context: TaskContext,
                                                       store: HelpdeskStore) -> None:
    cutoff = to_iso(SAMPLE_NOW - timedelta(days=60))
    total = _scalar(store, "SELECT COUNT(*) FROM interactions")
    old = _scalar(store, "SELECT COUNT(*) FROM interactions WHERE created_at < ?", (cutoff,))
    assert 7 < old < total
    # As if an earlier, interrupted run had copied one row already: no duplicate may appear.
    first_old = store.db.execute("SELECT id FROM interactions WHERE created_at < ? "
                                 "ORDER BY id LIMIT 1", (cutoff,)).rows[0][0]
    store.db.execute("INSERT INTO interactions_archive SELECT id, ticket_id, author_id, body, "
                     "created_at, 'earlier' FROM interactions WHERE id = ?", (first_old,))

    result = archive_old_interactions(
        context, Task("archive_old_interactions", {"days": 60, "batch": 7}))

    assert result["archived"] == old and result["batches"] == -(-old // 7)
    assert _scalar(store, "SELECT COUNT(*) FROM interactions_archive") == old
    assert _scalar(store, "SELECT COUNT(*) FROM interactions") == total - old
    assert _scalar(store, "SELECT COUNT(*) FROM interactions WHERE created_at < ?",
                   (cutoff,)) == 0
    assert _scalar(store, "SELECT COUNT(*) FROM interactions i JOIN interactions_archive a "
                   "ON a.id = i.id") == 0
    again = archive_old_interactions(context, Task("archive_old_interactions", {"days": 60}))
    assert again == {"archived": 0, "batches": 0}


def test_handlers_use_the_enqueue_time_when_now_is_not_fixed(store: HelpdeskStore) -> None:
    context = TaskContext(store)
    task = Task("close_inactive_tickets", {"days": 1}, timestamp=1_700_000_000_000)
    assert to_iso(context.current_time(task)) == "2023-11-14T22:13:20+00:00"
