"""Where each number comes from: INFO, DBSIZE, SCAN + PTTL, the Cache's counters, the queue.

Each reader returns :class:`Metric` objects made by their entry in
:mod:`~helpdesk_kit.metrics.catalogue` (name, unit, description); this module adds only the
value and where it came from. When a backend cannot tell a number, the metric says so
(``value=None`` plus a ``reason``) instead of inventing a zero: fakeredis has no INFO, a
managed Redis may hide some fields, a snapshot without a previous one has no rate yet.
:mod:`helpdesk_kit.metrics.snapshot` puts the readers together into one snapshot.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from itertools import islice
from typing import Any, Protocol

import redis

from ..backends.cluster import is_cluster
from ..cache import CacheStats
from ..keys import KeySchema
from ..queue import QueueStats, TaskQueue, TaskRegistry
from ..vocab import Entity, MetricScope
from . import catalogue
from .catalogue import Metric, MetricSpec, Number
from .nodes import cluster_info, total_dbsize

__all__ = ["CacheCounters", "Metric", "Number", "QueueInspector",
           "cache_metrics", "per_minute", "queue_metrics", "redis_db", "server_metrics"]

NEEDS_REAL_SERVER = "fakeredis has no INFO: this number needs a real redis-server"
NO_INFO_FOR_USER = ("your Redis user may not run INFO (the class shares this server; your own "
                    "keys are counted by SCAN under your prefix)")


class HasMonotonic(Protocol):
    """The part of a previous snapshot a rate needs (avoids importing snapshot.py here)."""

    monotonic: float

    def value(self, name: str) -> Number | str | None: ...


class CacheCounters(Protocol):
    """What a snapshot reads from a :class:`~helpdesk_kit.cache.Cache`: its counters."""

    def stats(self) -> Mapping[Entity, CacheStats]: ...

    def total_stats(self) -> CacheStats: ...


class QueueInspector(Protocol):
    """What a snapshot reads from a :class:`~helpdesk_kit.queue.TaskQueue`: ``inspect()``."""

    def inspect(self) -> QueueStats: ...


# --- the server: DBSIZE, INFO, SCAN ------------------------------------------------------
def _read_info(client: redis.Redis) -> tuple[dict[str, Any] | None, str]:
    """``INFO`` (default sections) or None with the reason this backend gives none.

    On a Redis Cluster: the primaries' INFO added up (:func:`~.nodes.cluster_info`)."""
    try:
        if is_cluster(client):
            return cluster_info(client), ""
        return client.info(), ""
    except redis.exceptions.NoPermissionError:  # a class's learner: INFO shows the server
        return None, NO_INFO_FOR_USER
    except redis.ResponseError as exc:
        if type(client).__module__.startswith("fakeredis"):
            return None, NEEDS_REAL_SERVER
        return None, f"this Redis refused INFO ({exc})"


def redis_db(client: redis.Redis) -> int:
    """The database number (``SELECT n``, ``redis://host/n``) this client talks to."""
    pool = getattr(client, "connection_pool", None)  # a cluster client has none: always db 0
    return int(pool.connection_kwargs.get("db") or 0) if pool is not None else 0


