"""The hit-rate simulator (helpdesk_kit.simulate) and lesson 05's lab widget."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest

from helpdesk_kit.lab.simulate import (
    POLICIES,
    SimConfig,
    advice,
    hit_rate_levels,
    simulate,
    verdict,
    zipf_sample,
)
from helpdesk_kit.metrics.tuning import Thresholds
from helpdesk_kit.widgets import hit_rate_lab as w

SMALL = SimConfig(key_space=500, rate=20, duration=300)


def test_same_config_same_result_and_counts_add_up() -> None:
    a, b = simulate(SMALL), simulate(SMALL)
    assert a.hit_rates == b.hit_rates and a.misses == b.misses
    assert a.hits + a.total_misses == SMALL.requests
    assert simulate(replace(SMALL, seed=7)).hit_rates != a.hit_rates


def test_every_key_read_once_is_a_cold_miss() -> None:
    result = simulate(SimConfig(pattern="uniform", key_space=10**6, rate=10, duration=10))
    assert result.misses["cold"] > 0.99 * result.total_misses


def test_short_ttl_gives_expired_misses() -> None:
    short, long = simulate(replace(SMALL, ttl=5)), simulate(replace(SMALL, ttl=10_000))
    assert short.misses["expired"] > 0 == long.misses["expired"]
    assert short.hit_rate < long.hit_rate


def test_memory_limit_is_respected_by_every_policy() -> None:
    for policy in POLICIES:
        result = simulate(replace(SMALL, capacity=50, policy=policy))
        assert result.peak_keys <= 50, policy
        if policy == "noeviction":
            assert result.evictions == 0 and result.misses["rejected"] > 0
        else:
            assert result.evictions > 0 and result.misses["evicted"] > 0


def test_lfu_keeps_hot_keys_better_than_random_under_skew() -> None:
    lfu = simulate(replace(SMALL, capacity=50, policy="allkeys-lfu"))
    rnd = simulate(replace(SMALL, capacity=50, policy="allkeys-random"))
    assert lfu.hit_rate > rnd.hit_rate


def test_warming_removes_cold_misses() -> None:
    assert simulate(replace(SMALL, warm=500)).misses["cold"] == 0


@pytest.mark.parametrize("bad", [{"pattern": "gauss"}, {"policy": "lru"}, {"ttl": 0},
                                 {"key_space": 0}, {"capacity": 0}, {"warm": -1}])
def test_bad_configs_are_refused(bad: dict) -> None:
    with pytest.raises(ValueError):
        SimConfig(**bad)


def test_verdict_uses_the_tuning_thresholds(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HELPDESK_HIT_RATE_OPTIMAL", "HELPDESK_HIT_RATE_DEFICIENT"):
        monkeypatch.delenv(name, raising=False)
    assert hit_rate_levels() == (Thresholds().hit_rate_optimal / 100,
                                 Thresholds().hit_rate_deficient / 100)
    assert verdict(0.95).startswith("optimal") and verdict(0.85).startswith("acceptable")
    assert verdict(0.6).startswith("acceptable") and verdict(0.3).startswith("poor")
    monkeypatch.setenv("HELPDESK_HIT_RATE_OPTIMAL", "80")  # the design's cache-section figure
    assert verdict(0.85) == "optimal (> 80%, óptimo)"
    assert verdict(0.85, Thresholds(hit_rate_optimal=90)).startswith("acceptable")


def test_zipf_sample_is_seeded_and_skewed() -> None:
    picks = zipf_sample(range(100), 5000, random.Random(1))
    assert picks == zipf_sample(range(100), 5000, random.Random(1))
    assert picks.count(0) > picks.count(1) > picks.count(50)
    assert set(zipf_sample(["a"], 3, random.Random(1))) == {"a"}


def test_advice_follows_the_main_kind_of_miss() -> None:
    assert any("TTL" in t for t in advice(simulate(replace(SMALL, ttl=2))))
    assert any("noeviction" in t for t in advice(simulate(replace(SMALL, capacity=20,
                                                                    policy="noeviction"))))
    assert advice(simulate(replace(SMALL, warm=500, ttl=10**6)))[0].startswith("Nothing")


def test_lab_controls_drive_the_simulation() -> None:
    lab = w.HitRateLab(SMALL)
    lab.memory.value = 20
    lab.pattern.value = "uniform"
    config = lab.config()
    assert config.capacity == SMALL.key_space * 20 // 100 and config.pattern == "uniform"
    lab.button.click()
    assert lab.last is not None and lab.last.hit_rate == simulate(config).hit_rate
    assert bytes(lab.plot.value).startswith(b"\x89PNG") and "hit rate" in lab.verdict.value


def test_table_and_plot() -> None:
    results = {"a": simulate(SMALL), "b": simulate(replace(SMALL, ttl=5))}
    assert [r[0] for r in w.compare_table(results).rows] == ["a", "b"]
    assert len(w.plot_results(results).axes) == 1


def test_lfu_forgets_an_evicted_keys_count_as_redis_does() -> None:
    """Key 0 is read often, then evicted by a burst of new keys; cached again, it starts
    counting from one, so the next eviction takes it before a key read twice since."""
    from helpdesk_kit.lab.sim_memory import SimMemory

    memory = SimMemory("allkeys-lfu", random.Random(0))
    memory.add(0, 100.0)
    for _ in range(10):
        memory.touch(0)
    memory.remove(0)  # evicted: the count goes with it
    memory.add(0, 100.0)
    memory.add(1, 100.0)
    memory.touch(1)
    assert memory.victim() == 0


def test_the_config_reads_as_a_sentence_not_a_dataclass_dump() -> None:
    text = str(replace(SMALL, capacity=50, policy="allkeys-lfu", warm=10))
    assert text.startswith("zipf (s=1.1) reads of 500 keys") and "SimConfig(" not in text
    assert "memory for 50 keys, allkeys-lfu" in text and "10 hottest warmed" in text


def test_uniform_access_gets_no_advice_that_cannot_help_it() -> None:
    tips = " ".join(advice(simulate(replace(SMALL, pattern="uniform", capacity=100))))
    assert "only more memory" in tips and "TTL" not in tips and "policy" not in tips


def test_evictions_are_shown_only_on_the_lessons_own_server() -> None:
    from helpdesk_kit.backends import Backend, Capabilities

    caps = Capabilities("7.0", info=True, lua=True, maxmemory_configurable=True)
    assert w.eviction_skip_reason(Backend(None, "server", "private", caps)) is None  # type: ignore[arg-type]
    fake = w.eviction_skip_reason(Backend(None, "fake", "fakeredis", caps))  # type: ignore[arg-type]
    assert fake is not None and "never evicts" in fake
    shared = w.eviction_skip_reason(Backend(None, "url", "redis://x", caps))  # type: ignore[arg-type]
    assert shared is not None and "whole server" in shared


def test_sampled_eviction_respects_memory_is_seeded_and_lands_near_exact_lru() -> None:
    exact = simulate(replace(SMALL, capacity=50))
    sampled = simulate(replace(SMALL, capacity=50, samples=5))
    assert sampled.peak_keys <= 50 and sampled.evictions > 0
    assert sampled.hit_rates == simulate(replace(SMALL, capacity=50, samples=5)).hit_rates
    assert abs(sampled.hit_rate - exact.hit_rate) < 0.05  # Zipf: close to exact, not on it
    with pytest.raises(ValueError):
        SimConfig(samples=-1)


def test_the_pool_keeps_the_best_candidates_and_skips_keys_gone() -> None:
    from helpdesk_kit.lab.sim_sampling import POOL_SIZE, EvictionPool

    pool = EvictionPool(5, random.Random(3))
    keys = list(range(100))
    gone = {99, 98}
    victim = pool.victim(keys, score=float, cached=lambda key: key not in gone)
    assert victim not in gone
    assert all(score < victim for score, _key in pool.pool)  # the best of what was sampled
    assert len(pool.pool) <= POOL_SIZE
    assert [s for s, _ in pool.pool] == sorted(s for s, _ in pool.pool)
