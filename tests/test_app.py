"""The app: the design's server actions over the store, the cache and the queue."""

from __future__ import annotations

import logging

import pytest
import redis

from helpdesk_kit.app import HelpdeskApp, helpdesk_queue
from helpdesk_kit.cache import Cache
from helpdesk_kit.config import Settings
from helpdesk_kit.db.sample import SAMPLE_NOW
from helpdesk_kit.errors import DatabaseError, InvalidationError
from helpdesk_kit.lessons import show_logs
from helpdesk_kit.queue import Task

APP_LOG = "helpdesk_kit.app"


@pytest.fixture
def app(backend, keys, store) -> HelpdeskApp:
    """The app with Redis (real or fake), on the sample store; the clock fixed for repeats."""
    client = backend.client
    return HelpdeskApp(store, Cache(client, keys), helpdesk_queue(client, keys),
                       clock=lambda: SAMPLE_NOW)


@pytest.fixture
def plain(store) -> HelpdeskApp:
    """The same app without Redis."""
    return HelpdeskApp(store, clock=lambda: SAMPLE_NOW)


def pending(app: HelpdeskApp) -> list[Task]:
    raw = app.queue.client.lrange(app.queue.keys.tasks_pending, 0, -1)
    return [Task.from_json(item) for item in raw]


def counts(app: HelpdeskApp) -> dict[str, int]:
    return app.store.counts()


def test_get_ticket_miss_then_hit_with_log_lines(app, store, caplog) -> None:
    caplog.set_level(logging.INFO, logger=APP_LOG)
    first = app.get_ticket(5)
    second = app.get_ticket(5)
    assert first == {"success": True, "ticket": store.get_ticket(5)}
    assert second == first
    lines = [r.getMessage() for r in caplog.records if r.name == APP_LOG]
    assert lines == ["Cache MISS ticket:5", "Cache HIT ticket:5"]
    stats = app.cache.stats()["ticket"]
    assert (stats.hits, stats.misses) == (1, 1)


def test_unknown_ticket_is_success_with_none(app) -> None:
    assert app.get_ticket(99_999) == {"success": True, "ticket": None}


def test_get_user_and_list_are_cached(app, store, caplog) -> None:
    caplog.set_level(logging.INFO, logger=APP_LOG)
    assert app.get_user(3) == {"success": True, "user": store.get_user(3)}
    app.get_user(3)
    page = app.list_tickets()
    assert page["success"] and page["tickets"] == store.list_tickets(limit=100)
    assert app.list_tickets()["tickets"] == page["tickets"]
    high = app.list_tickets(priority="high", limit=10)
    assert high["tickets"] == store.list_tickets(priority="high", limit=10)
    messages = [r.getMessage() for r in caplog.records if r.name == APP_LOG]
    assert messages[:2] == ["Cache MISS user:3", "Cache HIT user:3"]
    assert messages[2].startswith("Cache MISS tickets:") and messages[3].startswith("Cache HIT")
    assert app.cache.stats()["tickets"].hits == 1


def test_update_ticket_invalidates(app, store) -> None:
    before = app.get_ticket(7)["ticket"]  # now cached
    result = app.update_ticket(7, status="closed", title="  Renamed  ")
    assert result["success"] and "warning" not in result
    after = app.get_ticket(7)["ticket"]
    assert after == store.get_ticket(7)
    assert (after.status, after.title, after.version) == ("closed", "Renamed",
                                                          before.version + 1)


def test_update_makes_cached_lists_stale(app, store) -> None:
    app.list_tickets(limit=5)
    target = store.list_tickets(limit=300)[-1]  # the least recently active ticket
    app.update_ticket(target.id, priority="urgent")  # bumps it to the top
    assert app.list_tickets(limit=5)["tickets"][0].id == target.id


def test_create_ticket_enqueues_one_well_formed_task(app, store) -> None:
    rows_before = counts(app)["tickets"]
    result = app.create_ticket(4, "Printer on fire", "Smoke", priority="high")
    assert result["success"] and result["notification"] == "queued"
    ticket = store.get_ticket(result["ticketId"])
    assert (ticket.title, ticket.requester_id, ticket.priority) == ("Printer on fire", 4, "high")
    assert counts(app)["tickets"] == rows_before + 1
    [task] = pending(app)
    assert task.type == "send_notifications"
    assert task.payload == {"ticketId": ticket.id, "usuarioId": 4, "tipo": "ticket_creado"}
    assert task.id == result["taskId"] and task.timestamp > 0
    assert counts(app)["notifications"] == 0  # nothing sent yet: a worker will


