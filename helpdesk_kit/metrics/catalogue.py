"""Every metric the snapshot produces, named once: unit, meaning, scope, Prometheus name, label.

The readers in :mod:`~helpdesk_kit.metrics.sources`, the Prometheus text, the tuning table and
lesson 08's dashboard all take their names from here, so a metric cannot be called
``memory.used_percent`` in one place and ``memory.used_pct`` in another. Names are stable:
stored notebooks, tests and a class's Grafana dashboard compare them.

A :class:`MetricSpec` says what a metric is; a :class:`Metric` is one measurement of it, made
with :meth:`MetricSpec.measure`, so a reader supplies only the value and where it came from.
A name or description may hold a placeholder the reader fills in: ``{entity}`` for the
cache's per-entity counters (``cache.user.hits``), ``{where}`` for the keys under the prefix.
Server numbers keep redis_exporter's (oliver006/redis_exporter) Prometheus names, so a
dashboard made for the exporter reads them; the kit's own numbers are ``helpdesk_*``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from ..vocab import MetricScope

__all__ = [
    "CACHE_ENTITY_HITS", "CACHE_ENTITY_HIT_RATE", "CACHE_ENTITY_MISSES", "CACHE_HITS",
    "CACHE_HIT_RATE", "CACHE_MISSES", "CATALOGUE", "DASHBOARD", "MEMORY_MAX_BYTES",
    "MEMORY_PEAK_BYTES", "MEMORY_POLICY", "MEMORY_USED_BYTES", "MEMORY_USED_PERCENT",
    "NODE_EVICTED_KEYS", "NODE_KEYS", "NODE_KEYSPACE_HIT_RATE", "NODE_MEMORY_USED_BYTES",
    "PREFIX_AVG_TTL_S", "PREFIX_KEYS", "QUEUE_DEAD", "QUEUE_DELAYED", "QUEUE_DONE",
    "QUEUE_DONE_PER_MIN", "QUEUE_FAILED", "QUEUE_FAILED_PER_MIN", "QUEUE_OLDEST_PENDING_AGE_S",
    "QUEUE_PENDING", "QUEUE_PROCESSING", "REDIS_AVG_TTL_S", "REDIS_EVICTED_KEYS",
    "REDIS_EVICTED_PER_MIN", "REDIS_EXPIRED_KEYS", "REDIS_KEYS", "REDIS_KEYSPACE_HITS",
    "REDIS_KEYSPACE_HIT_RATE", "REDIS_KEYSPACE_MISSES", "REDIS_KEYS_EXPIRING", "REDIS_OPS_PER_SEC",
    "REDIS_UP", "REDIS_UPTIME_S", "Metric", "MetricSpec", "Number", "PrometheusSpec",
    "PrometheusType",
]


class PrometheusType(StrEnum):
    """The Prometheus metric types the kit exports."""

    #: a number that goes up and down (memory, queue length)
    GAUGE = "gauge"
    #: a number that only goes up until a restart (evictions, hits); rate() makes sense of it
    COUNTER = "counter"


@dataclass(frozen=True)
class PrometheusSpec:
    """How ``GET /metrics`` names a metric: the series name as scraped, its type and help."""

    name: str  # counters end in _total, as redis_exporter's do
    type: PrometheusType
    help: str

    @property
    def family(self) -> str:
        """The name prometheus_client wants: it appends ``_total`` to a counter's by itself."""
        if self.type is PrometheusType.COUNTER:
            return self.name.removesuffix("_total")
        return self.name

    @property
    def per_db(self) -> bool:
        """redis_exporter labels its per-database families (``redis_db_*``) with ``db="db0"``."""
        return self.name.startswith("redis_db_")


Number = int | float


@dataclass(frozen=True)
class Metric:
    """One measured number: ``value`` is None when the backend cannot tell (see ``reason``)."""

    name: str
    value: Number | str | None
    unit: str
    source: str
    description: str
    scope: MetricScope = MetricScope.SERVER
    reason: str | None = None
    labels: dict[str, str] = field(default_factory=dict)

    @property
    def available(self) -> bool:
        return self.value is not None

    def display(self) -> str:
        """The value with its unit, as a table shows it (``n/a`` when unavailable)."""
        if self.value is None:
            return "n/a"
        if self.unit == "ratio" and isinstance(self.value, int | float):
            return f"{self.value:.1%}"
        if isinstance(self.value, float):
            text = f"{self.value:,.2f}"
        elif isinstance(self.value, int):
            text = f"{self.value:,}"
        else:
            text = str(self.value)
        return text if self.unit in ("", "keys", "tasks") else f"{text} {self.unit}"


