"""Property-based fuzzing of every decoder: anything at all goes in, only documented errors out.

"Anything" is arbitrary text and bytes (not UTF-8 included), JSON nested deeper than the parser
goes, values over the size caps, and JSON of the right shape with the wrong types. The same
properties run on a real redis-server and on fakeredis (the ``backend`` fixture).
"""

from __future__ import annotations

import contextlib
import json
import uuid
from datetime import UTC, datetime

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpdesk_kit.app import helpdesk_queue
from helpdesk_kit.cache import Cache
from helpdesk_kit.cache.codec import (
    decode_ticket,
    decode_tickets,
    decode_user,
    encode_ticket,
    encode_user,
)
from helpdesk_kit.config import Settings
from helpdesk_kit.errors import CacheValueError, ConfigError, TaskValidationError
from helpdesk_kit.keys import KeySchema
from helpdesk_kit.models import PRIORITIES, ROLES, STATUSES, Ticket, User, to_iso
from helpdesk_kit.queue import Task

#: Enough examples to find the classic holes, few enough that both backends run in seconds.
FUZZ = settings(max_examples=60, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])

NOW = datetime(2026, 5, 1, 9, 30, tzinfo=UTC)
TICKET = Ticket(7, "Printer on fire", "smoke", "open", "high", 3, None, NOW, NOW, 1)

#: JSON values of any shape (small): what a stranger could SET under our key.
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20)
deep = st.integers(min_value=1_000, max_value=200_000).map(lambda n: "[" * n + "]" * n)
garbage = (st.binary(max_size=300) | st.text(max_size=300).map(str.encode)
           | json_values.map(lambda v: json.dumps(v).encode()) | deep.map(str.encode)
           | st.just(b"\xff\xfe\x00") | st.just(b'{"type": "close_inactive_tickets"'))


def _wrong_types() -> st.SearchStrategy[bytes]:
    """A ticket's JSON with one field replaced by a value of some other type."""
    good = json.loads(encode_ticket(TICKET))
    return st.builds(lambda name, value: json.dumps({**good, name: value}).encode(),
                     st.sampled_from(sorted(good)), json_values)


# --- the cache codec --------------------------------------------------------------------
@FUZZ
@given(st.text(max_size=500) | deep)
def test_decoders_raise_only_cache_value_error(text: str) -> None:
    for decode in (decode_user, decode_ticket, decode_tickets):
        with contextlib.suppress(CacheValueError):  # the one error a decoder may raise
            decode(text)


@pytest.mark.parametrize(("field", "value"), [
    ("id", "7"), ("requester_id", True), ("status", "burning"), ("priority", None),
    ("created_at", "yesterday"), ("created_at", "2026-05-01T09:30:00"), ("version", 1.5),
])
def test_a_ticket_with_a_wrong_type_is_not_a_ticket(field: str, value: object) -> None:
    data = {**json.loads(encode_ticket(TICKET)), field: value}
    with pytest.raises(CacheValueError, match=field):
        decode_ticket(json.dumps(data))


def test_a_user_with_active_no_or_an_unknown_role_is_not_a_user() -> None:
    user = {"id": 1, "name": "Ana", "email": "a@x", "role": "agent", "active": True,
            "created_at": "2026-05-01T09:30:00+00:00"}
    assert decode_user(json.dumps(user)).active is True
    for field, value in (("active", "no"), ("role", "root"), ("id", "1")):
        with pytest.raises(CacheValueError, match=field):
            decode_user(json.dumps({**user, field: value}))


@FUZZ
@given(raw=garbage | _wrong_types())
def test_any_bytes_under_a_ticket_key_are_a_counted_miss(redis_client: redis.Redis,
                                                         raw: bytes) -> None:
    keys = KeySchema(prefix=f"fuzz:{uuid.uuid4().hex[:8]}:")
    cache = Cache(redis_client, keys, max_value_bytes=100_000)
    redis_client.set(keys.ticket(7), raw)
    got = cache.get_ticket(7, lambda: TICKET)
    stats = cache.stats()["ticket"]
    if raw == b"null":  # the one special value: "no such row" (a negative hit)
        assert got is None and stats.negative_hits == 1
    else:  # anything else is served only if it decodes to a whole, well-typed ticket
        assert isinstance(got, Ticket)
    if stats.hits == 0:
        assert stats.misses == 1 and stats.loads == 1
        assert cache.get_ticket(7, lambda: None) == TICKET  # reloaded and cached again
    redis_client.delete(keys.ticket(7), keys.generation("ticket", 7))


def test_a_value_over_the_cap_is_a_miss_and_is_deleted(redis_client: redis.Redis,
                                                       keys: KeySchema) -> None:
    cache = Cache(redis_client, keys, max_value_bytes=1_000)
    redis_client.set(keys.ticket(7), encode_ticket(TICKET) + " " * 2_000)  # valid JSON, huge
    assert cache.get_ticket(7, lambda: TICKET) == TICKET
    assert cache.stats()["ticket"].corrupt == 1
    assert len(redis_client.get(keys.ticket(7)) or "") < 1_000  # replaced by the real row


