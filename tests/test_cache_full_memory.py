"""A full Redis (``maxmemory`` reached, ``noeviction``): what the kit does with ``OOM``.

Redis refuses every command that could add data, and still answers reads. So the cache must
fail open without giving up on Redis: a miss is read from the database and not stored, and a
hit is still a hit. The queue must refuse loudly (the producer is told), the app must answer
with a warning when its invalidation was refused, and send a notification inline when it
could not queue it. Each test runs on a private redis-server of its own (it changes its
``maxmemory``), filled by the lesson 18 lab.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

from helpdesk_kit.app import HelpdeskApp, helpdesk_queue
from helpdesk_kit.backends import RedisServer
from helpdesk_kit.cache import Cache
from helpdesk_kit.db import HelpdeskStore
from helpdesk_kit.db.sample import SAMPLE_NOW
from helpdesk_kit.errors import InvalidationError
from helpdesk_kit.keys import KeySchema
from helpdesk_kit.lab.incidents import fill_memory

#: Tickets cached before memory fills up; ticket 50 is never cached.
CACHED = (1, 2, 3)
UNCACHED = 50


@pytest.fixture
def full_redis(redis_server: RedisServer) -> Iterator[redis.Redis]:
    """A server of this test's own, ``noeviction``, with 100 KB of room left, then filled."""
    with RedisServer() as server:
        client = server.client()
        yield client
        client.close()


def _fill(client: redis.Redis, keys: KeySchema) -> int:
    used = client.info("memory")["used_memory"]
    client.config_set("maxmemory-policy", "noeviction")
    client.config_set("maxmemory", used + 100_000)
    return fill_memory(client, keys.prefix)


@pytest.fixture
def app(full_redis: redis.Redis, store: HelpdeskStore, keys: KeySchema) -> HelpdeskApp:
    cache = Cache(full_redis, keys)
    for ident in CACHED:
        cache.get_ticket(ident, lambda ident=ident: store.get_ticket(ident))
    assert _fill(full_redis, keys) > 0
    return HelpdeskApp(store, cache, helpdesk_queue(full_redis, keys), clock=lambda: SAMPLE_NOW)


def test_a_miss_fails_open_and_the_next_hit_still_comes_from_redis(
        app: HelpdeskApp, full_redis: redis.Redis, store: HelpdeskStore) -> None:
    cache = app.cache
    assert cache is not None
    cache.reset_stats()
    missed = cache.get_ticket(UNCACHED, lambda: store.get_ticket(UNCACHED))
    assert missed == store.get_ticket(UNCACHED)          # the database answered
    assert not full_redis.exists(cache.keys.ticket(UNCACHED))  # Redis refused to keep it
    stats = cache.stats()["ticket"]
    assert (stats.misses, stats.errors, stats.loads) == (1, 1, 1)
    # Redis still serves reads: a cached ticket is a hit, not a trip to the database
    # (before the fix, the OOM made the cache skip Redis for a second: every read a miss)
    for ident in CACHED:
        assert cache.get_ticket(ident, lambda: pytest.fail("read from the database")) \
            == store.get_ticket(ident)
    assert cache.stats()["ticket"].hits == len(CACHED)


def test_the_queue_refuses_and_pushes_nothing(app: HelpdeskApp, full_redis: redis.Redis
                                              ) -> None:
    assert app.queue is not None
    with pytest.raises(redis.OutOfMemoryError):
        app.queue.enqueue("send_notifications", {"ticketId": 1, "usuarioId": 1, "tipo": "x"})
    assert full_redis.llen(app.queue.keys.tasks_pending) == 0


def test_a_refused_invalidation_is_loud_and_the_old_copy_stays(
        app: HelpdeskApp, full_redis: redis.Redis, store: HelpdeskStore) -> None:
    """Inside MULTI, Redis refuses every queued command when memory is full - even DEL."""
    cache = app.cache
    assert cache is not None
    before = store.get_ticket(CACHED[0])
    assert before is not None and before.status != "closed"
    with pytest.raises(InvalidationError, match="OutOfMemoryError"):
        cache.invalidate_ticket(CACHED[0])
    result = app.update_ticket(CACHED[0], status="closed")
    assert result["success"] is True and "cache may be stale" in result["warning"]
    assert app.get_ticket(CACHED[0])["ticket"].status == before.status   # stale, until the TTL


def test_a_notification_that_cannot_be_queued_is_sent_inline(app: HelpdeskApp) -> None:
    result = app.create_ticket(3, "Printer on fire")
    assert result["success"] is True and result["notification"] == "inline"


def test_fill_memory_refuses_a_server_without_a_limit(redis_server: RedisServer,
                                                      keys: KeySchema) -> None:
    client = redis_server.client()
    with pytest.raises(ValueError, match="maxmemory is 0"):
        fill_memory(client, keys.prefix)
    client.close()
