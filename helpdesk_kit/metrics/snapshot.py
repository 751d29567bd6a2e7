"""One call returns every number the design monitors, each with its unit and where it came from.

The design's ``/api/metrics`` route returns ``keys`` (DBSIZE), ``queue_length`` (LLEN
tasks:pending) and a ``memory`` block it fills with zeros because Upstash could not tell. This
module never makes a number up: a :class:`Metric` whose backend cannot tell it (fakeredis has
no INFO, CONFIG or MEMORY) has ``value=None`` and a ``reason``, and what can be computed
another way is (the average TTL by sampling ``PTTL`` under the kit's prefix with SCAN).

Three kinds of numbers live side by side, and each metric says which one it is (``scope``):

- ``server``: the whole Redis server (DBSIZE, INFO). With a key prefix - a class sharing one
  Redis - these count every learner's keys, not only yours.
- ``prefix``: only keys under this kit's prefix (found with SCAN).
- ``process``: counters kept by a :class:`~helpdesk_kit.cache.Cache` or read from the queue.

Rates (evictions and finished tasks per minute) need two snapshots: a :class:`MetricsCollector`
keeps the previous one. Every name is defined once, in :mod:`~helpdesk_kit.metrics.catalogue`.
The tuning table lives in :mod:`~helpdesk_kit.metrics.tuning`, the HTTP endpoint in
:mod:`~helpdesk_kit.metrics.server`, the Prometheus text in :mod:`~helpdesk_kit.metrics.prometheus`.
"""

from __future__ import annotations

import threading
import time
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from typing import Any

import redis

from ..backends import acl
from ..backends.cluster import is_cluster
from ..errors import FeatureUnavailableError, RedisBackendError
from ..keys import KeySchema
from ..vocab import MetricScope
from . import catalogue
from .catalogue import MetricSpec
from .nodes import node_metrics
from .sources import (
    CacheCounters,
    Metric,
    Number,
    QueueInspector,
    cache_metrics,
    queue_metrics,
    server_metrics,
)

__all__ = ["Metric", "MetricsCollector", "Snapshot", "snapshot", "snapshot_json"]


@dataclass
class Snapshot:
    """Every metric at one moment, by name (``snap["memory.used_bytes"].value``)."""

    metrics: dict[str, Metric]
    taken_at: datetime
    monotonic: float
    key_prefix: str = ""
    backend: str | None = None

    def __getitem__(self, name: str) -> Metric:
        return self.metrics[name]

    def __contains__(self, name: object) -> bool:
        return name in self.metrics

    def value(self, name: str) -> Number | str | None:
        """The metric's value, or None when it is unavailable or not in this snapshot."""
        metric = self.metrics.get(name)
        return None if metric is None else metric.value

    @property
    def unavailable(self) -> dict[str, str]:
        """``{name: reason}`` for every metric the backend could not give."""
        return {m.name: m.reason or "unavailable" for m in self.metrics.values() if not m.available}

    @property
    def server_wide(self) -> list[str]:
        """Names of metrics that count the whole server, whatever the key prefix."""
        return [m.name for m in self.metrics.values() if m.scope == MetricScope.SERVER]

    def to_dict(self) -> dict[str, Any]:
        """Every metric with value, unit, source, scope and reason (JSON-ready)."""
        return {
            "taken_at": self.taken_at.isoformat(),
            "key_prefix": self.key_prefix,
            "backend": self.backend,
            "metrics": {name: asdict(m) for name, m in self.metrics.items()},
        }

    def to_api_json(self) -> dict[str, Any]:
        """The design's ``/api/metrics`` shape (same keys), extended with the rest.

        ``redis.keys``, ``redis.queue_length`` and ``redis.memory.{used_bytes, max_bytes,
        used_percent}`` are exactly the design's; a value the backend cannot give is ``null``
        (never the design's placeholder 0) and its reason is listed under ``unavailable``.
        """
        def v(spec: MetricSpec) -> Number | str | None:
            return self.value(spec.name)

        return {
            "redis": {
                "keys": v(catalogue.REDIS_KEYS),
                "queue_length": v(catalogue.QUEUE_PENDING),
                "memory": {
                    "used_bytes": v(catalogue.MEMORY_USED_BYTES),
                    "max_bytes": v(catalogue.MEMORY_MAX_BYTES),
                    "used_percent": v(catalogue.MEMORY_USED_PERCENT),
                    "peak_bytes": v(catalogue.MEMORY_PEAK_BYTES),
                    "policy": v(catalogue.MEMORY_POLICY),
                },
                "keys_expiring": v(catalogue.REDIS_KEYS_EXPIRING),
                "avg_ttl_seconds": v(catalogue.REDIS_AVG_TTL_S),
                "evicted_keys": v(catalogue.REDIS_EVICTED_KEYS),
                "evicted_keys_per_min": v(catalogue.REDIS_EVICTED_PER_MIN),
                "expired_keys": v(catalogue.REDIS_EXPIRED_KEYS),
                "ops_per_sec": v(catalogue.REDIS_OPS_PER_SEC),
                "keyspace_hits": v(catalogue.REDIS_KEYSPACE_HITS),
                "keyspace_misses": v(catalogue.REDIS_KEYSPACE_MISSES),
                "keyspace_hit_rate": v(catalogue.REDIS_KEYSPACE_HIT_RATE),
            },
            "cache": self._cache_json(),
            "queue": {
                name.removeprefix("queue."): m.value
                for name, m in self.metrics.items() if name.startswith("queue.")
            },
            "prefix": {
                "key_prefix": self.key_prefix,
                "keys": v(catalogue.PREFIX_KEYS),
                "avg_ttl_seconds": v(catalogue.PREFIX_AVG_TTL_S),
            },
            "nodes": self._nodes_json(),
            "taken_at": self.taken_at.isoformat(),
            "backend": self.backend,
            "server_wide": self.server_wide,
            "unavailable": self.unavailable,
        }

    def _nodes_json(self) -> dict[str, dict[str, Any]]:
        """A cluster's primaries: ``{"host:port": {"keys": ..., "memory.used_bytes": ...}}``
        (empty off a cluster; the ``redis`` numbers are then the totals of these)."""
        nodes: dict[str, dict[str, Any]] = {}
        for m in self.metrics.values():
            node = m.labels.get("node")
            if node and m.name.startswith("node."):
                nodes.setdefault(node, {})[m.name.removeprefix(f"node.{node}.")] = m.value
        return nodes

    def _cache_json(self) -> dict[str, Any]:
        """The overall counters, and each entity's under its own name (``"user": {"hits"...}``)."""
        entities: dict[str, dict[str, Any]] = {}
        for m in self.metrics.values():
            entity = m.labels.get("entity")
            if m.name.startswith("cache.") and entity:
                entities.setdefault(entity, {})[m.name.rsplit(".", 1)[1]] = m.value
        return {
            "hits": self.value(catalogue.CACHE_HITS.name),
            "misses": self.value(catalogue.CACHE_MISSES.name),
            "hit_rate": self.value(catalogue.CACHE_HIT_RATE.name),
            "entities": entities,
        }

    def __str__(self) -> str:
        rows = [(m.name, m.display(), m.reason or m.source) for m in self.metrics.values()]
        width = max(len(r[0]) for r in rows)
        vwidth = max(len(r[1]) for r in rows)
        lines = [f"Metrics at {self.taken_at:%Y-%m-%d %H:%M:%S} UTC"
                 + (f" (key prefix {self.key_prefix!r})" if self.key_prefix else "")]
        lines += [f"  {n:<{width}}  {v:>{vwidth}}  {s}" for n, v, s in rows]
        if self.key_prefix:
            lines.append("  Server-wide (every prefix, not only yours): "
                         + ", ".join(self.server_wide))
        return "\n".join(lines)


