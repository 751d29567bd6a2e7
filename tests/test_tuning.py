"""The design's tuning table: verdicts at and around each threshold, settings, renderings."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from helpdesk_kit.errors import ConfigError
from helpdesk_kit.metrics import Metric, Snapshot
from helpdesk_kit.metrics.tuning import Thresholds, Verdict, tuning_table

OPT, ACC, DEF, UNAV = Verdict.OPTIMAL, Verdict.ACCEPTABLE, Verdict.DEFICIENT, Verdict.UNAVAILABLE


def snap_with(prefix: str = "", **values: float | None) -> Snapshot:
    """A snapshot holding only these metrics (``memory__used_percent``: memory.used_percent)."""
    metrics = {}
    for key, value in values.items():
        name = key.replace("__", ".")
        metrics[name] = Metric(name, value, "", f"test {name}", "test",
                               reason=None if value is not None else "test says no")
    return Snapshot(metrics, datetime.now(UTC), 0.0, prefix)


@pytest.mark.parametrize(("rate", "verdict"), [
    (0.95, OPT), (0.9001, OPT), (0.90, ACC), (0.70, ACC), (0.50, ACC), (0.4999, DEF), (0.0, DEF)])
def test_hit_rate(rate: float, verdict: Verdict) -> None:
    row = tuning_table(snap_with(cache__hit_rate=rate)).row("Cache Hit Rate")
    assert row.verdict is verdict
    assert row.value == pytest.approx(rate * 100)


@pytest.mark.parametrize(("percent", "verdict"), [
    (10, OPT), (79.99, OPT), (80, ACC), (95, ACC), (95.01, DEF), (100, DEF)])
def test_memory_used(percent: float, verdict: Verdict) -> None:
    assert tuning_table(snap_with(memory__used_percent=percent)).row("Memory Used").verdict \
        is verdict


@pytest.mark.parametrize(("pending", "verdict"), [
    (0, OPT), (99, OPT), (100, ACC), (1000, ACC), (1001, DEF)])
def test_queue_length(pending: int, verdict: Verdict) -> None:
    assert tuning_table(snap_with(queue__pending=pending)).row("Queue Length").verdict \
        is verdict


@pytest.mark.parametrize(("ttl", "verdict"), [
    (3600, OPT), (300, OPT), (299.9, ACC), (60, ACC), (59.9, DEF), (1, DEF)])
def test_average_ttl(ttl: float, verdict: Verdict) -> None:
    assert tuning_table(snap_with(redis__avg_ttl_s=ttl)).row("TTL Promedio").verdict is verdict


@pytest.mark.parametrize(("per_min", "verdict"), [
    (0, OPT), (0.01, ACC), (100, ACC), (100.01, DEF), (5000, DEF)])
def test_key_evictions(per_min: float, verdict: Verdict) -> None:
    row = tuning_table(snap_with(redis__evicted_per_min=per_min)).row("Key Evictions")
    assert row.verdict is verdict


def test_unavailable_rows_keep_the_reason() -> None:
    table = tuning_table(snap_with(memory__used_percent=None))
    row = table.row("Memory Used")
    assert row.verdict is UNAV and row.value is None and row.shown == "n/a"
    assert row.reason == "test says no"
    assert table.row("Queue Length").verdict is UNAV  # not measured at all


def test_hit_rate_falls_back_to_the_server_and_says_so() -> None:
    row = tuning_table(snap_with(cache__hit_rate=None, redis__keyspace_hit_rate=0.97)
                       ).row("Cache Hit Rate")
    assert row.verdict is OPT
    assert row.source.startswith("redis.keyspace_hit_rate")


def test_a_cache_not_read_yet_is_no_hit_rate_whatever_the_server_says() -> None:
    """The server's keyspace_hits count a monitor's own PTTLs: before the cache's first read
    the row is unavailable, not rated on them (lesson 08)."""
    row = tuning_table(snap_with(cache__hits=0, cache__misses=0, cache__hit_rate=None,
                                 redis__keyspace_hit_rate=0.7353)).row("Cache Hit Rate")
    assert row.verdict is UNAV and row.source == "cache.hit_rate"


def test_ttl_prefers_the_kits_keys_under_a_prefix() -> None:
    both = {"redis__avg_ttl_s": 1000.0, "prefix__avg_ttl_s": 30.0}
    assert tuning_table(snap_with("class:", **both)).row("TTL Promedio").verdict is DEF
    assert tuning_table(snap_with("", **both)).row("TTL Promedio").verdict is OPT


def test_rows_carry_the_seeds_meaning_and_action_in_both_languages() -> None:
    table = tuning_table(snap_with())
    assert [r.metric for r in table] == ["Cache Hit Rate", "Memory Used", "Queue Length",
                                         "TTL Promedio", "Key Evictions"]
    hit = table.row("Cache Hit Rate")
    assert (hit.action_es, hit.action_en) == ("Aumentar TTL, cache warming",
                                              "Increase TTL, cache warming")
    assert hit.meaning_es == "Efectividad del caché"
    assert table.row("Key Evictions").action_es == "Aumentar memoria o reducir TTL"
    assert (hit.optimal, hit.deficient) == ("> 90%", "< 50%")


def test_thresholds_are_settings() -> None:
    t = Thresholds.from_env({"HELPDESK_HIT_RATE_OPTIMAL": "80", "HELPDESK_QUEUE_DEFICIENT": ""})
    assert t.hit_rate_optimal == 80 and t.queue_deficient == 1000
    row = tuning_table(snap_with(cache__hit_rate=0.85), t).row("Cache Hit Rate")
    assert row.verdict is OPT and row.optimal == "> 80%"
    assert Thresholds.from_env({}) == Thresholds()


@pytest.mark.parametrize("env", [{"HELPDESK_TTL_OPTIMAL": "lots"},
                                 {"HELPDESK_HIT_RATE_DEFICIENT": "95"},
                                 {"HELPDESK_QUEUE_OPTIMAL": "-1"}])
def test_bad_thresholds_are_a_clear_error(env: dict[str, str]) -> None:
    with pytest.raises(ConfigError, match=r"HELPDESK_|threshold"):
        Thresholds.from_env(env)


def test_renderings() -> None:
    table = tuning_table(snap_with(cache__hit_rate=0.95, memory__used_percent=97,
                                   queue__pending=500, redis__avg_ttl_s=None,
                                   redis__evicted_per_min=0))
    text = str(table)
    assert "Cache Hit Rate" in text and "OPTIMAL" in text and "DEFICIENT" in text
    assert "Reducir TTL, limpiar keys obsoletas / Reduce TTL, clean up stale keys" in text
    html = table._repr_html_()
    for verdict in ("optimal", "deficient", "acceptable", "unavailable"):
        assert f'data-verdict="{verdict}"' in html
    assert html.count("background:#") == 5
    assert "caché" in html
    data = json.loads(table.to_json())
    assert [r["verdict"] for r in data["rows"]] == ["optimal", "deficient", "acceptable",
                                                    "unavailable", "optimal"]
    assert data["thresholds"]["hit_rate_optimal"] == 90


@pytest.mark.parametrize("raw", ["nan", "NaN", " nan ", "inf", "-inf", "Infinity", "1e999"])
def test_thresholds_from_the_environment_must_be_finite(raw: str) -> None:
    with pytest.raises(ConfigError, match=r"HELPDESK_MEMORY_DEFICIENT must be a finite number"):
        Thresholds.from_env({"HELPDESK_MEMORY_DEFICIENT": raw})


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_thresholds_must_be_finite(value: float) -> None:
    # nan compares false with everything: without this check it would pass the order check
    with pytest.raises(ConfigError, match=r"threshold ttl_optimal must be a finite number"):
        Thresholds(ttl_optimal=value)


@pytest.mark.parametrize("value", ["90", None, True])
def test_thresholds_must_be_numbers(value: object) -> None:
    with pytest.raises(ConfigError, match=r"threshold hit_rate_optimal must be a number"):
        Thresholds(hit_rate_optimal=value)  # type: ignore[arg-type]  # the wrong type on purpose


def test_the_text_repr_is_the_table_not_a_dataclass_dump() -> None:
    table = tuning_table(snap_with(cache__hit_rate=0.7, queue__pending=3))
    text = repr(table)
    assert text == str(table) and "TuningRow(" not in text and "Thresholds(" not in text
    assert text.splitlines()[0].split()[:2] == ["Metric", "Value"]
    row = table.row("Cache Hit Rate")
    assert repr(row) == f"<Cache Hit Rate: {row.shown}, acceptable>"
