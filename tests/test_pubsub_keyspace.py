"""Keyspace notifications (lab.keyspace): only on the kit's own server, heard live."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest
import redis
from conftest import missing
from hypothesis import given, settings
from hypothesis import strategies as st

from helpdesk_kit.backends import Backend, RedisServer, probe
from helpdesk_kit.errors import FeatureUnavailableError
from helpdesk_kit.keys import KeySchema
from helpdesk_kit.lab.keyspace import (
    KeyEvent,
    expiry_and_eviction,
    keyspace_events,
    keyspace_skip_reason,
)
from helpdesk_kit.vocab import BackendKind, KeyspaceEvent


@pytest.fixture
def own_backend() -> Iterator[Backend]:
    """A private redis-server, as ``connect()`` starts one: the kit's own (kind ``server``)."""
    if shutil.which("redis-server") is None:
        missing("redis", "install redis-server")
    with RedisServer() as server:
        client = server.client()
        yield Backend(client, BackendKind.SERVER, "private redis-server", probe(client))
        client.close()


def test_expired_and_evicted_keys_are_heard_live(own_backend: Backend) -> None:
    report = expiry_and_eviction(own_backend, KeySchema(prefix="lesson12:"), expiring=10)
    assert report.expired_heard == 10  # every TTL that ran out was announced
    assert report.evicted_counted > 0 and report.evicted_heard == report.evicted_counted
    config = own_backend.client.config_get("notify-keyspace-events")
    assert config["notify-keyspace-events"] == ""  # switched back off afterwards
    assert own_backend.client.config_get("maxmemory")["maxmemory"] == "0"


def test_a_server_the_user_owns_is_left_alone(real_redis: redis.Redis) -> None:
    theirs = Backend(real_redis, BackendKind.URL, "Redis at REDIS_URL", probe(real_redis))
    before = real_redis.config_get("notify-keyspace-events")
    reason = keyspace_skip_reason(theirs.kind)
    assert reason is not None and "CONFIG SET notify-keyspace-events" in reason
    with pytest.raises(FeatureUnavailableError, match="yours"), \
            keyspace_events(theirs, KeySchema(prefix="x:")):
        pass
    assert real_redis.config_get("notify-keyspace-events") == before


def test_fakeredis_is_skipped_with_the_reason() -> None:
    assert "fakeredis" in (keyspace_skip_reason(BackendKind.FAKE) or "")
    assert keyspace_skip_reason(BackendKind.SERVER) is None


@settings(max_examples=200, deadline=None)
@given(channel=st.binary(max_size=40) | st.sampled_from(
           [b"__keyevent@0__:expired", b"__keyevent@3__:evicted", b"__keyevent@0__:set"]),
       data=st.binary(max_size=40))
def test_parse_gives_an_event_or_none(channel: bytes, data: bytes) -> None:
    event = KeyEvent.parse(channel, data)
    if event is not None:
        assert isinstance(event.event, KeyspaceEvent) and isinstance(event.key, str)
