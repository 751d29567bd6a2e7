"""The metric catalogue: every snapshot metric named once, and the names stay what they were.

Stored notebooks, the tuning table, the dashboard and a class's Grafana read these names, so
the literal lists below are the contract: renaming a metric must fail here first.
"""

from __future__ import annotations

import redis

from helpdesk_kit.backends import Backend
from helpdesk_kit.cache import Cache
from helpdesk_kit.keys import KeySchema
from helpdesk_kit.metrics import MetricsCollector, snapshot
from helpdesk_kit.metrics import catalogue as C
from helpdesk_kit.metrics.catalogue import MetricSpec, PrometheusType
from helpdesk_kit.metrics.tuning import tuning_table
from helpdesk_kit.queue import TaskQueue, TaskRegistry
from helpdesk_kit.vocab import MetricScope
from helpdesk_kit.widgets.monitoring import KEY_METRICS

NAMES = {
    "redis.keys", "redis.keys_expiring", "redis.avg_ttl_s", "memory.used_bytes",
    "memory.peak_bytes", "memory.max_bytes", "memory.used_percent", "memory.policy",
    "redis.evicted_keys", "redis.evicted_per_min", "redis.expired_keys", "redis.ops_per_sec",
    "redis.keyspace_hits", "redis.keyspace_misses", "redis.keyspace_hit_rate", "redis.uptime_s",
    "prefix.keys", "prefix.avg_ttl_s", "cache.hits", "cache.misses", "cache.hit_rate",
    "cache.{entity}.hits", "cache.{entity}.misses", "cache.{entity}.hit_rate",
    "queue.pending", "queue.processing", "queue.delayed", "queue.dead",
    "queue.oldest_pending_age_s", "queue.done", "queue.failed", "queue.done_per_min",
    "queue.failed_per_min",
    "node.{node}.keys", "node.{node}.memory.used_bytes", "node.{node}.evicted_keys",
    "node.{node}.keyspace_hit_rate",
}
#: redis_exporter's names for the server numbers (oliver006/redis_exporter), then the kit's.
PROMETHEUS = {
    "redis.keys": "redis_db_keys", "redis.keys_expiring": "redis_db_keys_expiring",
    "redis.avg_ttl_s": "redis_db_avg_ttl_seconds", "memory.used_bytes": "redis_memory_used_bytes",
    "memory.peak_bytes": "redis_memory_used_peak_bytes",
    "memory.max_bytes": "redis_memory_max_bytes", "redis.evicted_keys": "redis_evicted_keys_total",
    "redis.expired_keys": "redis_expired_keys_total",
    "redis.keyspace_hits": "redis_keyspace_hits_total",
    "redis.keyspace_misses": "redis_keyspace_misses_total",
    "redis.ops_per_sec": "redis_instantaneous_ops_per_sec",
    "redis.uptime_s": "redis_uptime_in_seconds",
    "memory.used_percent": "helpdesk_memory_used_percent",
    "redis.evicted_per_min": "helpdesk_evicted_keys_per_minute", "prefix.keys": "helpdesk_keys",
    "prefix.avg_ttl_s": "helpdesk_avg_ttl_seconds",
    "queue.pending": "helpdesk_queue_pending_tasks",
    "queue.processing": "helpdesk_queue_processing_tasks",
    "queue.delayed": "helpdesk_queue_delayed_tasks", "queue.dead": "helpdesk_queue_dead_tasks",
    "queue.oldest_pending_age_s": "helpdesk_queue_oldest_pending_age_seconds",
    "queue.done": "helpdesk_queue_tasks_done_total",
    "queue.failed": "helpdesk_queue_tasks_failed_total",
    "cache.{entity}.hits": "helpdesk_cache_hits_total",
    "cache.{entity}.misses": "helpdesk_cache_misses_total",
    "cache.{entity}.hit_rate": "helpdesk_cache_hit_ratio",
    # per node of a Redis Cluster (one series per primary, labelled node=host:port)
    "node.{node}.keys": "helpdesk_cluster_node_keys",
    "node.{node}.memory.used_bytes": "helpdesk_cluster_node_memory_used_bytes",
    "node.{node}.evicted_keys": "helpdesk_cluster_node_evicted_keys_total",
    "node.{node}.keyspace_hit_rate": "helpdesk_cluster_node_keyspace_hit_ratio",
}


