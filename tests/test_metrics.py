"""The snapshot: every metric with unit and source, on a real redis-server and on fakeredis."""

from __future__ import annotations

import json

import pytest
import redis

from helpdesk_kit.backends import Backend
from helpdesk_kit.cache import Cache
from helpdesk_kit.errors import RedisBackendError
from helpdesk_kit.keys import KeySchema
from helpdesk_kit.metrics import MetricsCollector, Snapshot, snapshot, snapshot_json
from helpdesk_kit.queue import TaskQueue, TaskRegistry

INFO_METRICS = ("memory.used_bytes", "memory.max_bytes", "memory.peak_bytes", "memory.policy",
                "redis.keys_expiring", "redis.evicted_keys", "redis.expired_keys",
                "redis.ops_per_sec", "redis.keyspace_hits", "redis.keyspace_misses")


def _noop_queue(client: redis.Redis, keys: KeySchema) -> TaskQueue:
    registry = TaskRegistry()
    registry.register("noop", lambda context, task: None)
    return TaskQueue(client, keys, registry=registry)


def _fill(client: redis.Redis, keys: KeySchema, with_ttl: int, without_ttl: int) -> None:
    for i in range(with_ttl):
        client.set(keys.user(i), "{}", ex=300)
    for i in range(without_ttl):
        client.set(keys.session(f"s{i}"), "{}")


def test_every_metric_has_unit_source_and_description(backend: Backend, keys: KeySchema
                                                      ) -> None:
    snap = snapshot(backend.client, keys)
    assert len(snap.metrics) > 20
    for metric in snap.metrics.values():
        assert metric.source and metric.description, metric.name
        assert metric.scope in {"server", "prefix", "process"}
        if not metric.available:
            assert metric.reason, f"{metric.name} is unavailable without a reason"


def test_keys_and_sampled_ttl_work_on_both_backends(backend: Backend, keys: KeySchema) -> None:
    _fill(backend.client, keys, with_ttl=4, without_ttl=2)
    snap = snapshot(backend.client, keys)
    assert snap.value("redis.keys") == backend.client.dbsize()
    assert snap.value("prefix.keys") == 6
    ttl = snap.value("prefix.avg_ttl_s")
    assert isinstance(ttl, float) and 290 <= ttl <= 300
    assert "4 with a TTL" in snap["prefix.avg_ttl_s"].source


def test_the_sampled_ttl_is_the_cached_values_not_the_bookkeeping(
        backend: Backend, keys: KeySchema) -> None:
    """Generation counters live an hour and locks seconds: neither is a cached value, and an
    average over them would rate an EX 300 cache at many minutes (lesson 08)."""
    client = backend.client
    client.set(keys.ticket(1), "{}", ex=300)
    client.set(keys.generation("ticket", 1), 1, ex=3600)
    client.set(keys.lock("ticket", 2), "me", px=2000)
    snap = snapshot(client, keys)
    assert snap.value("prefix.keys") == 3  # every key counts
    assert 290 <= float(snap.value("prefix.avg_ttl_s") or 0) <= 300  # only ticket:1's TTL
    assert "1 with a TTL" in snap["prefix.avg_ttl_s"].source


def test_real_server_gives_info_metrics(real_redis: redis.Redis, keys: KeySchema) -> None:
    _fill(real_redis, keys, with_ttl=3, without_ttl=0)
    snap = snapshot(real_redis, keys)
    for name in INFO_METRICS:
        assert snap[name].available, f"{name}: {snap[name].reason}"
    assert snap.value("memory.used_bytes") > 0
    assert snap.value("redis.keys_expiring") >= 3
    # The session server has no maxmemory: a percentage of "no limit" is not made up.
    if snap.value("memory.max_bytes") == 0:
        assert snap.value("memory.used_percent") is None
        assert "no limit" in (snap["memory.used_percent"].reason or "")


def test_fakeredis_marks_info_metrics_unavailable_not_zero(keys: KeySchema) -> None:
    import fakeredis

    client = fakeredis.FakeRedis(decode_responses=True)
    _fill(client, keys, with_ttl=2, without_ttl=1)
    snap = snapshot(client, keys)
    for name in (*INFO_METRICS, "memory.used_percent", "redis.avg_ttl_s",
                 "redis.evicted_per_min"):
        assert snap.value(name) is None, name
        assert "real redis-server" in (snap[name].reason or ""), name
    assert snap.value("redis.keys") == 3  # DBSIZE works on fakeredis
    assert snap.value("prefix.avg_ttl_s") is not None  # computed another way: SCAN + PTTL
    api = snap.to_api_json()
    assert api["redis"]["memory"] == {"used_bytes": None, "max_bytes": None,
                                      "used_percent": None, "peak_bytes": None, "policy": None}
    assert "memory.used_bytes" in api["unavailable"]


