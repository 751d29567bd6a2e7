"""Published cache counters (HELPDESK_PUBLISH_STATS): what a class's dashboard reads.

On a real redis-server and on fakeredis: each cache writes its totals to a hash of its own
(two processes under one prefix add up, a retry changes nothing, a reset never goes
negative), from a background thread (a read never waits for Redis on its behalf), and what a
failed publish missed goes out with the next one.
"""

from __future__ import annotations

import time
from pathlib import Path

import redis

from helpdesk_kit import HelpdeskApp, Settings
from helpdesk_kit.cache import Cache
from helpdesk_kit.cache.published import StatsPublisher, publish_all
from helpdesk_kit.cache.stats import StatsBook
from helpdesk_kit.keys import KeySchema


def _hits_misses(client: redis.Redis, keys: KeySchema) -> tuple[int, int]:
    """Summed over every cache's hash, as the dashboard does."""
    hits = misses = 0
    for key in client.scan_iter(match=f"{keys.cache_stats}:*"):
        h, m = client.hmget(key, ["hits", "misses"])
        hits, misses = hits + int(h or 0), misses + int(m or 0)
    return hits, misses


def _read_twice(cache: Cache) -> None:
    for _ in range(2):  # a miss (the loader says "no such row"), then a hit
        cache.get_or_load("user", 1, lambda: None)


def test_each_cache_writes_its_totals_and_they_add_up(redis_client: redis.Redis,
                                                       keys: KeySchema) -> None:
    first, second = Cache(redis_client, keys), Cache(redis_client, keys)
    one = first.publish_stats(keys.cache_stats, every_s=3600)
    two = second.publish_stats(keys.cache_stats, every_s=3600)
    assert one.key != two.key and one.key.startswith(f"{keys.cache_stats}:")
    _read_twice(first)
    assert _hits_misses(redis_client, keys) == (0, 0)  # an hour apart: nothing sent yet
    assert one.publish() and _hits_misses(redis_client, keys) == (1, 1)
    assert one.publish() and _hits_misses(redis_client, keys) == (1, 1)  # again: the same
    second.get_or_load("user", 1, lambda: None)  # another process under the same prefix
    assert two.publish() and _hits_misses(redis_client, keys) == (2, 1)
    first.reset_stats()
    assert one.publish() and _hits_misses(redis_client, keys) == (1, 0)  # down, not below 0
    assert 0 < redis_client.ttl(one.key) <= 86_400
    assert redis_client.hget(two.key, "updated_at")


def test_the_background_thread_sends_it_and_close_sends_the_rest(
        redis_client: redis.Redis, keys: KeySchema) -> None:
    cache = Cache(redis_client, keys)
    cache.publish_stats(keys.cache_stats, every_s=0.2)
    _read_twice(cache)
    deadline = time.monotonic() + 5
    while _hits_misses(redis_client, keys) != (1, 1) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _hits_misses(redis_client, keys) == (1, 1)  # sent without another read
    slow = Cache(redis_client, keys)
    slow.publish_stats(keys.cache_stats, every_s=3600)
    _read_twice(slow)
    publish_all(redis_client)  # what a lesson's close() does
    assert _hits_misses(redis_client, keys) == (3, 1)  # both of its reads hit the first's entry


def test_a_failed_publish_is_sent_with_the_next_one(redis_client: redis.Redis,
                                                    dead_redis: redis.Redis,
                                                    keys: KeySchema) -> None:
    book = StatsBook()
    publisher = StatsPublisher(dead_redis, keys.cache_stats, book, every_s=3600)
    book.count("user", "hits", 3)
    started = time.monotonic()
    assert publisher.publish() is False  # Redis down: kept for next time
    # Failing fast is the behaviour under test: a refused connection answers in milliseconds,
    # and 2 s is far more than 10x that (a publish that waited on a dead Redis would not pass).
    assert time.monotonic() - started < 2
    publisher.client = redis_client
    book.count("user", "misses")
    assert publisher.publish() is True
    assert _hits_misses(redis_client, keys) == (3, 1)


def test_the_app_publishes_only_when_the_setting_is_on(tmp_path: Path, key_prefix: str
                                                       ) -> None:
    base = Settings(data_dir=tmp_path, key_prefix=key_prefix, redis_backend="fake")
    assert Settings.from_env({"HELPDESK_PUBLISH_STATS": "1"}).publish_stats is True
    assert Settings.from_env({}).publish_stats is False
    with HelpdeskApp.from_settings(base) as app:
        assert app.cache is not None and app.cache.publisher is None
    with HelpdeskApp.from_settings(base.with_(publish_stats=True)) as app:
        assert app.cache is not None and app.cache.publisher is not None
        assert app.cache.publisher.key.startswith(f"{key_prefix}cache:stats:")
        app.get_ticket(1)
        client = app.cache.client
        key = app.cache.publisher.key
    assert client.hget(key, "misses") is not None  # close() sent what it had counted
