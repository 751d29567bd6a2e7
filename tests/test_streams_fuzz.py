"""Fuzzing the streams queue's decoder: any fields, any bytes in, a task or a dead letter out.

The same properties as the list queue's (tests/test_fuzz.py): decoding raises only
TaskValidationError, and a good task behind any garbage entry is reached, on a real
redis-server and on fakeredis.
"""

from __future__ import annotations

import json
import uuid

import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpdesk_kit.app import helpdesk_queue
from helpdesk_kit.errors import TaskValidationError
from helpdesk_kit.keys import KeySchema
from helpdesk_kit.queue import StreamQueue
from helpdesk_kit.queue.stream_entries import decode_entry, entries, read_entries, text

FUZZ = settings(max_examples=60, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20)
deep = st.integers(min_value=1_000, max_value=100_000).map(lambda n: "[" * n + "]" * n)
values = (st.binary(max_size=300) | st.text(max_size=300).map(str.encode)
          | json_values.map(lambda v: json.dumps(v).encode()) | deep.map(str.encode)
          | st.just(b'{"type": "send_notifications", "payload": {"ticketId": "x"}}'))
names = st.sampled_from([b"task", b"TASK", b"", b"\xff", b"type"]) | st.binary(max_size=20)
fields = st.dictionaries(names, values, max_size=4)
GOOD = {"ticketId": 1, "usuarioId": 2, "tipo": "ticket_creado"}


@FUZZ
@given(entry_id=st.binary(max_size=30) | st.text(max_size=30),
       entry=fields | st.none() | st.dictionaries(st.text(max_size=8), st.text(max_size=50)))
def test_decode_entry_raises_only_task_validation_error(entry_id: object, entry: object) -> None:
    try:
        task = decode_entry(entry_id, entry, max_bytes=100_000)  # type: ignore[arg-type]
    except TaskValidationError as exc:
        assert str(exc)
        return
    assert isinstance(task.type, str) and isinstance(task.payload, dict)
    assert task.entry_id == text(entry_id)  # the id XACK will name, as text


@FUZZ
@given(reply=st.lists(st.tuples(st.binary(max_size=20) | st.none(), fields | st.none()),
                      max_size=4))
def test_entry_replies_of_any_shape_give_pairs(reply: list[tuple[object, object]]) -> None:
    pairs = entries(reply)
    assert all(isinstance(entry_id, str) for entry_id, _ in pairs)
    assert len(read_entries([[b"stream", reply]])) == len(pairs)


@FUZZ
@given(garbage=st.lists(fields.filter(bool), min_size=1, max_size=3))
def test_a_good_task_behind_any_garbage_entries_is_reached(
        redis_client: redis.Redis, garbage: list[dict[bytes, bytes]]) -> None:
    keys = KeySchema(prefix=f"fuzz:{uuid.uuid4().hex[:8]}:")
    base = helpdesk_queue(redis_client, keys)
    queue = StreamQueue(redis_client, keys, registry=base.registry, max_task_bytes=100_000)
    for entry in garbage:
        redis_client.xadd(keys.tasks_stream, entry)  # type: ignore[arg-type]
    good = queue.enqueue("send_notifications", GOOD)
    taken = []
    for _ in range(len(garbage) + 1):  # garbage that is a valid task comes out first
        task = queue.reserve("w1")
        if task is None:
            break
        taken.append(task)
        queue.ack("w1", task)
        if task.id == good.id:
            break
    assert taken and taken[-1].id == good.id
    assert queue.held_ids("w1") == []  # nothing left pending: buried or acked
    assert all(letter.error for letter in queue.dead_letters())
    assert len(queue.dead_letters()) + len(taken) == len(garbage) + 1
    redis_client.delete(*redis_client.scan_iter(f"{keys.prefix}*"))