def test_deep_nesting_and_non_utf8_are_misses_not_crashes(redis_client: redis.Redis,
                                                         keys: KeySchema) -> None:
    cache = Cache(redis_client, keys)
    for raw in (b"[" * 100_000 + b"]" * 100_000, b"\xff\xfe not text"):
        redis_client.set(keys.ticket(7), raw)
        assert cache.get_ticket(7, lambda: TICKET) == TICKET
    assert cache.stats()["ticket"].corrupt == 2


# --- tasks ------------------------------------------------------------------------------
@FUZZ
@given(raw=garbage)
def test_task_from_json_raises_only_task_validation_error(raw: bytes) -> None:
    try:
        task = Task.from_json(raw, max_bytes=100_000)
    except TaskValidationError:
        return
    assert isinstance(task.type, str) and isinstance(task.payload, dict)


@FUZZ
@given(payload=st.dictionaries(st.text(max_size=10), json_values | st.sets(st.integers()),
                               max_size=5))
def test_enqueue_takes_any_payload_or_says_why(redis_client: redis.Redis,
                                               payload: dict[str, object]) -> None:
    queue = helpdesk_queue(redis_client, KeySchema(prefix=f"fuzz:{uuid.uuid4().hex[:8]}:"))
    try:
        task = queue.enqueue("send_notifications", payload)
    except TaskValidationError as exc:
        assert str(exc)
        assert redis_client.llen(queue.keys.tasks_pending) == 0  # refused: nothing pushed
        return
    assert Task.from_json(task.raw or "").payload == payload


def test_a_task_over_the_cap_is_refused_on_enqueue(redis_client: redis.Redis,
                                                   keys: KeySchema) -> None:
    queue = helpdesk_queue(redis_client, keys)
    queue.max_task_bytes = 200
    with pytest.raises(TaskValidationError, match="HELPDESK_MAX_TASK_BYTES"):
        queue.enqueue("send_notifications", {"ticketId": 1, "usuarioId": 1, "tipo": "x" * 300})
    assert redis_client.llen(keys.tasks_pending) == 0


GOOD = {"ticketId": 1, "usuarioId": 2, "tipo": "ticket_creado"}


@FUZZ
@given(raw=garbage, mode=st.sampled_from(["dequeue", "reserve"]))
def test_a_good_task_behind_any_garbage_is_reached(redis_client: redis.Redis, raw: bytes,
                                                   mode: str) -> None:
    queue = helpdesk_queue(redis_client, KeySchema(prefix=f"fuzz:{uuid.uuid4().hex[:8]}:"))
    redis_client.rpush(queue.keys.tasks_pending, raw)
    good = queue.enqueue("send_notifications", GOOD)
    taken = []
    for _ in range(3):  # garbage that is a valid task comes out first, then ours
        task = queue.dequeue() if mode == "dequeue" else queue.reserve("w1")
        if task is None:
            break
        taken.append(task)
        if mode == "reserve":
            queue.ack("w1", task)
        if task.id == good.id:
            break
    assert taken and taken[-1].id == good.id
    assert redis_client.llen(queue.keys.tasks_processing("w1")) == 0
    for letter in queue.dead_letters():
        assert letter.error  # no dead letter lacks a reason
    redis_client.delete(*[k for k in redis_client.scan_iter(f"{queue.keys.prefix}*")])


# --- settings ---------------------------------------------------------------------------
@FUZZ
@given(name=st.sampled_from(["REDIS_SOCKET_TIMEOUT", "HELPDESK_CACHE_TTL",
                             "HELPDESK_MAX_VALUE_BYTES", "HELPDESK_MAX_TASK_BYTES",
                             "HELPDESK_REDIS_BACKEND", "HELPDESK_KEY_PREFIX"]),
       value=st.text(max_size=30) | st.sampled_from(["nan", "inf", "-1", "0", "1e999"]))
def test_settings_from_any_environment_or_a_config_error(name: str, value: str) -> None:
    try:
        Settings.from_env({name: value})
    except ConfigError as exc:
        assert name in str(exc) or "HELPDESK" in str(exc)


# --- the fast row encoder writes exactly what json.dumps writes --------------------------
_moments = st.datetimes(min_value=datetime(1970, 1, 2), timezones=st.just(UTC)).map(
    lambda moment: moment.replace(microsecond=0))  # the kit keeps whole seconds


@settings(max_examples=200)
@given(st.builds(User, id=st.integers(), name=st.text(), email=st.text(),
                 role=st.sampled_from(sorted(ROLES)), active=st.booleans(),
                 created_at=_moments),
       st.builds(Ticket, id=st.integers(), title=st.text(), description=st.text(),
                 status=st.sampled_from(sorted(STATUSES)),
                 priority=st.sampled_from(sorted(PRIORITIES)), requester_id=st.integers(),
                 owner_id=st.none() | st.integers(), created_at=_moments,
                 updated_at=_moments, version=st.integers()))
def test_the_row_encoder_writes_what_json_dumps_writes(user: User, ticket: Ticket) -> None:
    """Warming's C encoder is made once (codec._flat_encoder): same text, and it decodes back."""
    dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    for row, encode, decode in ((user, encode_user, decode_user),
                                (ticket, encode_ticket, decode_ticket)):
        text = encode(row)  # type: ignore[operator]
        fields = {**vars(row), "created_at": to_iso(row.created_at)}
        if isinstance(row, Ticket):
            fields["updated_at"] = to_iso(row.updated_at)
        assert text == dumps(fields)
        assert decode(text) == row  # type: ignore[operator]