@dataclass(frozen=True)
class MetricSpec:
    """One metric's definition; a :class:`Metric` is one measurement of it."""

    name: str  # the snapshot's name, e.g. "memory.used_bytes"; may hold "{entity}"
    unit: str  # "bytes", "keys", "ratio" (0 to 1), "%", "s", "keys/min"...
    description: str  # may hold "{entity}" or "{where}"
    scope: MetricScope
    prometheus: PrometheusSpec | None = None  # None: not exported to Prometheus
    label: str = ""  # its label on the dashboard's first line ("": not on it)

    def measure(self, value: Number | str | None, source: str, reason: str | None = None, *,
                scope: MetricScope | None = None, labels: Mapping[str, str] | None = None,
                **words: str) -> Metric:
        """One measurement: ``labels`` fill the name and description, ``words`` the latter.

        A ``value`` of None needs a ``reason`` (what the backend could not tell, and why).
        ``scope`` overrides the spec's where the same number can be either (see PREFIX_AVG_TTL_S).
        """
        given = dict(labels or {})
        return Metric(self.named(**given), value, self.unit, source,
                      self.describe(**given, **words), scope or self.scope, reason, given)

    def named(self, **labels: str) -> str:
        """The name, placeholders filled: ``cache.{entity}.hits`` -> ``cache.user.hits``."""
        return self.name.format(**labels)

    def describe(self, **words: str) -> str:
        """The description with its placeholders filled."""
        return self.description.format(**words)

    def matches(self, name: str, labels: Mapping[str, str]) -> bool:
        """Whether a measured metric (its name and labels) is one of this spec's."""
        try:
            return self.named(**labels) == name
        except KeyError:  # the metric lacks a label this name needs: another spec's
            return False


def _server(name: str, unit: str, description: str, exported: PrometheusSpec | None = None,
            label: str = "") -> MetricSpec:
    return MetricSpec(name, unit, description, MetricScope.SERVER, exported, label)


def _kit(name: str, unit: str, description: str, exported: PrometheusSpec | None = None,
         label: str = "", scope: MetricScope = MetricScope.PREFIX) -> MetricSpec:
    return MetricSpec(name, unit, description, scope, exported, label)


def gauge(name: str, help_text: str) -> PrometheusSpec:
    """Exported as a Prometheus gauge: a number that goes up and down."""
    return PrometheusSpec(name, PrometheusType.GAUGE, help_text)


def counter(name: str, help_text: str) -> PrometheusSpec:
    """Exported as a Prometheus counter: a total that only grows (``_total``)."""
    return PrometheusSpec(name, PrometheusType.COUNTER, help_text)


#: Not a snapshot metric: ``GET /metrics`` says with it whether Redis answered the scrape.
REDIS_UP = gauge("redis_up", "Whether Redis answered this scrape")

# --- the server: DBSIZE, INFO (every prefix) ---------------------------------------------
REDIS_KEYS = _server(
    "redis.keys", "keys", "Keys in this Redis database, every prefix (the design's keys)",
    gauge("redis_db_keys", "Total number of keys by DB (DBSIZE)"), "keys (DBSIZE)")
REDIS_KEYS_EXPIRING = _server(
    "redis.keys_expiring", "keys", "Keys that have a TTL in this database (every prefix)",
    gauge("redis_db_keys_expiring", "Total number of expiring keys by DB"))
REDIS_AVG_TTL_S = _server(
    "redis.avg_ttl_s", "s",
    "Redis's estimate of the average TTL of keys that have one (every prefix)",
    gauge("redis_db_avg_ttl_seconds", "Avg TTL in seconds (INFO)"))
MEMORY_USED_BYTES = _server(
    "memory.used_bytes", "bytes", "Memory Redis has allocated (the design's used_bytes)",
    gauge("redis_memory_used_bytes", "INFO used_memory"), "memory used")
MEMORY_PEAK_BYTES = _server(
    "memory.peak_bytes", "bytes", "Highest memory use since server start",
    gauge("redis_memory_used_peak_bytes", "INFO used_memory_peak"))
MEMORY_MAX_BYTES = _server(
    "memory.max_bytes", "bytes", "The maxmemory limit; 0 means no limit (the design's max_bytes)",
    gauge("redis_memory_max_bytes", "INFO maxmemory (0: no limit)"))
MEMORY_USED_PERCENT = _server(
    "memory.used_percent", "%", "used_memory / maxmemory (the design's used_percent)",
    gauge("helpdesk_memory_used_percent",
          "used_memory / maxmemory in percent (the design's used_percent)"), "of maxmemory")
