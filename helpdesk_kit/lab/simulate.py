"""A hit-rate simulator: what access pattern, TTL, memory limit and eviction do to a cache.

The design says "Hit Rate = Hits / (Hits + Misses)", optimal above 80% (its cache section) or
90% (its tuning table), poor below 50%, and "if it is low, raise the TTL for stable data, warm
the cache, review access patterns". The levels come from
:class:`~helpdesk_kit.metrics.tuning.Thresholds` (default: the tuning table's 90%;
``HELPDESK_HIT_RATE_OPTIMAL=80`` gives the cache section's). Whether the advice helps
depends on *why* reads miss, so this model runs the design's cache-aside loop on a simulated
clock (read; on a miss load and ``SET EX ttl``) and labels every miss:

* **cold**    - the key was never cached (warming helps);
* **expired** - it was cached, its TTL ran out (a longer TTL helps, if the data allows);
* **evicted** - it was cached, memory was full and the eviction policy dropped it (more
  memory or a policy that keeps the hot keys helps);
* **rejected** - a first read whose ``SET`` failed: memory was full under ``noeviction``
  (Redis answers OOM), so the value was never cached. A re-read of an expired or evicted key
  whose ``SET`` failed keeps its first cause (*expired*, *evicted*).

It is pure Python, deterministic for a given ``seed`` and fast (30k requests in well under a
second), so a lesson can replay it as often as a slider moves. Memory is counted in keys
(every cached ticket is about the same size; Redis's ``maxmemory`` is bytes); expired keys
free their room at once, a simplification of Redis's active expiry. Its LRU and LFU are exact
by default, the ideal that Redis approximates; ``samples=5`` picks victims Redis's way, from
sampled keys (:mod:`.sim_memory` says how they differ).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, TypeVar

from ..metrics.tuning import Thresholds
from ..vocab import EvictionPolicy
from .sim_memory import SimMemory

__all__ = ["POLICIES", "SimConfig", "SimResult", "advice", "hit_rate_levels", "simulate",
           "verdict", "zipf_sample"]

T = TypeVar("T")

Pattern = Literal["uniform", "zipf"]
#: The Redis ``maxmemory-policy`` values the model implements (every cached key has a TTL,
#: so volatile-ttl may evict any of them: the one closest to expiring).
POLICIES: tuple[EvictionPolicy, ...] = (
    EvictionPolicy.ALLKEYS_LRU, EvictionPolicy.ALLKEYS_LFU, EvictionPolicy.ALLKEYS_RANDOM,
    EvictionPolicy.VOLATILE_TTL, EvictionPolicy.NOEVICTION)


def hit_rate_levels(thresholds: Thresholds | None = None) -> tuple[float, float]:
    """(optimal, poor) hit rates as fractions, from ``thresholds`` or the environment."""
    t = thresholds or Thresholds.from_env()
    return t.hit_rate_optimal / 100, t.hit_rate_deficient / 100


def zipf_sample(population: Sequence[T], n: int, rng: random.Random, s: float = 1.1) -> list[T]:
    """``n`` picks from ``population``, Zipf-skewed: the first item is the hottest.

    The item of rank ``r`` is read in proportion to ``1 / r**s`` (``s`` about 1 is typical
    web traffic). The same ``rng`` state gives the same picks.
    """
    weights = [1 / rank ** s for rank in range(1, len(population) + 1)]
    return rng.choices(population, weights=weights, k=n)


@dataclass(frozen=True)
class SimConfig:
    """One scenario. Times are seconds on the simulated clock."""

    pattern: Pattern = "zipf"
    zipf_s: float = 1.1        # skew: 0 is uniform, ~1 is typical web traffic, 2 very hot
    key_space: int = 2000      # distinct tickets that get read
    ttl: float = 300.0         # the design's EX 300
    rate: float = 50.0         # reads per second
    duration: float = 600.0    # simulated seconds
    capacity: int | None = None  # keys that fit in maxmemory; None = no limit
    policy: EvictionPolicy = EvictionPolicy.ALLKEYS_LRU
    warm: int = 0              # the hottest keys loaded before the first read (cache warming)
    samples: int = 0           # LRU/LFU victims: 0 exact, else Redis's maxmemory-samples way
    buckets: int = 30          # points on the hit-rate-over-time curve
    seed: int = 42

    def __post_init__(self) -> None:
        if self.pattern not in ("uniform", "zipf"):
            raise ValueError(f"pattern must be 'uniform' or 'zipf', got {self.pattern!r}")
        if self.policy not in POLICIES:
            raise ValueError(f"policy must be one of {', '.join(POLICIES)}, got {self.policy!r}")
        for name in ("key_space", "buckets"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
        for name in ("ttl", "rate", "duration"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive")
        if self.capacity is not None and self.capacity < 1:
            raise ValueError("capacity must be at least 1 key (or None for no limit)")
        if self.zipf_s < 0 or self.warm < 0 or self.samples < 0:
            raise ValueError("zipf_s, warm and samples must not be negative")

    @property
    def requests(self) -> int:
        return max(1, round(self.rate * self.duration))

    def __str__(self) -> str:
        pattern = f"zipf (s={self.zipf_s:g})" if self.pattern == "zipf" else "uniform"
        how = f" ({self.samples} samples)" if self.samples else ""
        memory = ("no memory limit" if self.capacity is None
                  else f"memory for {self.capacity:,} keys, {self.policy}{how}")
        warm = f", the {self.warm:,} hottest warmed first" if self.warm else ""
        return (f"{pattern} reads of {self.key_space:,} keys, {self.rate:g} per second for "
                f"{self.duration:g} s, EX {self.ttl:g}, {memory}{warm} (seed {self.seed})")


@dataclass
class SimResult:
    """Totals, the reason for every miss, and the hit rate per time bucket."""

    config: SimConfig
    hits: int = 0
    misses: dict[str, int] = field(default_factory=lambda: dict.fromkeys(
        ("cold", "expired", "evicted", "rejected"), 0))
    evictions: int = 0
    times: list[float] = field(default_factory=list)      # bucket end, seconds
    hit_rates: list[float] = field(default_factory=list)  # per bucket
    peak_keys: int = 0

    @property
    def total_misses(self) -> int:
        return sum(self.misses.values())

    @property
    def hit_rate(self) -> float:
        reads = self.hits + self.total_misses
        return self.hits / reads if reads else 0.0

    @property
    def steady_hit_rate(self) -> float:
        """The hit rate over the last third of the run, once the cache has filled up."""
        tail = self.hit_rates[-max(1, len(self.hit_rates) // 3):]
        return sum(tail) / len(tail)

    @property
    def verdict_text(self) -> str:
        return verdict(self.hit_rate)

    def summary(self) -> str:
        m = self.misses
        return (f"hit rate {self.hit_rate:.1%} (last third {self.steady_hit_rate:.1%}): "
                f"{self.hits:,} hits, {self.total_misses:,} misses = cold {m['cold']:,} + "
                f"expired {m['expired']:,} + evicted {m['evicted']:,} + "
                f"rejected {m['rejected']:,}; evictions {self.evictions:,}; "
                f"peak {self.peak_keys:,} keys -> {verdict(self.hit_rate)}")


def verdict(hit_rate: float, thresholds: Thresholds | None = None) -> str:
    """The design's words for a hit rate, at the configured levels (default > 90%, < 50%)."""
    optimal, poor = hit_rate_levels(thresholds)
    if hit_rate > optimal:
        return f"optimal (> {optimal:.0%}, óptimo)"
    if hit_rate < poor:
        return f"poor (< {poor:.0%}, deficiente)"
    return f"acceptable ({poor:.0%}-{optimal:.0%}: room to improve)"


