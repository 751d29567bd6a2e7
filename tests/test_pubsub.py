"""The notifications subscriber (app.listen) on real Redis and fakeredis, and its decoder fuzzed."""

from __future__ import annotations

import json

import redis
from hypothesis import given, settings
from hypothesis import strategies as st

from helpdesk_kit.app import HelpdeskApp, helpdesk_queue
from helpdesk_kit.app.listen import Listener, Notification
from helpdesk_kit.cache import Cache
from helpdesk_kit.db import HelpdeskStore
from helpdesk_kit.keys import KeySchema

NOTE = {"taskId": "t1", "ticketId": 5, "usuarioId": 3, "tipo": "ticket_creado",
        "createdAt": "2026-06-01T09:00:00+00:00"}


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300) | st.text(max_size=300).map(str.encode)
       | st.dictionaries(st.sampled_from(sorted(NOTE)), st.none() | st.booleans()
                         | st.integers() | st.text(max_size=5), max_size=5)
       .map(lambda d: json.dumps({**NOTE, **d}).encode()))
def test_parse_gives_a_notification_or_none(data: bytes) -> None:
    note = Notification.parse(data)
    if note is not None:
        assert isinstance(note.ticket_id, int) and isinstance(note.user_id, int)
        assert note.task_id and note.kind and str(note)


def test_a_listener_hears_new_messages_and_drops_repeats_and_strangers(
        redis_client: redis.Redis, keys: KeySchema) -> None:
    with Listener(redis_client, keys) as listener:
        assert redis_client.pubsub_numsub(keys.notifications_channel)[0][1] == 1
        for data in (json.dumps(NOTE), b"\xff\xfe", "[1, 2]", json.dumps(NOTE),
                     json.dumps({**NOTE, "taskId": "t2", "ticketId": 6})):
            redis_client.publish(keys.notifications_channel, data)
        got = list(listener.listen(count=2, seconds=5))
    assert [n.ticket_id for n in got] == [5, 6]
    assert (listener.received, listener.repeats, listener.ignored) == (2, 1, 2)
    assert redis_client.pubsub_numsub(keys.notifications_channel)[0][1] == 0  # unsubscribed


def test_what_is_published_while_nobody_listens_is_gone(redis_client: redis.Redis,
                                                        keys: KeySchema) -> None:
    assert redis_client.publish(keys.notifications_channel, json.dumps(NOTE)) == 0
    with Listener(redis_client, keys) as listener:
        assert listener.get(timeout=0.2) is None  # Redis kept nothing for later
        assert redis_client.publish(keys.notifications_channel, json.dumps(NOTE)) == 1
        assert listener.get(timeout=2) is not None


def test_creating_and_commenting_tickets_notifies_a_listener(
        redis_client: redis.Redis, keys: KeySchema, store: HelpdeskStore) -> None:
    app = HelpdeskApp(store, Cache(redis_client, keys), helpdesk_queue(redis_client, keys))
    with Listener(redis_client, keys) as listener:
        created = app.create_ticket(3, "Printer on fire", inline=True)
        app.add_comment(created["ticketId"], 3, "Still burning", inline=True)
        notes = list(listener.listen(count=2, seconds=5))
    assert [(n.ticket_id, n.kind) for n in notes] == [(created["ticketId"], "ticket_creado"),
                                                      (created["ticketId"], "comentario_agregado")]