MEMORY_POLICY = _server("memory.policy", "", "What Redis evicts at maxmemory")
REDIS_EVICTED_KEYS = _server(
    "redis.evicted_keys", "keys",
    "Keys removed because memory reached maxmemory (since server start)",
    counter("redis_evicted_keys_total", "INFO evicted_keys"))
REDIS_EVICTED_PER_MIN = _server(
    "redis.evicted_per_min", "keys/min", "Evictions per minute (the tuning table's Key Evictions)",
    gauge("helpdesk_evicted_keys_per_minute",
          "Evictions per minute (the tuning table's Key Evictions)"), "evictions / min")
REDIS_EXPIRED_KEYS = _server(
    "redis.expired_keys", "keys", "Keys removed because their TTL ran out (since server start)",
    counter("redis_expired_keys_total", "INFO expired_keys"))
REDIS_OPS_PER_SEC = _server(
    "redis.ops_per_sec", "ops/s", "Commands per second, Redis's own recent estimate",
    gauge("redis_instantaneous_ops_per_sec", "INFO instantaneous_ops_per_sec"), "ops / s")
REDIS_KEYSPACE_HITS = _server(
    "redis.keyspace_hits", "reads",
    "Server-wide successful key lookups: EVERY read command of every client (queue pops too), "
    "while cache.hits counts only the kit's cache reads",
    counter("redis_keyspace_hits_total", "INFO keyspace_hits (every read of every client)"))
REDIS_KEYSPACE_MISSES = _server(
    "redis.keyspace_misses", "reads", "Server-wide failed key lookups (every read of every client)",
    counter("redis_keyspace_misses_total",
            "INFO keyspace_misses (every read of every client)"))
REDIS_KEYSPACE_HIT_RATE = _server(
    "redis.keyspace_hit_rate", "ratio",
    "keyspace_hits / (keyspace_hits + keyspace_misses), every read", label="hit rate (server)")
REDIS_UPTIME_S = _server(
    "redis.uptime_s", "s", "Seconds since server start",
    gauge("redis_uptime_in_seconds", "INFO uptime_in_seconds"))

# --- the kit's keys (SCAN under the prefix) ----------------------------------------------
PREFIX_KEYS = _kit(
    "prefix.keys", "keys", "Keys {where} (this kit's keys only)",
    gauge("helpdesk_keys", "Keys under the kit's key prefix (SCAN)"))
PREFIX_AVG_TTL_S = _kit(
    "prefix.avg_ttl_s", "s", "Average remaining TTL of keys {where} that have one (sampled)",
    gauge("helpdesk_avg_ttl_seconds",
          "Average remaining TTL of the kit's keys (sampled with SCAN + PTTL)"))

# --- the Cache object's counters (this process) ------------------------------------------
CACHE_HITS = _kit("cache.hits", "reads", "Cache hits, all entities (only cache reads)",
                  scope=MetricScope.PROCESS)
CACHE_MISSES = _kit("cache.misses", "reads", "Cache misses, all entities",
                    scope=MetricScope.PROCESS)
CACHE_HIT_RATE = _kit("cache.hit_rate", "ratio",
                      "The design's Hit Rate = Hits / (Hits + Misses), all entities",
                      label="hit rate (this app)", scope=MetricScope.PROCESS)
CACHE_ENTITY_HITS = _kit(
    "cache.{entity}.hits", "reads", "Cache hits, entity {entity!r} (only cache reads)",
    counter("helpdesk_cache_hits_total", "Cache hits (only cache reads)"),
    scope=MetricScope.PROCESS)
CACHE_ENTITY_MISSES = _kit(
    "cache.{entity}.misses", "reads", "Cache misses, entity {entity!r}",
    counter("helpdesk_cache_misses_total", "Cache misses"),
    scope=MetricScope.PROCESS)
CACHE_ENTITY_HIT_RATE = _kit(
    "cache.{entity}.hit_rate", "ratio",
    "The design's Hit Rate = Hits / (Hits + Misses), entity {entity!r}",
    gauge("helpdesk_cache_hit_ratio", "Hits / (hits + misses), 0 to 1"), scope=MetricScope.PROCESS)

# --- the task queue ----------------------------------------------------------------------
QUEUE_PENDING = _kit(
    "queue.pending", "tasks", "Tasks waiting for a worker (the design's queue_length)",
    gauge("helpdesk_queue_pending_tasks", "LLEN tasks:pending"), "queue length")
