"""The ticket event log (app.events) and its read model (app.readmodel), on both backends."""

from __future__ import annotations

from datetime import timedelta

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpdesk_kit.app import EventLog, HelpdeskApp, OpenByPriority, helpdesk_queue
from helpdesk_kit.app.events import TicketEvent, differences, rebuild
from helpdesk_kit.app.handlers import close_inactive_tickets
from helpdesk_kit.app.readmodel import GROUP, open_counts
from helpdesk_kit.cache import Cache
from helpdesk_kit.db import HelpdeskStore
from helpdesk_kit.db.sample import SAMPLE_NOW
from helpdesk_kit.keys import KeySchema
from helpdesk_kit.queue import Task
from helpdesk_kit.vocab import TicketEventKind

LONG_AGO = SAMPLE_NOW - timedelta(days=60)


@pytest.fixture
def app(redis_client: redis.Redis, keys: KeySchema, store: HelpdeskStore) -> HelpdeskApp:
    """The app with an event log, its clock two months before the sample's "now"."""
    result = HelpdeskApp(store, Cache(redis_client, keys), helpdesk_queue(redis_client, keys),
                         clock=lambda: LONG_AGO)
    result.events = EventLog(redis_client, keys)
    return result


def _close_inactive(app: HelpdeskApp) -> dict[str, int]:
    return close_inactive_tickets(app.task_context(SAMPLE_NOW),
                                  Task("close_inactive_tickets", {"days": 30}))


def test_every_change_is_an_event_and_the_history_rebuilds_the_row(app: HelpdeskApp) -> None:
    assert app.events is not None
    ticket_id = app.create_ticket(3, "Printer on fire", priority="high")["ticketId"]
    app.update_ticket(ticket_id, priority="urgent", status="in_progress")
    app.add_comment(ticket_id, 3, "Still burning")
    assert _close_inactive(app)["closed"] >= 1  # ours is 60 days old: closed
    history = app.events.history(ticket_id)
    assert [e.kind for e in history] == ["created", "updated", "commented", "closed"]
    assert [e.version for e in history] == [1, 2, 3, 4]
    state = rebuild(history)
    assert state is not None and state.status == "closed" and state.priority == "urgent"
    assert state.comments == 1
    assert differences(state, app.store.get_ticket(ticket_id)) == {}  # the log agrees with the DB


def test_a_retried_close_appends_again_and_changes_nothing(app: HelpdeskApp) -> None:
    assert app.events is not None
    ticket_id = app.create_ticket(3, "Old ticket")["ticketId"]
    _close_inactive(app)
    _close_inactive(app)  # the same task once more (at least once): the same "now"
    history = app.events.history(ticket_id)
    assert [e.kind for e in history].count("closed") == 2  # appended twice...
    assert differences(rebuild(history), app.store.get_ticket(ticket_id)) == {}  # ...applied once


def test_rebuild_needs_the_creation(app: HelpdeskApp) -> None:
    assert app.events is not None
    app.update_ticket(5, priority="low")  # a sample ticket: created before the log began
    state = rebuild(app.events.history(5))
    assert state is None and differences(state, app.store.get_ticket(5)) == {
        "ticket": (False, True)}


def test_the_read_model_matches_the_database_and_catches_up(app: HelpdeskApp,
                                                            redis_client: redis.Redis,
                                                            keys: KeySchema) -> None:
    model = OpenByPriority(redis_client, keys)
    assert model.bootstrap(app.store) == app.store.counts()["tickets"]
    assert model.counts() == open_counts(app.store)
    new = app.create_ticket(3, "New", priority="urgent")["ticketId"]
    app.update_ticket(7, priority="high")
    assert model.catch_up() == 2 and model.counts() == open_counts(app.store)
    # stopped: changes keep coming, the group remembers where it was
    app.update_ticket(new, status="closed")
    for n in range(5):
        app.create_ticket(4, f"While the model was down {n}", priority="low")
    _close_inactive(app)
    assert model.lag() >= 7 and model.counts() != open_counts(app.store)
    model.catch_up(batch=3)
    assert model.lag() == 0 and model.counts() == open_counts(app.store)
    assert model.catch_up() == 0  # nothing new: nothing applied twice


def test_a_model_stopped_between_read_and_ack_applies_each_event_once(
        app: HelpdeskApp, redis_client: redis.Redis, keys: KeySchema) -> None:
    model = OpenByPriority(redis_client, keys, consumer="m1")
    model.bootstrap(app.store)
    app.create_ticket(3, "One", priority="high")
    app.create_ticket(3, "Two", priority="high")
    # the model read them and died before applying (nothing acked)
    redis_client.xreadgroup(GROUP, "m1", {keys.ticket_events: ">"}, count=10)
    assert redis_client.xpending(keys.ticket_events, GROUP)["pending"] == 2
    assert model.catch_up() == 2  # its own pending entries first (ID 0), then new ones
    assert model.counts() == open_counts(app.store)
    assert redis_client.xpending(keys.ticket_events, GROUP)["pending"] == 0


def test_foreign_entries_are_skipped_by_history_and_acked_by_the_model(
        app: HelpdeskApp, redis_client: redis.Redis, keys: KeySchema) -> None:
    assert app.events is not None
    model = OpenByPriority(redis_client, keys)
    model.bootstrap(app.store)
    redis_client.xadd(keys.ticket_events, {"kind": "exploded", "ticket": "1"})
    redis_client.xadd(keys.ticket_events, {"data": b"\xff"})  # type: ignore[dict-item]
    ticket_id = app.create_ticket(3, "Real")["ticketId"]
    assert [e.kind for e in app.events.history(ticket_id)] == ["created"]
    assert model.catch_up() == 1 and model.lag() == 0
    assert redis_client.xpending(keys.ticket_events, GROUP)["pending"] == 0


def test_a_failed_append_is_a_warning_not_a_failure(app: HelpdeskApp,
                                                    dead_redis: redis.Redis) -> None:
    app.events = EventLog(dead_redis)
    result = app.create_ticket(3, "Saved anyway")
    assert result["success"] and "event log" in result["warning"]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from([b"kind", b"ticket", b"version", b"at", b"data", b"x"]),
                       st.binary(max_size=40) | st.sampled_from(
                           [b"created", b"closed", b"7", b"-1", b"{}", b'{"status": 3}']),
                       max_size=6) | st.none())
def test_from_entry_gives_an_event_or_none(fields: dict[bytes, bytes] | None) -> None:
    event = TicketEvent.from_entry(b"1-0", fields)
    if event is not None:
        assert isinstance(event.kind, TicketEventKind) and event.ticket_id >= 1
        assert isinstance(event.data, dict)
        rebuild([event])  # folding any event of ours never raises