def server_metrics(client: redis.Redis, keys: KeySchema, previous: HasMonotonic | None,
                   now: float, ttl_sample: int) -> list[Metric]:
    """DBSIZE, INFO memory/stats/keyspace and the TTLs sampled under the prefix."""
    info, why = _read_info(client)
    dbsize = total_dbsize(client) if is_cluster(client) else int(client.dbsize())

    def from_info(spec: MetricSpec, fld: str,
                  convert: Callable[[Any], Number | str] = int) -> Metric:
        source = f"INFO {fld}"
        if info is None:
            return spec.measure(None, source, why)
        if fld not in info:
            return spec.measure(None, source, f"INFO has no {fld} here")
        return spec.measure(convert(info[fld]), source)

    used = from_info(catalogue.MEMORY_USED_BYTES, "used_memory")
    maximum = from_info(catalogue.MEMORY_MAX_BYTES, "maxmemory")
    evicted = from_info(catalogue.REDIS_EVICTED_KEYS, "evicted_keys")
    uptime = from_info(catalogue.REDIS_UPTIME_S, "uptime_in_seconds")
    hits = from_info(catalogue.REDIS_KEYSPACE_HITS, "keyspace_hits")
    misses = from_info(catalogue.REDIS_KEYSPACE_MISSES, "keyspace_misses")
    result = [
        catalogue.REDIS_KEYS.measure(dbsize, "DBSIZE"),
        used, maximum, _used_percent(used, maximum),
        from_info(catalogue.MEMORY_PEAK_BYTES, "used_memory_peak"),
        from_info(catalogue.MEMORY_POLICY, "maxmemory_policy", str),
        *_keyspace(info, why, redis_db(client), dbsize),
        evicted,
        per_minute(catalogue.REDIS_EVICTED_PER_MIN, evicted, previous, now, uptime),
        from_info(catalogue.REDIS_EXPIRED_KEYS, "expired_keys"),
        from_info(catalogue.REDIS_OPS_PER_SEC, "instantaneous_ops_per_sec"),
        hits, misses, _ratio(catalogue.REDIS_KEYSPACE_HIT_RATE, hits, misses),
        uptime,
    ]
    return result + _prefix_metrics(client, keys, ttl_sample)


def _used_percent(used: Metric, maximum: Metric) -> Metric:
    spec = catalogue.MEMORY_USED_PERCENT
    source = "INFO used_memory / maxmemory"
    if used.value is None or maximum.value is None:
        return spec.measure(None, source, used.reason or maximum.reason or "")
    if maximum.value == 0:
        return spec.measure(None, source,
                            "maxmemory is 0 (no limit): there is no percentage of nothing")
    return spec.measure(round(100 * float(used.value) / float(maximum.value), 2), source)


def _keyspace(info: dict[str, Any] | None, why: str, db: int, dbsize: int) -> list[Metric]:
    """Keys with an expiry and Redis's own average TTL, from ``INFO keyspace``."""
    source = f"INFO keyspace db{db}"
    ttl_source = f"{source} avg_ttl"
    if info is None:
        return [catalogue.REDIS_KEYS_EXPIRING.measure(None, source, why),
                catalogue.REDIS_AVG_TTL_S.measure(None, ttl_source, why)]
    stats = info.get(f"db{db}")
    if stats is None:  # Redis lists only databases that hold keys
        stats = {"expires": 0, "avg_ttl": 0} if dbsize == 0 else {}
    expires = stats.get("expires")
    if expires is None:
        expiring = catalogue.REDIS_KEYS_EXPIRING.measure(None, source,
                                                         "INFO keyspace has no expires")
    else:
        expiring = catalogue.REDIS_KEYS_EXPIRING.measure(int(expires), source)
    if not expires:
        ttl = catalogue.REDIS_AVG_TTL_S.measure(None, ttl_source, "no key has a TTL")
    elif not stats.get("avg_ttl"):
        ttl = catalogue.REDIS_AVG_TTL_S.measure(None, ttl_source,
                                        "Redis has not estimated it yet (it samples during "
                                        "its expire cycle, about every 100 ms)")
    else:
        ttl = catalogue.REDIS_AVG_TTL_S.measure(round(int(stats["avg_ttl"]) / 1000, 1), ttl_source)
    return [expiring, ttl]


def _scan_prefix(client: redis.Redis, keys: KeySchema) -> Iterator[str]:
    return client.scan_iter(match=keys.all_keys, count=500)


def _bookkeeping(keys: KeySchema) -> tuple[str, ...]:
    """Name starts of the kit's own bookkeeping keys: not cached values, so not in the TTL
    sample (a generation counter lives an hour; its TTL says nothing about the cache's)."""
    return (f"{keys.prefix}gen:", f"{keys.prefix}lock:", keys.fence)


