"""The with-vs-without-Redis table, the break-even hit rate and the load test.

No timing assertions: rows are checked for their labels and round trips, and simulated
profiles use a fake sleep so they cost no real time.
"""

from __future__ import annotations

import pytest

from helpdesk_kit.lab.compare import (
    CompareRow,
    break_even_hit_rate,
    compare,
    compare_sandboxed,
    expected_read_ms,
)
from helpdesk_kit.lab.latency import INTERNET, LOCAL, NetworkProfile
from helpdesk_kit.lab.loadtest import instrumented_app, load_test


# --- break-even --------------------------------------------------------------------------
@pytest.mark.parametrize(("db", "cache"), [(50, 5), (2, 0.5), (0.2, 0.09), (10, 1)])
def test_break_even_is_where_both_sides_cost_the_same(db: float, cache: float) -> None:
    rate = break_even_hit_rate(db, cache)
    assert 0 < rate < 1
    assert expected_read_ms(rate, db, cache) == pytest.approx(db)
    assert expected_read_ms(min(1.0, rate + 0.05), db, cache) < db  # above it, caching pays
    assert expected_read_ms(rate - 0.05, db, cache) > db  # below it, it costs


def test_break_even_matches_the_formula_and_edges() -> None:
    assert break_even_hit_rate(50, 5) == pytest.approx(10 / 55)
    assert break_even_hit_rate(50, 5, cache_set_ms=10) == pytest.approx(15 / 60)
    assert break_even_hit_rate(1, 2) == 1.0  # a cache slower than the database never pays
    assert break_even_hit_rate(0, 0) == 1.0
    assert expected_read_ms(1.0, 50, 5) == 5
    assert expected_read_ms(0.0, 50, 5) == 60  # every read: GET, query, SET
    with pytest.raises(ValueError):
        expected_read_ms(1.5, 50, 5)
    with pytest.raises(ValueError):
        break_even_hit_rate(-1, 5)


def test_row_speedup_direction() -> None:
    assert CompareRow("a", 50, 5, "ms", "simulated", "").speedup == 10
    assert CompareRow("b", 100, 400, "req/s", "measured", "").speedup == 4


# --- the table ---------------------------------------------------------------------------
def test_compare_simulated_rows_are_labelled_with_round_trips(store, backend, keys) -> None:
    slept: list[float] = []  # a fake sleep: record the waits instead of waiting
    table = compare(store, backend.client, keys, profile=INTERNET, repeat=2, load_threads=2,
                    load_seconds=0.2, sleep=slept.append)
    names = [row.operation for row in table.rows]
    assert names == ["Obtener usuario (hit)", "Obtener ticket (hit)", "Listar 100 tickets",
                     "Crear comentario", "Peak load (2 threads)"]
    assert {row.label for row in table.rows} == {"simulated"}
    assert table.rows[0].note == "1 DB -> 0 DB + 1 cache"
    assert table.rows[3].note.startswith("5 DB -> 1 DB + 4 cache")
    assert all(row.without > 0 and row.with_redis > 0 for row in table.rows)
    # every "network" wait was one RTT (+- jitter) of the design's profile
    assert slept and all(0.004 <= s <= 0.006 or 0.049 <= s <= 0.051 for s in slept)
    without, with_cache = table.load
    assert with_cache.db_queries < without.db_queries
    text = table.to_text()
    assert "simulated" in text and "Crear comentario" in text and "Break-even" in text
    assert "<table>" in table._repr_html_() and "Listar 100 tickets" in table.to_html()
    # The sleep was fake, so the times are this machine's own work: the break-even is whatever
    # they give (no clock is read here); it must be the formula's on the ticket row (the one
    # lesson 09's where_redis_pays prices too, so the two never disagree).
    assert table.break_even == break_even_hit_rate(*table.read_costs())  # lesson 09's row
    assert repr(table) == text and len(repr(table).splitlines()) > len(table.rows)
    assert table.read_costs() == (table.rows[1].without, table.rows[1].with_redis)


def test_compare_local_is_measured_and_writes_the_comments(store, backend, keys) -> None:
    before = store.counts()["interactions"]
    table = compare(store, backend.client, keys, profile=LOCAL, repeat=3, load_seconds=0)
    assert {row.label for row in table.rows} == {"measured"}
    assert len(table.rows) == 4 and table.load is None
    assert store.counts()["interactions"] == before + 6  # 3 per side
    assert "Measured on this machine" in str(table)
    with pytest.raises(ValueError):
        compare(store, backend.client, keys, repeat=0)


def test_compare_sandboxed_leaves_the_real_database_alone(settings, store) -> None:
    before = store.counts()
    table = compare_sandboxed(settings, "fake", users=20, tickets=60, repeat=1,
                              load_seconds=0)
    assert len(table.rows) == 4
    assert store.counts() == before


# --- the load test -----------------------------------------------------------------------
def test_load_test_counts_fewer_database_queries_with_the_cache(store, backend, keys) -> None:
    without = load_test(store, None, keys, threads=2, seconds=0.3, max_requests=60)
    with_cache = load_test(store, backend.client, keys, threads=2, seconds=0.3,
                           max_requests=60)
    assert without.requests > 0 and with_cache.requests > 0
    assert without.errors == with_cache.errors == 0
    assert without.db_queries == without.requests  # every read is a query
    assert with_cache.db_queries < without.db_queries
    assert with_cache.db_queries_per_request < 0.1  # warm cache: almost none
    assert with_cache.requests <= 60 and without.label == "measured"
    assert "database queries" in str(with_cache)


def test_load_test_simulated_with_fake_sleep(store, backend, keys) -> None:
    slept: list[float] = []
    result = load_test(store, backend.client, keys, profile=NetworkProfile("t", 50, 5),
                       threads=2, seconds=0.2, max_requests=20, sleep=slept.append)
    assert result.label == "simulated"
    assert len(slept) == result.cache_commands + result.db_queries


def test_load_test_refuses_bad_arguments(store, keys) -> None:
    with pytest.raises(ValueError):
        load_test(store, None, keys, threads=0)
    with pytest.raises(ValueError):
        load_test(store, None, keys, ids=[])


def test_instrumented_app_counts_round_trips(store, backend, keys) -> None:
    bench = instrumented_app(store, backend.client, keys)
    bench.app.get_ticket(1)
    bench.app.get_ticket(1)
    assert bench.db.count == 1  # the second read was a hit
    assert bench.cache.count >= 2
    bench.reset()
    assert bench.db.count == bench.cache.count == 0


# --- the command -------------------------------------------------------------------------
def test_cli_bench_compare_and_break_even(capsys) -> None:
    from helpdesk_kit.cli import main

    assert main(["bench", "break-even", "--db-ms", "50", "--cache-ms", "5"]) == 0
    assert "above a 18% hit rate" in capsys.readouterr().out
    assert main(["bench", "compare", "--backend", "fake", "--repeat", "1", "--seconds", "0",
                 "--users", "20", "--tickets", "60"]) == 0
    out = capsys.readouterr().out
    assert "Obtener usuario (hit)" in out and "measured" in out
    assert main(["bench", "compare", "--profile", "moon"]) == 2
    assert "unknown network profile" in capsys.readouterr().err