def snapshot(client: redis.Redis, keys: KeySchema | None = None, *,
             cache: CacheCounters | None = None, queue: QueueInspector | None = None,
             previous: Snapshot | None = None, ttl_sample: int = 200,
             backend: str | None = None) -> Snapshot:
    """Measure everything once.

    ``cache`` (a :class:`~helpdesk_kit.cache.Cache`) adds its hit/miss counters; ``queue`` (a
    :class:`~helpdesk_kit.queue.TaskQueue`) its ``inspect()``; ``previous`` (the last snapshot)
    turns counters into per-minute rates. ``ttl_sample`` caps how many keys under the prefix
    are sampled for the average TTL. A Redis that does not answer raises
    :class:`~helpdesk_kit.errors.RedisBackendError`.
    """
    keys = keys or KeySchema()
    if is_cluster(client) and not keys.cluster:  # the queue's keys are {tasks}:... there
        keys = replace(keys, cluster=True)
    now = time.monotonic()
    try:
        found: list[Metric] = []
        found += server_metrics(client, keys, previous, now, ttl_sample)
        found += node_metrics(client)  # a cluster's primaries, one by one (else nothing)
        found += cache_metrics(cache)
        found += queue_metrics(client, keys, queue, previous, now)
    except (redis.ConnectionError, redis.TimeoutError) as exc:
        raise RedisBackendError(f"Redis did not answer while measuring: {exc}") from exc
    except redis.exceptions.NoPermissionError as exc:  # a class's learner: say what, not how
        raise FeatureUnavailableError(f"cannot measure: {acl.explain(exc)}") from None
    return Snapshot({m.name: m for m in found}, datetime.now(UTC), now, keys.prefix, backend)


class MetricsCollector:
    """Takes snapshots and keeps the previous one, so rates per minute can be computed.

    Thread-safe: the HTTP endpoint may be asked twice at once.
    """

    def __init__(self, client: redis.Redis, keys: KeySchema | None = None, *,
                 cache: CacheCounters | None = None, queue: QueueInspector | None = None,
                 backend: str | None = None, ttl_sample: int = 200) -> None:
        self.client = client
        self.keys = keys or KeySchema()
        self.cache = cache
        self.queue = queue
        self.backend = backend
        self.ttl_sample = ttl_sample
        self.previous: Snapshot | None = None
        self._lock = threading.Lock()

    def snapshot(self) -> Snapshot:
        with self._lock:
            result = snapshot(self.client, self.keys, cache=self.cache, queue=self.queue,
                              previous=self.previous, ttl_sample=self.ttl_sample,
                              backend=self.backend)
            self.previous = result
            return result

    def snapshot_json(self) -> dict[str, Any]:
        """The design's ``/api/metrics`` JSON, extended (see :meth:`Snapshot.to_api_json`)."""
        return self.snapshot().to_api_json()


def snapshot_json(client: redis.Redis, keys: KeySchema | None = None, **kwargs: Any
                  ) -> dict[str, Any]:
    """``snapshot(...).to_api_json()``: what the design's ``GET /api/metrics`` returned."""
    return snapshot(client, keys, **kwargs).to_api_json()