def _prefix_metrics(client: redis.Redis, keys: KeySchema, ttl_sample: int) -> list[Metric]:
    """The kit's own keys (SCAN under the prefix): how many, and their average TTL.

    This works on every backend, fakeredis included: it is how the TTL row of the tuning table
    gets a value where INFO is missing. Without a prefix the kit's keys are the whole
    database, so the average TTL is then a server number. SCAN may return a key twice (a
    rehash during the walk): keys are counted once each. The TTL is sampled over cached values
    only - not the generation counters and locks the cache keeps beside them.
    """
    scope = MetricScope.PREFIX if keys.prefix else MetricScope.SERVER
    where = f"under {keys.prefix!r}" if keys.prefix else "in the database"
    skipped = _bookkeeping(keys)
    result: list[Metric] = []
    sample: list[str] = []
    if keys.prefix:
        seen: set[str] = set()
        for key in _scan_prefix(client, keys):
            if key in seen:
                continue
            seen.add(key)
            if len(sample) < ttl_sample and not key.startswith(skipped):
                sample.append(key)
        result.append(catalogue.PREFIX_KEYS.measure(len(seen), f"SCAN MATCH {keys.all_keys}",
                                            where=where))
    else:
        cached = (key for key in _scan_prefix(client, keys) if not key.startswith(skipped))
        sample = list(islice(dict.fromkeys(cached), ttl_sample))
    pipe = client.pipeline(transaction=False)
    for key in sample:
        pipe.pttl(key)
    # A learner of a class may see other learners' key names (SCAN) but not their TTLs
    # (NOPERM): those are skipped, not counted.
    replies = pipe.execute(raise_on_error=False) if sample else []
    ttls = [int(t) for t in replies if not isinstance(t, Exception)]
    with_ttl = [t for t in ttls if t > 0]  # -1: no expiry (queues), -2: gone meanwhile
    source = f"SCAN + PTTL of up to {ttl_sample} cached keys {where} (not gen:/lock:)"
    if with_ttl:
        avg = round(sum(with_ttl) / len(with_ttl) / 1000, 1)
        result.append(catalogue.PREFIX_AVG_TTL_S.measure(
            avg, f"{source} ({len(with_ttl)} with a TTL)", scope=scope, where=where))
    else:
        result.append(catalogue.PREFIX_AVG_TTL_S.measure(
            None, source, f"no cached key {where} has a TTL", scope=scope, where=where))
    return result


# --- derived numbers ---------------------------------------------------------------------
def _ratio(spec: MetricSpec, hits: Metric, misses: Metric, **labels: str) -> Metric:
    """hits / (hits + misses), or unavailable before any read (never a made-up 0 %)."""
    source = f"{hits.name} / ({hits.name} + {misses.name})"
    if hits.value is None or misses.value is None:
        return spec.measure(None, source, hits.reason or misses.reason or "", labels=labels)
    total = float(hits.value) + float(misses.value)
    if total == 0:
        return spec.measure(None, source, "no reads yet", labels=labels)
    return spec.measure(float(hits.value) / total, source, labels=labels)


def per_minute(spec: MetricSpec, total: Metric, previous: HasMonotonic | None, now: float,
               uptime: Metric | None) -> Metric:
    """A counter as a rate per minute (``spec``): the difference to the previous snapshot.

    Without a previous snapshot, a server counter falls back to its average since the server
    started (``uptime``), and says so in ``source``; other counters are unavailable.
    """
    if total.value is None:
        return spec.measure(None, total.source, total.reason or "")
    before = previous.value(total.name) if previous is not None else None
    if previous is not None and isinstance(before, int | float):
        elapsed = now - previous.monotonic
        delta = float(total.value) - float(before)
        if delta < 0:
            return spec.measure(None, total.source,
                                "the counter went backwards (restart or reset): ask again")
        if elapsed > 0:
            return spec.measure(round(delta / elapsed * 60, 2),
                                f"change of {total.source} over {elapsed:.1f} s")
    if uptime is not None and isinstance(uptime.value, int) and uptime.value > 0:
        return spec.measure(round(float(total.value) / uptime.value * 60, 2),
                            f"{total.source} / uptime: average since server start (no "
                            "previous snapshot yet)")
    return spec.measure(None, total.source,
                        "needs two snapshots: a MetricsCollector keeps the previous one")


