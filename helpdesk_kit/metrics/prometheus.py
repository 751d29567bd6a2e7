"""A snapshot as Prometheus text (exposition format 0.0.4), for ``GET /metrics``.

Where a number is one that redis_exporter (oliver006/redis_exporter) also exports, it has the
exporter's name (``redis_memory_used_bytes``, ``redis_db_keys{db="db0"}``,
``redis_evicted_keys_total``...), so a Grafana dashboard made for the exporter reads it. The
kit's own numbers are ``helpdesk_*``. An unavailable metric is left out (Prometheus reads a
missing series as "unknown", never as 0) and listed in a ``# unavailable:`` comment line.
"""

from __future__ import annotations

import math

from .snapshot import Snapshot

__all__ = ["CONTENT_TYPE", "to_prometheus"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# snapshot metric -> (Prometheus name, type, help); "{db}" gets the database label.
_SERVER = (
    ("redis.keys", "redis_db_keys", "gauge", "Total number of keys by DB (DBSIZE)"),
    ("redis.keys_expiring", "redis_db_keys_expiring", "gauge",
     "Total number of expiring keys by DB"),
    ("redis.avg_ttl_s", "redis_db_avg_ttl_seconds", "gauge", "Avg TTL in seconds (INFO)"),
    ("memory.used_bytes", "redis_memory_used_bytes", "gauge", "INFO used_memory"),
    ("memory.peak_bytes", "redis_memory_used_peak_bytes", "gauge", "INFO used_memory_peak"),
    ("memory.max_bytes", "redis_memory_max_bytes", "gauge", "INFO maxmemory (0: no limit)"),
    ("redis.evicted_keys", "redis_evicted_keys_total", "counter", "INFO evicted_keys"),
    ("redis.expired_keys", "redis_expired_keys_total", "counter", "INFO expired_keys"),
    ("redis.keyspace_hits", "redis_keyspace_hits_total", "counter",
     "INFO keyspace_hits (every read of every client)"),
    ("redis.keyspace_misses", "redis_keyspace_misses_total", "counter",
     "INFO keyspace_misses (every read of every client)"),
    ("redis.ops_per_sec", "redis_instantaneous_ops_per_sec", "gauge",
     "INFO instantaneous_ops_per_sec"),
    ("redis.uptime_s", "redis_uptime_in_seconds", "gauge", "INFO uptime_in_seconds"),
)
_KIT = (
    ("memory.used_percent", "helpdesk_memory_used_percent", "gauge",
     "used_memory / maxmemory in percent (the seed's used_percent)"),
    ("redis.evicted_per_min", "helpdesk_evicted_keys_per_minute", "gauge",
     "Evictions per minute (the tuning table's Key Evictions)"),
    ("prefix.keys", "helpdesk_keys", "gauge", "Keys under the kit's key prefix (SCAN)"),
    ("prefix.avg_ttl_s", "helpdesk_avg_ttl_seconds", "gauge",
     "Average remaining TTL of the kit's keys (sampled with SCAN + PTTL)"),
    ("queue.pending", "helpdesk_queue_pending_tasks", "gauge", "LLEN tasks:pending"),
    ("queue.processing", "helpdesk_queue_processing_tasks", "gauge", "Tasks held by workers"),
    ("queue.delayed", "helpdesk_queue_delayed_tasks", "gauge", "Tasks waiting for a retry"),
    ("queue.dead", "helpdesk_queue_dead_tasks", "gauge", "Dead letters"),
    ("queue.oldest_pending_age_s", "helpdesk_queue_oldest_pending_age_seconds", "gauge",
     "Age of the oldest pending task"),
    ("queue.done", "helpdesk_queue_tasks_done_total", "counter", "Tasks finished"),
    ("queue.failed", "helpdesk_queue_tasks_failed_total", "counter", "Task attempts failed"),
)
# per-entity cache counters: suffix of the snapshot name -> (Prometheus name, type, help)
_CACHE = (
    ("hits", "helpdesk_cache_hits_total", "counter", "Cache hits (only cache reads)"),
    ("misses", "helpdesk_cache_misses_total", "counter", "Cache misses"),
    ("hit_rate", "helpdesk_cache_hit_ratio", "gauge", "Hits / (hits + misses), 0 to 1"),
)


def _number(value: object) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return repr(float(value)) if isinstance(value, float) else str(value)


def _labels(labels: dict[str, str]) -> str:
    if not labels:
        return ""
    escaped = (v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
               for v in labels.values())
    return "{" + ",".join(f'{k}="{v}"' for k, v in zip(labels, escaped, strict=True)) + "}"


def to_prometheus(snap: Snapshot, db: int = 0) -> str:
    """Prometheus text for ``snap``: one ``# HELP``, one ``# TYPE`` and its samples per name."""
    lines = ["# HELP redis_up Whether Redis answered this scrape", "# TYPE redis_up gauge",
             "redis_up 1"]
    unavailable: list[str] = []

    def family(name: str, kind: str, help_text: str, samples: list[tuple[dict, object]]
               ) -> None:
        rendered = [(labels, _number(v)) for labels, v in samples]
        rendered = [(labels, v) for labels, v in rendered if v is not None]
        if rendered:
            lines.extend([f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"])
            lines.extend(f"{name}{_labels(labels)} {v}" for labels, v in rendered)

    for table in (_SERVER, _KIT):
        for key, name, kind, help_text in table:
            if key not in snap:
                continue
            metric = snap[key]
            if not metric.available:
                unavailable.append(f"{name}: {metric.reason}")
                continue
            labels = {"db": f"db{db}"} if name.startswith("redis_db_") else {}
            family(name, kind, help_text, [(labels, metric.value)])

    entities = sorted({m.labels["entity"] for m in snap.metrics.values()
                       if m.name.startswith("cache.") and "entity" in m.labels})
    for suffix, name, kind, help_text in _CACHE:
        samples = [({"entity": e}, snap.value(f"cache.{e}.{suffix}")) for e in entities]
        family(name, kind, help_text, samples)
    if "cache.hits" in snap and not snap["cache.hits"].available:
        unavailable.append(f"helpdesk_cache_*: {snap['cache.hits'].reason}")

    lines += [f"# unavailable: {line}" for line in unavailable]
    return "\n".join(lines) + "\n"