def advice(result: SimResult, thresholds: Thresholds | None = None) -> list[str]:
    """The design's advice, picked by which kind of miss dominates."""
    if result.hit_rate > hit_rate_levels(thresholds)[0] or result.total_misses == 0:
        return ["Nothing to do: the cache serves almost every read."]
    uniform = result.config.pattern == "uniform"
    evicted = ("Memory holds only part of the keys and every key is read as often as any "
               "other: only more memory raises the hit rate (aumentar memoria)." if uniform
               else "Memory is too small for the hot set: add memory or lower TTLs (aumentar "
               "memoria o reducir TTL); a policy that keeps the most-read keys helps only "
               "where some keys are read more than others - compare them in the lab.")
    tips = []
    ranked = sorted(result.misses.items(), key=lambda kv: kv[1], reverse=True)
    for reason, count in ranked:
        if count < 0.2 * result.total_misses:
            continue
        tips.append({
            "expired": "Increase the TTL for stable data (aumentar TTL para datos estables).",
            "cold": "Warm the cache at start (implementar cache warming) - or the key space "
                    "is read too evenly to cache: review access patterns.",
            "evicted": evicted,
            "rejected": "maxmemory is full under noeviction, so SETs fail: choose an "
                        "allkeys-* eviction policy or add memory.",
        }[reason])
    if result.config.pattern == "uniform":
        tips.append("Uniform access over many keys caches badly: review access patterns "
                    "(revisar patrones de acceso) - cache what is read often.")
    return tips


def _sampler(config: SimConfig, rng: random.Random) -> list[int]:
    """Key ids 0..key_space-1 for every request; id 0 is the hottest under zipf."""
    n = config.requests
    if config.pattern == "uniform" or config.zipf_s == 0:
        return [rng.randrange(config.key_space) for _ in range(n)]
    return zipf_sample(range(config.key_space), n, rng, config.zipf_s)


def simulate(config: SimConfig) -> SimResult:
    """Run the scenario and return what happened; same config, same result."""
    rng = random.Random(config.seed)
    requests = _sampler(config, rng)
    memory = SimMemory(config.policy, rng, config.samples)
    result = SimResult(config)
    limit = config.capacity
    for key in range(min(config.warm, config.key_space, limit or config.warm)):
        memory.add(key, config.ttl)
    ever_cached: set[int] = set(memory.expires)
    evicted: set[int] = set()
    per_bucket = max(1, config.requests // config.buckets)
    bucket_hits = bucket_reads = 0
    step = 1 / config.rate
    for i, key in enumerate(requests):
        now = i * step
        memory.expire_until(now)
        if key in memory.expires:
            result.hits += 1
            bucket_hits += 1
            memory.touch(key)
        else:
            if key in evicted:
                reason = "evicted"
            elif key in ever_cached:
                reason = "expired"
            else:
                reason = "cold"
            stored = True
            if limit is not None and len(memory) >= limit:
                if config.policy == "noeviction":
                    stored = False
                else:
                    victim = memory.victim()
                    memory.remove(victim)
                    evicted.add(victim)
                    result.evictions += 1
            if stored:
                memory.add(key, now + config.ttl)
                ever_cached.add(key)
                evicted.discard(key)
            elif reason == "cold":
                reason = "rejected"
            result.misses[reason] += 1
        result.peak_keys = max(result.peak_keys, len(memory))
        bucket_reads += 1
        if bucket_reads == per_bucket or i == len(requests) - 1:
            result.times.append(round((i + 1) * step, 6))
            result.hit_rates.append(bucket_hits / bucket_reads)
            bucket_hits = bucket_reads = 0
    return result