# --- the cache's own counters ------------------------------------------------------------
_NO_CACHE = ("no Cache given: its hit/miss counters live in the Cache object of the process "
             "that serves reads (pass cache=...)")
_OVERALL = (catalogue.CACHE_HITS, catalogue.CACHE_MISSES, catalogue.CACHE_HIT_RATE)
_PER_ENTITY = (catalogue.CACHE_ENTITY_HITS, catalogue.CACHE_ENTITY_MISSES,
               catalogue.CACHE_ENTITY_HIT_RATE)


def _cache_trio(specs: tuple[MetricSpec, MetricSpec, MetricSpec], hits: int | None,
                misses: int | None, reason: str, **labels: str) -> list[Metric]:
    hits_spec, misses_spec, rate_spec = specs
    source = "Cache.stats()" if labels else "Cache.total_stats()"
    h = hits_spec.measure(hits, source, None if hits is not None else reason, labels=labels)
    m = misses_spec.measure(misses, source, None if misses is not None else reason,
                            labels=labels)
    return [h, m, _ratio(rate_spec, h, m, **labels)]


def cache_metrics(cache: CacheCounters | None) -> list[Metric]:
    """Hits, misses and hit rate per entity and overall, from ``Cache.stats()``."""
    if cache is None:
        return _cache_trio(_OVERALL, None, None, _NO_CACHE)
    result: list[Metric] = []
    for entity, stats in sorted(cache.stats().items()):
        result += _cache_trio(_PER_ENTITY, stats.hits, stats.misses, "", entity=entity)
    total = cache.total_stats()
    return _cache_trio(_OVERALL, total.hits, total.misses, "") + result


# --- the task queue ----------------------------------------------------------------------
#: The queue's metrics and the :class:`~helpdesk_kit.queue.QueueStats` field each one reads.
_QUEUE_FIELDS = (
    (catalogue.QUEUE_PROCESSING, "processing"),
    (catalogue.QUEUE_DELAYED, "delayed"),
    (catalogue.QUEUE_DEAD, "dead"),
    (catalogue.QUEUE_OLDEST_PENDING_AGE_S, "oldest_pending_age_s"),
    (catalogue.QUEUE_DONE, "done"),
    (catalogue.QUEUE_FAILED, "failed"),
)


def queue_metrics(client: redis.Redis, keys: KeySchema, queue: QueueInspector | None,
                  previous: HasMonotonic | None, now: float) -> list[Metric]:
    """The design's queue_length (LLEN tasks:pending) and the rest from ``TaskQueue.inspect()``."""
    try:
        pending = int(client.llen(keys.tasks_pending))
        if queue is None:
            queue = TaskQueue(client, keys, registry=TaskRegistry())  # only inspected
        stats = queue.inspect()
    except redis.exceptions.NoPermissionError:  # a class's learner, outside their prefix
        denied = (f"your Redis user may not read {keys.tasks_pending}: set "
                  "HELPDESK_KEY_PREFIX to the prefix in your env file")
        specs = (catalogue.QUEUE_PENDING, *(spec for spec, _ in _QUEUE_FIELDS),
                 catalogue.QUEUE_DONE_PER_MIN, catalogue.QUEUE_FAILED_PER_MIN)
        return [spec.measure(None, f"LLEN {keys.tasks_pending}", denied) for spec in specs]
    result = [catalogue.QUEUE_PENDING.measure(pending, f"LLEN {keys.tasks_pending}")]
    for spec, attr in _QUEUE_FIELDS:
        value = getattr(stats, attr)
        why = "no pending task" if value is None else None  # only the oldest age can be None
        result.append(spec.measure(value, "TaskQueue.inspect()", why))
    by_name = {m.name: m for m in result}
    done = by_name[catalogue.QUEUE_DONE.name]
    failed = by_name[catalogue.QUEUE_FAILED.name]
    result.append(per_minute(catalogue.QUEUE_DONE_PER_MIN, done, previous, now, None))
    result.append(per_minute(catalogue.QUEUE_FAILED_PER_MIN, failed, previous, now, None))
    return result
