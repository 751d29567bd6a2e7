"""Evictions for real, on a private redis-server of this test (never the shared one)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

from helpdesk_kit.backends import RedisServer
from helpdesk_kit.backends.binaries import find_server
from helpdesk_kit.errors import ConfigError, FeatureUnavailableError
from helpdesk_kit.keys import KeySchema
from helpdesk_kit.lab import eviction
from helpdesk_kit.lab.eviction import eviction_lab, lab_skip_reason, memory_limit
from helpdesk_kit.metrics import snapshot
from helpdesk_kit.metrics.tuning import Verdict, tuning_table


@pytest.fixture
def own_redis(redis_server: RedisServer) -> Iterator[redis.Redis]:
    """A redis-server for this test alone: it changes maxmemory (redis_server checks the binary)."""
    with RedisServer() as server:
        client = server.client()
        yield client
        client.close()


def test_overfilled_cache_evicts_and_the_hit_rate_falls(own_redis: redis.Redis,
                                                        keys: KeySchema) -> None:
    lab = eviction_lab(own_redis, keys)
    fits, overfilled = lab.phases
    assert fits.evicted_keys == 0 and fits.hit_rate == 1.0
    assert overfilled.evicted_keys > 0
    assert overfilled.hit_rate is not None and overfilled.hit_rate < fits.hit_rate
    assert lab.after.value("redis.evicted_keys") > lab.before.value("redis.evicted_keys")
    assert lab.after.value("memory.policy") == "allkeys-lru"
    assert lab.after.value("memory.max_bytes") == lab.limit.maxmemory
    assert lab.after.value("cache.hit_rate") < 1.0
    # the lab's own rate counts from its start, so the evictions show in it
    assert lab.after.value("redis.evicted_per_min") > 0
    assert "overfilled" in str(lab)
    # the previous config is back
    assert own_redis.config_get("maxmemory") == {"maxmemory": "0"}
    assert own_redis.config_get("maxmemory-policy") == {"maxmemory-policy": "noeviction"}
    # and the tuning table sees the evictions (a rate over the lab's two snapshots)
    rows = tuning_table(snapshot(own_redis, keys, previous=lab.before))
    assert rows.row("Key Evictions").verdict in (Verdict.ACCEPTABLE, Verdict.DEFICIENT)


def test_memory_limit_restores_config_even_on_error(own_redis: redis.Redis) -> None:
    own_redis.config_set("maxmemory-policy", "volatile-ttl")
    with pytest.raises(RuntimeError), memory_limit(own_redis, 50_000_000, "allkeys-lfu") as lim:
        assert own_redis.config_get("maxmemory") == {"maxmemory": "50000000"}
        assert lim.previous_policy == "volatile-ttl"
        snap = snapshot(own_redis)
        assert snap.value("memory.used_percent") == pytest.approx(
            100 * snap.value("memory.used_bytes") / 50_000_000, abs=0.01)
        raise RuntimeError("the lesson cell failed")
    assert own_redis.config_get("maxmemory-policy") == {"maxmemory-policy": "volatile-ttl"}
    assert own_redis.config_get("maxmemory") == {"maxmemory": "0"}


@pytest.mark.parametrize(("size", "policy"), [(0, "allkeys-lru"), (10_000, "lru")])
def test_bad_limits_are_refused_before_touching_redis(own_redis: redis.Redis, size: int,
                                                      policy: str) -> None:
    with pytest.raises(ConfigError), memory_limit(own_redis, size, policy):
        pass
    assert own_redis.config_get("maxmemory-policy") == {"maxmemory-policy": "noeviction"}


def test_fakeredis_says_it_needs_a_real_server(keys: KeySchema) -> None:
    import fakeredis

    client = fakeredis.FakeRedis(decode_responses=True)
    with pytest.raises(FeatureUnavailableError, match="real redis-server"):
        eviction_lab(client, keys)
    with pytest.raises(FeatureUnavailableError), memory_limit(client, 1_000_000):
        pass


def test_the_lab_is_skipped_with_a_reason_where_it_cannot_run(
        monkeypatch: pytest.MonkeyPatch) -> None:
    assert "fakeredis" in (lab_skip_reason("fake") or "")
    assert (lab_skip_reason("url") is None) == (find_server() is not None)
    # e.g. Redis only in Docker, and no program here to start a private one
    monkeypatch.setattr(eviction, "no_server_reason", lambda: "none here")
    assert "no Redis server program" in (lab_skip_reason("url") or "")