QUEUE_PROCESSING = _kit(
    "queue.processing", "tasks", "Tasks a worker took and has not acked yet",
    gauge("helpdesk_queue_processing_tasks", "Tasks held by workers"))
QUEUE_DELAYED = _kit(
    "queue.delayed", "tasks", "Tasks waiting to be retried (backoff)",
    gauge("helpdesk_queue_delayed_tasks", "Tasks waiting for a retry"))
QUEUE_DEAD = _kit(
    "queue.dead", "tasks", "Dead letters: tasks that failed every attempt",
    gauge("helpdesk_queue_dead_tasks", "Dead letters"))
QUEUE_OLDEST_PENDING_AGE_S = _kit(
    "queue.oldest_pending_age_s", "s",
    "Age of the oldest pending task (how far behind the workers are)",
    gauge("helpdesk_queue_oldest_pending_age_seconds", "Age of the oldest pending task"))
QUEUE_DONE = _kit(
    "queue.done", "tasks", "Tasks finished since the counters started",
    counter("helpdesk_queue_tasks_done_total", "Tasks finished"))
QUEUE_FAILED = _kit(
    "queue.failed", "tasks", "Task attempts that failed since the counters started",
    counter("helpdesk_queue_tasks_failed_total", "Task attempts failed"))
QUEUE_DONE_PER_MIN = _kit("queue.done_per_min", "tasks/min", "Tasks finished per minute")
QUEUE_FAILED_PER_MIN = _kit("queue.failed_per_min", "tasks/min",
                            "Task attempts failed per minute")

# --- a Redis Cluster, per primary (``node="host:port"``; the server metrics are the totals) ---
NODE_KEYS = _server(
    "node.{node}.keys", "keys", "Keys on cluster primary {node} (DBSIZE on that node)",
    gauge("helpdesk_cluster_node_keys", "Keys on each cluster primary (DBSIZE)"))
NODE_MEMORY_USED_BYTES = _server(
    "node.{node}.memory.used_bytes", "bytes", "Memory used by cluster primary {node}",
    gauge("helpdesk_cluster_node_memory_used_bytes", "Memory used by each primary"))
NODE_EVICTED_KEYS = _server(
    "node.{node}.evicted_keys", "keys", "Keys evicted by cluster primary {node} since start",
    counter("helpdesk_cluster_node_evicted_keys_total", "Keys evicted by each primary"))
NODE_KEYSPACE_HIT_RATE = _server(
    "node.{node}.keyspace_hit_rate", "ratio", "Keyspace hit rate of cluster primary {node}",
    gauge("helpdesk_cluster_node_keyspace_hit_ratio",
          "keyspace_hits / (hits + misses) of each primary"))

#: Every spec; ``GET /metrics`` exports them in this order.
CATALOGUE: tuple[MetricSpec, ...] = (
    REDIS_KEYS, REDIS_KEYS_EXPIRING, REDIS_AVG_TTL_S, MEMORY_USED_BYTES, MEMORY_PEAK_BYTES,
    MEMORY_MAX_BYTES, MEMORY_USED_PERCENT, MEMORY_POLICY, REDIS_EVICTED_KEYS,
    REDIS_EVICTED_PER_MIN, REDIS_EXPIRED_KEYS, REDIS_OPS_PER_SEC, REDIS_KEYSPACE_HITS,
    REDIS_KEYSPACE_MISSES, REDIS_KEYSPACE_HIT_RATE, REDIS_UPTIME_S,
    PREFIX_KEYS, PREFIX_AVG_TTL_S,
    CACHE_HITS, CACHE_MISSES, CACHE_HIT_RATE,
    CACHE_ENTITY_HITS, CACHE_ENTITY_MISSES, CACHE_ENTITY_HIT_RATE,
    QUEUE_PENDING, QUEUE_PROCESSING, QUEUE_DELAYED, QUEUE_DEAD, QUEUE_OLDEST_PENDING_AGE_S,
    QUEUE_DONE, QUEUE_FAILED, QUEUE_DONE_PER_MIN, QUEUE_FAILED_PER_MIN,
    NODE_KEYS, NODE_MEMORY_USED_BYTES, NODE_EVICTED_KEYS, NODE_KEYSPACE_HIT_RATE,
)

#: The dashboard's first line, left to right: the specs that have a ``label``.
DASHBOARD: tuple[MetricSpec, ...] = (
    REDIS_KEYS, QUEUE_PENDING, CACHE_HIT_RATE, REDIS_KEYSPACE_HIT_RATE, MEMORY_USED_BYTES,
    MEMORY_USED_PERCENT, REDIS_EVICTED_PER_MIN, REDIS_OPS_PER_SEC)