def test_create_ticket_clears_a_cached_missing_row_and_lists(app, store) -> None:
    next_id = store.counts()["tickets"] + 1
    assert app.get_ticket(next_id)["ticket"] is None  # cached as "missing"
    app.list_tickets()
    created = app.create_ticket(2, "New one")
    assert created["ticketId"] == next_id
    assert app.get_ticket(next_id)["ticket"].title == "New one"
    assert app.list_tickets()["tickets"][0].id == next_id


def test_create_ticket_inline_processes_the_notification(app) -> None:
    result = app.create_ticket(4, "Inline please", inline=True)
    assert result["notification"] == "inline"
    assert pending(app) == []
    rs = app.store.db.execute("SELECT ticket_id, user_id, kind, task_id FROM notifications")
    assert [tuple(r) for r in rs.rows] == [(result["ticketId"], 4, "ticket_creado",
                                            result["taskId"])]


def test_add_comment_bumps_activity_invalidates_and_enqueues(app, store) -> None:
    ticket = app.get_ticket(9)["ticket"]  # cached
    comments_before = len(store.list_interactions(9))
    author = ticket.owner_id or ticket.requester_id + 1
    result = app.add_comment(9, author, "Looking into it")
    assert result["success"]
    assert len(store.list_interactions(9)) == comments_before + 1
    fresh = app.get_ticket(9)["ticket"]
    assert fresh.version == ticket.version + 1 and fresh.updated_at == SAMPLE_NOW
    [task] = pending(app)
    assert task.payload == {"ticketId": 9, "usuarioId": ticket.requester_id,
                            "tipo": "comentario_agregado"}


@pytest.mark.parametrize(("action", "args", "message"), [
    ("create_ticket", (4, "   "), "title"),
    ("create_ticket", (4, "Title"), "priority"),
    ("create_ticket", (999, "Title"), "does not exist"),
    ("create_ticket", (0, "Title"), "integer >= 1"),
    ("update_ticket", (99_999,), "does not exist"),
    ("update_ticket", (5,), "nothing to change"),
    ("add_comment", (99_999, 1, "hi"), "does not exist"),
    ("add_comment", (5, 1, ""), "body"),
    ("add_comment", (5, 999, "hi"), "does not exist"),
    ("get_ticket", ("5",), "integer >= 1"),
])
def test_bad_input_is_an_error_result_and_writes_nothing(app, action, args, message) -> None:
    kwargs: dict = {}
    if action == "create_ticket" and message == "priority":
        kwargs = {"priority": "whenever"}
    if action == "update_ticket" and args == (99_999,):
        kwargs = {"status": "closed"}
    before = counts(app)
    result = getattr(app, action)(*args, **kwargs)
    assert result["success"] is False and message in result["error"]
    assert counts(app) == before
    assert pending(app) == []


def test_update_rejects_unknown_fields_and_bad_status(app, store) -> None:
    before = store.get_ticket(5)
    assert "cannot change" in app.update_ticket(5, version=99)["error"]
    assert "status" in app.update_ticket(5, status="done", title="x")["error"]
    assert store.get_ticket(5) == before


def test_list_rejects_bad_filters(app) -> None:
    assert "status" in app.list_tickets(status="nope")["error"]
    assert "limit" in app.list_tickets(limit=0)["error"]
    assert "offset" in app.list_tickets(offset=-1)["error"]


def test_app_without_redis_reads_the_store_and_notifies_inline(plain, store) -> None:
    assert repr(plain).endswith("without Redis)")
    assert plain.get_ticket(5)["ticket"] == store.get_ticket(5)
    result = plain.add_comment(5, 2, "no Redis here")
    assert result["notification"] == "inline"
    assert store.counts()["notifications"] == 1


def test_enqueue_failure_falls_back_to_inline(app, store, monkeypatch) -> None:
    def down(*_args, **_kwargs):
        raise redis.ConnectionError("Redis is down")

    monkeypatch.setattr(app.queue, "enqueue", down)
    result = app.create_ticket(4, "Still notified")
    assert result["success"] and result["notification"] == "inline"
    assert store.counts()["notifications"] == 1


def test_failed_invalidation_is_a_warning_not_silence(app, store, monkeypatch) -> None:
    def broken(_ticket_id):
        raise InvalidationError("Redis refused")

    monkeypatch.setattr(app.cache, "invalidate_ticket", broken)
    result = app.update_ticket(6, priority="low")
    assert result["success"] and "stale" in result["warning"]
    assert store.get_ticket(6).priority == "low"


