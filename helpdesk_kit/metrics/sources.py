"""Where each number comes from: INFO, DBSIZE, SCAN + PTTL, the Cache's counters, the queue.

Each reader returns :class:`Metric` objects. When a backend cannot tell a number, the metric
says so (``value=None`` plus a ``reason``) instead of inventing a zero: fakeredis has no INFO,
a managed Redis may hide some fields, a snapshot without a previous one has no rate yet.
:mod:`helpdesk_kit.metrics` puts the readers together into one snapshot.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from typing import Any, Protocol

import redis

from ..keys import KeySchema
from ..queue import TaskQueue, TaskRegistry
from ..vocab import MetricScope

__all__ = ["Metric", "Number", "cache_metrics", "per_minute", "queue_metrics", "redis_db",
           "server_metrics"]

Number = int | float
NEEDS_REAL_SERVER = "fakeredis has no INFO: this number needs a real redis-server"


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


class HasMonotonic(Protocol):
    """The part of a previous snapshot a rate needs (avoids importing metrics.py here)."""

    monotonic: float

    def value(self, name: str) -> Number | str | None: ...


def _missing(name: str, unit: str, source: str, description: str, reason: str,
             scope: MetricScope = MetricScope.SERVER, **labels: str) -> Metric:
    return Metric(name, None, unit, source, description, scope, reason, dict(labels))


# --- the server: DBSIZE, INFO, SCAN ------------------------------------------------------
def _read_info(client: redis.Redis) -> tuple[dict[str, Any] | None, str]:
    """``INFO`` (default sections) or None with the reason this backend gives none."""
    try:
        return client.info(), ""
    except redis.ResponseError as exc:
        if type(client).__module__.startswith("fakeredis"):
            return None, NEEDS_REAL_SERVER
        return None, f"this Redis refused INFO ({exc})"


def redis_db(client: redis.Redis) -> int:
    """The database number (``SELECT n``, ``redis://host/n``) this client talks to."""
    return int(client.connection_pool.connection_kwargs.get("db") or 0)


def server_metrics(client: redis.Redis, keys: KeySchema, previous: HasMonotonic | None,
                   now: float, ttl_sample: int) -> list[Metric]:
    """DBSIZE, INFO memory/stats/keyspace and the TTLs sampled under the prefix."""
    info, why = _read_info(client)
    dbsize = int(client.dbsize())
    db = redis_db(client)

    def from_info(name: str, fld: str, unit: str, description: str,
                  convert: Callable[[Any], Number | str] = int) -> Metric:
        source = f"INFO {fld}"
        if info is None:
            return _missing(name, unit, source, description, why)
        if fld not in info:
            return _missing(name, unit, source, description, f"INFO has no {fld} here")
        return Metric(name, convert(info[fld]), unit, source, description)

    used = from_info("memory.used_bytes", "used_memory", "bytes",
                     "Memory Redis has allocated (the seed's used_bytes)")
    maximum = from_info("memory.max_bytes", "maxmemory", "bytes",
                        "The maxmemory limit; 0 means no limit (the seed's max_bytes)")
    evicted = from_info("redis.evicted_keys", "evicted_keys", "keys",
                        "Keys removed because memory reached maxmemory (since server start)")
    uptime = from_info("redis.uptime_s", "uptime_in_seconds", "s", "Seconds since server start")
    hits = from_info("redis.keyspace_hits", "keyspace_hits", "reads",
                     "Server-wide successful key lookups: EVERY read command of every client "
                     "(queue pops too), while cache.hits counts only the kit's cache reads")
    misses = from_info("redis.keyspace_misses", "keyspace_misses", "reads",
                       "Server-wide failed key lookups (every read of every client)")
    result = [
        Metric("redis.keys", dbsize, "keys", "DBSIZE",
               "Keys in this Redis database, every prefix (the seed's keys)"),
        used, maximum, _used_percent(used, maximum),
        from_info("memory.peak_bytes", "used_memory_peak", "bytes",
                  "Highest memory use since server start"),
        from_info("memory.policy", "maxmemory_policy", "", "What Redis evicts at maxmemory",
                  str),
        *_keyspace(info, why, db, dbsize),
        evicted,
        per_minute("redis.evicted_per_min", evicted, previous, now, uptime,
                   "Evictions per minute (the tuning table's Key Evictions)"),
        from_info("redis.expired_keys", "expired_keys", "keys",
                  "Keys removed because their TTL ran out (since server start)"),
        from_info("redis.ops_per_sec", "instantaneous_ops_per_sec", "ops/s",
                  "Commands per second, Redis's own recent estimate"),
        hits, misses, _ratio("redis.keyspace_hit_rate", hits, misses, MetricScope.SERVER,
                             "keyspace_hits / (keyspace_hits + keyspace_misses), every read"),
        uptime,
    ]
    return result + _prefix_metrics(client, keys, ttl_sample)


def _used_percent(used: Metric, maximum: Metric) -> Metric:
    name, desc = "memory.used_percent", "used_memory / maxmemory (the seed's used_percent)"
    source = "INFO used_memory / maxmemory"
    if used.value is None or maximum.value is None:
        return _missing(name, "%", source, desc, used.reason or maximum.reason or "")
    if maximum.value == 0:
        return _missing(name, "%", source, desc,
                        "maxmemory is 0 (no limit): there is no percentage of nothing")
    return Metric(name, round(100 * float(used.value) / float(maximum.value), 2), "%", source,
                  desc)


def _keyspace(info: dict[str, Any] | None, why: str, db: int, dbsize: int) -> list[Metric]:
    """Keys with an expiry and Redis's own average TTL, from ``INFO keyspace``."""
    field_name = f"db{db}"
    expiring_desc = "Keys that have a TTL in this database (every prefix)"
    ttl_desc = "Redis's estimate of the average TTL of keys that have one (every prefix)"
    if info is None:
        return [_missing("redis.keys_expiring", "keys", f"INFO keyspace {field_name}",
                         expiring_desc, why),
                _missing("redis.avg_ttl_s", "s", f"INFO keyspace {field_name} avg_ttl",
                         ttl_desc, why)]
    stats = info.get(field_name)
    if stats is None:  # Redis lists only databases that hold keys
        stats = {"expires": 0, "avg_ttl": 0} if dbsize == 0 else {}
    expires = stats.get("expires")
    expiring = Metric("redis.keys_expiring", int(expires) if expires is not None else None,
                      "keys", f"INFO keyspace {field_name}", expiring_desc,
                      reason=None if expires is not None else "INFO keyspace has no expires")
    ttl_source = f"INFO keyspace {field_name} avg_ttl"
    if not expires:
        ttl = _missing("redis.avg_ttl_s", "s", ttl_source, ttl_desc, "no key has a TTL")
    elif not stats.get("avg_ttl"):
        ttl = _missing("redis.avg_ttl_s", "s", ttl_source, ttl_desc,
                       "Redis has not estimated it yet (it samples during its expire cycle, "
                       "about every 100 ms)")
    else:
        ttl = Metric("redis.avg_ttl_s", round(int(stats["avg_ttl"]) / 1000, 1), "s",
                     ttl_source, ttl_desc)
    return [expiring, ttl]


def _scan_prefix(client: redis.Redis, keys: KeySchema) -> Iterator[str]:
    return client.scan_iter(match=keys.all_keys, count=500)


def _prefix_metrics(client: redis.Redis, keys: KeySchema, ttl_sample: int) -> list[Metric]:
    """The kit's own keys (SCAN under the prefix): how many, and their average TTL.

    This works on every backend, fakeredis included: it is how the TTL row of the tuning table
    gets a value where INFO is missing.
    """
    scope = MetricScope.PREFIX if keys.prefix else MetricScope.SERVER
    where = f"under {keys.prefix!r}" if keys.prefix else "in the database"
    result: list[Metric] = []
    if keys.prefix:
        sample: list[str] = []
        count = 0
        for key in _scan_prefix(client, keys):
            count += 1
            if len(sample) < ttl_sample:
                sample.append(key)
        result.append(Metric("prefix.keys", count, "keys", f"SCAN MATCH {keys.all_keys}",
                             f"Keys {where} (this kit's keys only)", MetricScope.PREFIX))
    else:
        sample = list(islice(_scan_prefix(client, keys), ttl_sample))
    pipe = client.pipeline(transaction=False)
    for key in sample:
        pipe.pttl(key)
    ttls = [int(t) for t in pipe.execute()] if sample else []
    with_ttl = [t for t in ttls if t > 0]  # -1: no expiry (queues), -2: gone meanwhile
    source = f"SCAN + PTTL of up to {ttl_sample} keys {where}"
    desc = f"Average remaining TTL of keys {where} that have one (sampled)"
    if with_ttl:
        avg = round(sum(with_ttl) / len(with_ttl) / 1000, 1)
        result.append(Metric("prefix.avg_ttl_s", avg, "s",
                             f"{source} ({len(with_ttl)} with a TTL)", desc, scope))
    else:
        result.append(_missing("prefix.avg_ttl_s", "s", source, desc,
                               f"no key {where} has a TTL", scope))
    return result


# --- derived numbers ---------------------------------------------------------------------
def _ratio(name: str, hits: Metric, misses: Metric, scope: MetricScope, description: str,
           **labels: str) -> Metric:
    """hits / (hits + misses), or unavailable before any read (never a made-up 0 %)."""
    source = f"{hits.name} / ({hits.name} + {misses.name})"
    if hits.value is None or misses.value is None:
        return _missing(name, "ratio", source, description, hits.reason or misses.reason or "",
                        scope, **labels)
    total = float(hits.value) + float(misses.value)
    if total == 0:
        return _missing(name, "ratio", source, description, "no reads yet", scope, **labels)
    return Metric(name, float(hits.value) / total, "ratio", source, description, scope,
                  labels=dict(labels))


def per_minute(name: str, total: Metric, previous: HasMonotonic | None, now: float,
               uptime: Metric | None, description: str) -> Metric:
    """A counter as a rate per minute: the difference to the previous snapshot.

    Without a previous snapshot, a server counter falls back to its average since the server
    started (``uptime``), and says so in ``source``; other counters are unavailable.
    """
    unit = f"{total.unit}/min"
    if total.value is None:
        return _missing(name, unit, total.source, description, total.reason or "", total.scope)
    before = previous.value(total.name) if previous is not None else None
    if previous is not None and isinstance(before, int | float):
        elapsed = now - previous.monotonic
        delta = float(total.value) - float(before)
        if delta < 0:
            return _missing(name, unit, total.source, description,
                            "the counter went backwards (restart or reset): ask again",
                            total.scope)
        if elapsed > 0:
            return Metric(name, round(delta / elapsed * 60, 2), unit,
                          f"change of {total.source} over {elapsed:.1f} s", description,
                          total.scope)
    if uptime is not None and isinstance(uptime.value, int) and uptime.value > 0:
        return Metric(name, round(float(total.value) / uptime.value * 60, 2), unit,
                      f"{total.source} / uptime: average since server start (no previous "
                      "snapshot yet)", description, total.scope)
    return _missing(name, unit, total.source, description,
                    "needs two snapshots: a MetricsCollector keeps the previous one",
                    total.scope)


# --- the cache's own counters ------------------------------------------------------------
_NO_CACHE = ("no Cache given: its hit/miss counters live in the Cache object of the process "
             "that serves reads (pass cache=...)")


def _cache_trio(prefix: str, hits: int | None, misses: int | None, reason: str,
                **labels: str) -> list[Metric]:
    who = f"entity {labels['entity']!r}" if labels else "all entities"
    src = "Cache.stats()" if labels else "Cache.total_stats()"
    h = Metric(f"{prefix}.hits", hits, "reads", src, f"Cache hits, {who} (only cache reads)",
               MetricScope.PROCESS, None if hits is not None else reason, dict(labels))
    m = Metric(f"{prefix}.misses", misses, "reads", src, f"Cache misses, {who}",
               MetricScope.PROCESS, None if misses is not None else reason, dict(labels))
    rate = _ratio(f"{prefix}.hit_rate", h, m, MetricScope.PROCESS,
                  f"The seed's Hit Rate = Hits / (Hits + Misses), {who}", **labels)
    return [h, m, rate]


def cache_metrics(cache: Any) -> list[Metric]:
    """Hits, misses and hit rate per entity and overall, from ``Cache.stats()``."""
    if cache is None:
        return _cache_trio("cache", None, None, _NO_CACHE)
    result: list[Metric] = []
    for entity, stats in sorted(cache.stats().items()):
        result += _cache_trio(f"cache.{entity}", stats.hits, stats.misses, "", entity=entity)
    total = cache.total_stats()
    return _cache_trio("cache", total.hits, total.misses, "") + result


# --- the task queue ----------------------------------------------------------------------
_QUEUE_FIELDS = (
    ("queue.processing", "processing", "tasks", "Tasks a worker took and has not acked yet"),
    ("queue.delayed", "delayed", "tasks", "Tasks waiting to be retried (backoff)"),
    ("queue.dead", "dead", "tasks", "Dead letters: tasks that failed every attempt"),
    ("queue.oldest_pending_age_s", "oldest_pending_age_s", "s",
     "Age of the oldest pending task (how far behind the workers are)"),
    ("queue.done", "done", "tasks", "Tasks finished since the counters started"),
    ("queue.failed", "failed", "tasks", "Task attempts that failed since the counters started"),
)


def queue_metrics(client: redis.Redis, keys: KeySchema, queue: Any,
                  previous: HasMonotonic | None, now: float) -> list[Metric]:
    """The seed's queue_length (LLEN tasks:pending) and the rest from ``TaskQueue.inspect()``."""
    result = [Metric("queue.pending", int(client.llen(keys.tasks_pending)), "tasks",
                     f"LLEN {keys.tasks_pending}",
                     "Tasks waiting for a worker (the seed's queue_length)", MetricScope.PREFIX)]
    stats, reason = _inspect(client, keys, queue)
    source = "TaskQueue.inspect()"
    for name, attr, unit, desc in _QUEUE_FIELDS:
        value = getattr(stats, attr) if stats is not None else None
        if stats is None:
            why: str | None = reason
        elif value is None:
            why = "no pending task"
        else:
            why = None
        result.append(Metric(name, value, unit, source, desc, MetricScope.PREFIX, why))
    by_name = {m.name: m for m in result}
    result.append(per_minute("queue.done_per_min", by_name["queue.done"], previous, now, None,
                             "Tasks finished per minute"))
    result.append(per_minute("queue.failed_per_min", by_name["queue.failed"], previous, now,
                             None, "Task attempts failed per minute"))
    return result


def _inspect(client: redis.Redis, keys: KeySchema, queue: Any) -> tuple[Any, str]:
    if queue is None:
        queue = TaskQueue(client, keys, registry=TaskRegistry())  # only inspected: no types
    return queue.inspect(), ""