def test_every_name_once_and_unchanged() -> None:
    names = [s.name for s in C.CATALOGUE]
    assert len(names) == len(set(names)) and set(names) == NAMES
    exported = {s.name: s.prometheus.name for s in C.CATALOGUE if s.prometheus}
    assert exported == PROMETHEUS
    assert len(set(exported.values())) == len(exported)


def test_counters_and_gauges_follow_prometheus_naming() -> None:
    for spec in C.CATALOGUE:
        if spec.prometheus is None:
            continue
        counter = spec.prometheus.type is PrometheusType.COUNTER
        assert spec.prometheus.name.endswith("_total") == counter, spec.name
        assert not spec.prometheus.family.endswith("_total"), spec.name  # the client adds it
        assert spec.prometheus.help, spec.name


def test_placeholders_fill_and_match() -> None:
    for spec in C.CATALOGUE:
        labels = {"entity": "user"} if "{entity}" in spec.name else {}
        if "{node}" in spec.name:
            labels["node"] = "127.0.0.1:7000"
        assert "{" not in spec.named(**labels) + spec.describe(**labels, where="under 'x:'")
    hits = C.CACHE_ENTITY_HITS
    assert hits.named(entity="user") == "cache.user.hits"
    assert hits.describe(entity="user") == "Cache hits, entity 'user' (only cache reads)"
    assert hits.matches("cache.user.hits", {"entity": "user"})
    assert not hits.matches("cache.hits", {})
    assert not C.CACHE_HITS.matches("cache.user.hits", {"entity": "user"})


def test_rates_are_their_counters_per_minute() -> None:
    for rate, total in ((C.REDIS_EVICTED_PER_MIN, C.REDIS_EVICTED_KEYS),
                        (C.QUEUE_DONE_PER_MIN, C.QUEUE_DONE),
                        (C.QUEUE_FAILED_PER_MIN, C.QUEUE_FAILED)):
        assert rate.unit == f"{total.unit}/min" and rate.scope == total.scope


def test_the_dashboard_shows_the_labelled_specs_with_the_same_labels() -> None:
    assert {s for s in C.CATALOGUE if s.label} == set(C.DASHBOARD)
    assert KEY_METRICS == (
        ("redis.keys", "keys (DBSIZE)"), ("queue.pending", "queue length"),
        ("cache.hit_rate", "hit rate (this app)"), ("redis.keyspace_hit_rate", "hit rate (server)"),
        ("memory.used_bytes", "memory used"), ("memory.used_percent", "of maxmemory"),
        ("redis.evicted_per_min", "evictions / min"), ("redis.ops_per_sec", "ops / s"))


def _spec_of(name: str, labels: dict[str, str]) -> MetricSpec:
    matching = [s for s in C.CATALOGUE if s.matches(name, labels)]
    assert len(matching) == 1, (name, matching)
    return matching[0]


def test_every_snapshot_metric_is_a_catalogue_entry(backend: Backend, keys: KeySchema) -> None:
    registry = TaskRegistry()
    registry.register("noop", lambda context, task: None)
    cache = Cache(backend.client, keys)
    cache.get_or_load("user", 1, lambda: None)
    collector = MetricsCollector(backend.client, keys, cache=cache,
                                 queue=TaskQueue(backend.client, keys, registry=registry))
    for snap in (collector.snapshot(), snapshot(backend.client, KeySchema())):
        for metric in snap.metrics.values():
            spec = _spec_of(metric.name, metric.labels)
            assert metric.unit == spec.unit, metric.name
            assert metric.description == spec.describe(
                **metric.labels, where=_where(snap.key_prefix)), metric.name
            if spec is not C.PREFIX_AVG_TTL_S:  # without a prefix, the kit's keys are the db
                assert metric.scope == spec.scope, metric.name
    assert snapshot(backend.client, KeySchema())["prefix.avg_ttl_s"].scope == MetricScope.SERVER


def _where(prefix: str) -> str:
    return f"under {prefix!r}" if prefix else "in the database"


def test_the_tuning_table_reads_catalogue_names(redis_client: redis.Redis, keys: KeySchema
                                               ) -> None:
    names = {s.name for s in C.CATALOGUE}
    for row in tuning_table(snapshot(redis_client, keys)):
        assert row.source.split(" ", 1)[0] in names, row
