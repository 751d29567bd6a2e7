"""Lesson 01's widget functions: fetch, trace, the measurement, the quiz, the explorer."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

from helpdesk_kit.app import HelpdeskApp, helpdesk_queue
from helpdesk_kit.cache import Cache
from helpdesk_kit.db import HelpdeskStore
from helpdesk_kit.keys import KeySchema
from helpdesk_kit.widgets import cache_aside as w


@pytest.fixture
def app(store: HelpdeskStore, redis_client: redis.Redis, keys: KeySchema
        ) -> Iterator[HelpdeskApp]:
    yield HelpdeskApp(store, Cache(redis_client, keys), helpdesk_queue(redis_client, keys))


def test_fetch_reports_miss_then_hit_with_a_ttl(app: HelpdeskApp) -> None:
    first, second = w.fetch(app, 5), w.fetch(app, 5)
    assert (first.outcome, second.outcome) == ("MISS", "HIT")
    assert first.title == app.store.get_ticket(5).title  # type: ignore[union-attr]
    assert 0 < second.ttl <= 300 and second.seconds > 0


def test_fetch_of_a_missing_ticket(app: HelpdeskApp) -> None:
    done = w.fetch(app, 99999)
    assert done.title is None and done.outcome == "MISS"


def test_trace_follows_the_diagram(app: HelpdeskApp) -> None:
    miss = w.trace(app, 9)
    assert "nil: NO" in miss[0] and "store.get_ticket(9)" in miss[1]
    assert "EX 300" in miss[2] and miss[-1].endswith("starts its countdown")
    hit = w.trace(app, 9)
    assert "YES" in hit[0] and len(hit) == 3


def test_measure_gives_one_miss_and_one_hit_per_ticket(app: HelpdeskApp) -> None:
    samples = w.measure_hit_vs_miss(app, range(1, 11))
    assert len(samples["MISS"]) == len(samples["HIT"]) == 10
    assert [row[0] for row in w.latency_table(samples).rows] == ["MISS", "HIT"]
    assert len(w.latency_plot(samples).axes) == 1



def test_the_plain_stampede_asks_the_database_per_reader_the_kit_once(
        store: HelpdeskStore, redis_client: redis.Redis, keys: KeySchema) -> None:
    result = w.stampede(redis_client, keys, store, 11, readers=6, load_seconds=0.02)
    assert (result.plain, result.kit) == (6, 1)


def test_step_costs_names_the_three_steps(store: HelpdeskStore, redis_client: redis.Redis,
                                          keys: KeySchema) -> None:
    table = w.step_costs(redis_client, store, keys.ticket(2), 2, repeat=3)
    assert [row[0].split(" ")[0] for row in table.rows] == ["GET", "the", "SET"]


def test_explorer_buttons(app: HelpdeskApp) -> None:
    explorer = w.CacheAsideExplorer(app, first=4, countdown=False)
    explorer.fetch_button.click()
    assert "MISS" in explorer.result.value and "TTL of" in explorer.ttl.value
    explorer.fetch_button.click()
    assert "HIT" in explorer.result.value
    explorer.forget_button.click()
    assert "not in Redis" in explorer.ttl.value
    assert explorer.fetch().outcome == "MISS"
    assert [f.outcome for f in explorer.history] == ["MISS", "HIT", "MISS"]


def test_explorer_countdown_thread_stops(app: HelpdeskApp) -> None:
    explorer = w.CacheAsideExplorer(app, first=4)
    explorer.fetch()
    assert explorer._thread is not None and explorer._thread.is_alive()
    explorer.stop()
    explorer._thread.join(timeout=3)
    assert not explorer._thread.is_alive()