def test_from_settings_and_close(settings: Settings) -> None:
    app = HelpdeskApp.from_settings(settings, prefer="fake")
    with app:
        assert app.get_ticket(1) == {"success": True, "ticket": None}  # empty database
        assert app.redis is not None
    assert app.closed
    assert app.get_ticket(1) == {"success": False, "error": "the app is closed"}
    with pytest.raises(DatabaseError):  # the store was released, not just forgotten
        app.store.db.execute("SELECT 1")
    app.close()  # twice is fine


def test_show_logs_prints_the_app_log_to_stdout_once(app, capsys) -> None:
    logger = logging.getLogger("helpdesk_kit")
    old_level, old_handlers = logger.level, list(logger.handlers)
    try:
        show_logs()
        show_logs()
        app.get_ticket(3)
        assert capsys.readouterr().out == f"INFO {APP_LOG}: Cache MISS ticket:3\n"
    finally:
        logger.handlers[:] = old_handlers
        logger.setLevel(old_level)


def _break_notifications(store) -> None:
    """Make every notification insert fail (a database error after the row is committed)."""
    store.db.execute("ALTER TABLE notifications RENAME TO notifications_gone")


def test_failed_inline_notification_without_a_queue_is_a_warning(plain, store, caplog) -> None:
    before = store.counts()["tickets"]
    _break_notifications(store)
    result = plain.create_ticket(4, "Saved anyway", inline=True)
    assert result["success"] is True  # a retry would create a second ticket
    assert result["notification"] == "failed" and "notification failed" in result["warning"]
    assert result["ticketId"] == before + 1
    assert store.get_ticket(result["ticketId"]).title == "Saved anyway"
    assert result["taskId"] in caplog.text  # logged with the task, so it can be replayed


def test_failed_inline_notification_is_queued_for_a_retry_with_the_same_id(app, store) -> None:
    _break_notifications(store)
    result = app.add_comment(5, 2, "Saved anyway", inline=True)
    assert result["success"] is True and result["notification"] == "failed"
    assert "queued for a worker to retry" in result["warning"]
    [task] = pending(app)
    assert (task.id, task.type) == (result["taskId"], "send_notifications")
    assert task.payload["ticketId"] == 5
    store.db.execute("ALTER TABLE notifications_gone RENAME TO notifications")
    app.queue.registry.get(task.type).handler(app.task_context(), task)  # the worker's retry
    assert store.counts()["notifications"] == 1


def test_notification_warning_and_stale_cache_warning_are_both_kept(app, store,
                                                                   monkeypatch) -> None:
    def broken(_ticket_id):
        raise InvalidationError("Redis refused")

    monkeypatch.setattr(app.cache, "invalidate_ticket", broken)
    _break_notifications(store)
    result = app.add_comment(5, 2, "Two problems", inline=True)
    assert result["success"] is True
    assert "stale" in result["warning"] and "notification failed" in result["warning"]


def test_inline_publish_failure_is_a_warning(app, store, dead_redis, monkeypatch) -> None:
    monkeypatch.setattr(app.cache, "client", dead_redis)  # publish fails; so does the retry
    monkeypatch.setattr(app.queue, "client", dead_redis)
    monkeypatch.setattr(app.cache, "invalidate_ticket", lambda _ticket_id: None)
    before = store.counts()["tickets"]
    result = app.create_ticket(4, "Redis went away", inline=True)
    assert result["success"] is True and result["notification"] == "failed"
    assert store.counts()["tickets"] == before + 1
    assert store.counts()["notifications"] == 1  # recorded before the publish failed


def test_from_settings_wires_one_prefix_ttl_and_retry(settings: Settings) -> None:
    from dataclasses import replace

    from helpdesk_kit.queue import RetryPolicy

    settings = replace(settings, cache_ttl=123)
    policy = RetryPolicy(5, base_delay_s=0.25)
    with HelpdeskApp.from_settings(settings, prefer="fake", retry=policy) as app:
        assert app.cache.ttl == 123
        assert app.cache.keys.prefix == app.queue.keys.prefix == settings.key_prefix
        assert app.keys is app.cache.keys
        assert app.queue.retry == policy
        assert app.queue.client is app.cache.client is app.redis
        context = app.task_context(SAMPLE_NOW)
        assert (context.store, context.cache, context.redis) == (app.store, app.cache, app.redis)
        assert (context.keys, context.now) == (app.keys, SAMPLE_NOW)
        assert app.task_context().now is None  # the real clock


def test_none_is_not_a_status_or_priority(app, store) -> None:
    before = store.counts()["tickets"]
    assert app.create_ticket(4, "No priority", priority=None)["success"] is False
    assert app.update_ticket(6, status=None)["error"].startswith("status must be one of")
    assert store.counts()["tickets"] == before
    assert store.get_ticket(6).status is not None
    with pytest.raises(DatabaseError, match="status must be one of"):
        store.update_ticket(6, status=None)
