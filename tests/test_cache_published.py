"""Published cache counters (HELPDESK_PUBLISH_STATS): what a class's dashboard reads.

On a real redis-server and on fakeredis: the increase is added (two processes under one prefix
add up), at most once per interval, and a publish that fails is sent again with the next one -
nothing counted twice, nothing lost.
"""

from __future__ import annotations

import time
from pathlib import Path

import redis

from helpdesk_kit import HelpdeskApp, Settings
from helpdesk_kit.cache import Cache
from helpdesk_kit.cache.published import StatsPublisher
from helpdesk_kit.cache.stats import StatsBook
from helpdesk_kit.keys import KeySchema


def _hits_misses(client: redis.Redis, key: str) -> tuple[int, int]:
    hits, misses = client.hmget(key, ["hits", "misses"])
    return int(hits or 0), int(misses or 0)


def test_reads_are_published_as_increases_that_add_up(redis_client: redis.Redis,
                                                      keys: KeySchema) -> None:
    first, second = Cache(redis_client, keys), Cache(redis_client, keys)
    for cache in (first, second):
        cache.internals.publish_stats(keys.cache_stats, every_s=3600)
    loader = {"n": 0}

    def load() -> None:
        loader["n"] += 1

    first.get_or_load("user", 1, load)  # miss: counted, not published before an hour
    first.get_or_load("user", 1, load)  # hit
    assert _hits_misses(redis_client, keys.cache_stats) == (0, 0)
    assert first.internals.publisher is not None and second.internals.publisher is not None
    assert first.internals.publisher.publish()
    assert _hits_misses(redis_client, keys.cache_stats) == (1, 1)
    second.get_or_load("user", 1, load)  # another process under the same prefix: a hit
    assert second.internals.publisher.publish()
    assert _hits_misses(redis_client, keys.cache_stats) == (2, 1)  # added, not overwritten
    assert first.internals.publisher.publish()  # nothing new: nothing added
    assert _hits_misses(redis_client, keys.cache_stats) == (2, 1)
    assert loader["n"] == 1
    assert 0 < redis_client.ttl(keys.cache_stats) <= 86_400
    assert redis_client.hget(keys.cache_stats, "updated_at")


def test_a_read_publishes_once_the_interval_is_over(redis_client: redis.Redis,
                                                   keys: KeySchema) -> None:
    cache = Cache(redis_client, keys)
    publisher = cache.internals.publish_stats(keys.cache_stats, every_s=0.05)
    cache.get_or_load("user", 1, lambda: None)
    assert _hits_misses(redis_client, keys.cache_stats) == (0, 0)  # too early
    time.sleep(0.06)
    cache.get_or_load("user", 1, lambda: None)  # this read carries the publish
    assert _hits_misses(redis_client, keys.cache_stats) in ((0, 1), (1, 1))
    assert publisher.publish() and _hits_misses(redis_client, keys.cache_stats) == (1, 1)


def test_a_failed_publish_is_sent_with_the_next_one(redis_client: redis.Redis,
                                                    dead_redis: redis.Redis,
                                                    keys: KeySchema) -> None:
    book = StatsBook()
    publisher = StatsPublisher(dead_redis, keys.cache_stats, book, every_s=0)
    book.count("user", "hits", 3)
    assert publisher.publish() is False  # Redis down: dropped, kept for next time
    publisher.client = redis_client
    book.count("user", "misses")
    assert publisher.publish() is True
    assert _hits_misses(redis_client, keys.cache_stats) == (3, 1)


def test_the_app_publishes_only_when_the_setting_is_on(tmp_path: Path, key_prefix: str
                                                       ) -> None:
    base = Settings(data_dir=tmp_path, key_prefix=key_prefix, redis_backend="fake")
    assert Settings.from_env({"HELPDESK_PUBLISH_STATS": "1"}).publish_stats is True
    assert Settings.from_env({}).publish_stats is False
    with HelpdeskApp.from_settings(base) as app:
        assert app.cache.internals.publisher is None
    with HelpdeskApp.from_settings(base.with_(publish_stats=True)) as app:
        assert app.cache.internals.publisher is not None
        assert app.cache.internals.publisher.key == f"{key_prefix}cache:stats"