def test_cache_counters_per_entity_and_overall(backend: Backend, keys: KeySchema) -> None:
    cache = Cache(backend.client, keys)
    for ident in (1, 2, 1, 1):  # user: 2 misses then 2 hits
        cache.get_or_load("user", ident, lambda: None)
    cache.get_or_load("ticket", 7, lambda: None)  # ticket: 1 miss
    snap = snapshot(backend.client, keys, cache=cache)
    assert snap.value("cache.user.hits") == 2 and snap.value("cache.user.misses") == 2
    assert snap.value("cache.user.hit_rate") == pytest.approx(0.5)
    assert snap.value("cache.ticket.hit_rate") == 0.0
    assert snap.value("cache.hit_rate") == pytest.approx(2 / 5)
    assert snap["cache.user.hits"].labels == {"entity": "user"}
    assert "every read" in snap["redis.keyspace_hits"].description.lower()
    api = snap.to_api_json()
    assert api["cache"]["entities"]["user"] == {"hits": 2, "misses": 2, "hit_rate": 0.5}


def test_no_cache_or_no_reads_is_unavailable_not_zero(backend: Backend, keys: KeySchema) -> None:
    snap = snapshot(backend.client, keys)
    assert snap.value("cache.hit_rate") is None
    assert "no Cache given" in (snap["cache.hit_rate"].reason or "")
    fresh = snapshot(backend.client, keys, cache=Cache(backend.client, keys))
    assert fresh.value("cache.hits") == 0
    assert fresh.value("cache.hit_rate") is None
    assert fresh["cache.hit_rate"].reason == "no reads yet"


def test_queue_metrics_and_rates(backend: Backend, keys: KeySchema) -> None:
    queue = _noop_queue(backend.client, keys)
    for n in range(3):
        queue.enqueue("noop", {"n": n})
    collector = MetricsCollector(backend.client, keys, queue=queue)
    first = collector.snapshot()
    assert first.value("queue.pending") == 3
    assert first.value("queue.oldest_pending_age_s") is not None
    assert first.value("queue.done_per_min") is None
    assert "two snapshots" in (first["queue.done_per_min"].reason or "")

    task = queue.reserve("w1")
    assert task is not None
    queue.ack("w1", task)
    second = collector.snapshot()
    assert second.value("queue.pending") == 2 and second.value("queue.done") == 1
    elapsed = second.monotonic - first.monotonic
    assert second.value("queue.done_per_min") == pytest.approx(round(60 / elapsed, 2))


def test_counter_going_backwards_is_unavailable(backend: Backend, keys: KeySchema) -> None:
    collector = MetricsCollector(backend.client, keys, queue=_noop_queue(backend.client, keys))
    backend.client.hset(keys.tasks_stats, "done", 10)
    collector.snapshot()
    backend.client.hset(keys.tasks_stats, "done", 0)
    snap = collector.snapshot()
    assert snap.value("queue.done_per_min") is None
    assert "backwards" in (snap["queue.done_per_min"].reason or "")


def test_api_json_keeps_the_seeds_shape(backend: Backend, keys: KeySchema) -> None:
    backend.client.rpush(keys.tasks_pending, json.dumps({"type": "noop", "payload": {}}))
    body = json.loads(json.dumps(snapshot_json(backend.client, keys)))  # JSON-serialisable
    redis_part = body["redis"]
    assert {"keys", "queue_length", "memory"} <= set(redis_part)
    assert {"used_bytes", "max_bytes", "used_percent"} <= set(redis_part["memory"])
    assert redis_part["keys"] == backend.client.dbsize()
    assert redis_part["queue_length"] == 1
    assert body["queue"]["pending"] == 1
    assert "redis.keys" in body["server_wide"]
    assert body["prefix"]["key_prefix"] == keys.prefix


def test_prefix_says_which_numbers_are_server_wide(backend: Backend, keys: KeySchema) -> None:
    snap = snapshot(backend.client, keys)
    assert snap["redis.keys"].scope == "server"
    assert snap["prefix.keys"].scope == "prefix"
    assert "Server-wide" in str(snap)
    assert snapshot(backend.client, KeySchema()).value("prefix.keys") is None  # no prefix


def test_redis_down_raises_a_kit_error(dead_redis: redis.Redis) -> None:
    dead = dead_redis
    with pytest.raises(RedisBackendError, match="did not answer"):
        snapshot(dead, KeySchema("x:"))


def test_snapshot_table_text(backend: Backend, keys: KeySchema) -> None:
    text = str(MetricsCollector(backend.client, keys).snapshot())
    assert "redis.keys" in text and "DBSIZE" in text
    assert isinstance(MetricsCollector(backend.client, keys).snapshot(), Snapshot)
