"""Lesson 03's functions: stale reads, FLUSHDB vs selective, the staged race, the playground."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from helpdesk_kit.app import HelpdeskApp
from helpdesk_kit.cache import Cache
from helpdesk_kit.lessons import Lesson
from helpdesk_kit.widgets import invalidation as w


@pytest.fixture
def lesson(open_lesson: Callable[..., Lesson]) -> Lesson:
    return open_lesson("03_invalidation", own_server=True, users=20, tickets=200)


@pytest.fixture
def app(lesson: Lesson) -> HelpdeskApp:
    return lesson.make_app()


def test_naive_update_gives_a_stale_read_and_update_ticket_fixes_it(lesson: Lesson,
                                                                      app: HelpdeskApp) -> None:
    original = w.cached_status(app, 5)
    new = "waiting" if original != "waiting" else "open"
    w.naive_update(lesson.store, 5, status=new)
    assert w.cached_status(app, 5) == original  # stale
    app.update_ticket(5, status=new)
    assert w.cached_status(app, 5) == new


def test_flushdb_collapses_the_hit_rate_and_selective_does_not(lesson: Lesson,
                                                                app: HelpdeskApp) -> None:
    reads = w.zipf_reads(600, ticket_count=200)
    app.cache.warm_tickets(lesson.store, limit=None, progress=False)  # type: ignore[union-attr]
    selective = w.hit_rate_windows(lesson, app, reads, 100, 3, how="selective")
    app.cache.warm_tickets(lesson.store, limit=None, progress=False)  # type: ignore[union-attr]
    # Both backends here are this test's own, so FLUSHDB is allowed (shared=False).
    flushed = w.hit_rate_windows(lesson, app, reads, 100, 3, how="flushdb", shared=False)
    assert selective.hit_rates[3] > flushed.hit_rates[3]
    assert flushed.hit_rates[2] == 1.0 and flushed.hit_rates[3] < 0.8
    assert flushed.note.startswith("FLUSHDB") and "DEL" in selective.note
    assert len(w.measured_table(selective, flushed).rows) == 2
    assert len(w.collapse_plot(selective, flushed, 3).axes) == 1


def test_shared_redis_is_never_flushed(lesson: Lesson) -> None:
    lesson.client.set("someone-else:key", "theirs")
    cache = Cache(lesson.client, lesson.keys)
    lesson.client.set(lesson.keys.ticket(1), "x")
    assert "instead of FLUSHDB" in w.flush_everything(cache, shared=True)
    assert lesson.client.get("someone-else:key") == "theirs"
    assert lesson.client.get(lesson.keys.ticket(1)) is None
    lesson.client.delete("someone-else:key")


def test_a_lesson_on_redis_url_counts_as_shared(lesson: Lesson, app: HelpdeskApp) -> None:
    lesson.client.set("someone-else:key", "theirs")
    reads = w.zipf_reads(200, ticket_count=200)
    result = w.hit_rate_windows(lesson, app, reads, 100, 1, how="flushdb")
    assert lesson.shared_redis is (lesson.backend.kind == "url")
    assert ("instead of FLUSHDB" in result.note) is lesson.shared_redis
    if lesson.shared_redis:
        assert lesson.client.get("someone-else:key") == "theirs"
    lesson.client.delete("someone-else:key")


def test_the_last_short_window_is_rated_over_its_own_reads(lesson: Lesson,
                                                            app: HelpdeskApp) -> None:
    app.cache.warm_tickets(lesson.store, limit=None, progress=False)  # type: ignore[union-attr]
    result = w.hit_rate_windows(lesson, app, w.zipf_reads(250, ticket_count=200), 100, 9,
                                how="selective")
    assert result.hit_rates == [1.0, 1.0, 1.0]  # 100, 100 and 50 reads, all cached


def test_hit_rate_windows_refuses_an_unknown_method(lesson: Lesson, app: HelpdeskApp) -> None:
    with pytest.raises(ValueError, match="selective"):
        w.hit_rate_windows(lesson, app, [1, 2], 1, 0, how="flushall")


def test_race_is_stale_without_the_guard_and_fresh_with_it(lesson: Lesson) -> None:
    naive = Cache(lesson.client, lesson.keys, stale_guard=False)
    old = lesson.store.get_ticket(7).status  # type: ignore[union-attr]
    new = "closed" if old != "closed" else "open"
    steps, served = w.stale_read_race(lesson.store, naive, 7, new_status=new)
    assert served == old and "STALE" in steps[-1]
    assert lesson.store.get_ticket(7).status == new  # type: ignore[union-attr]
    guarded = Cache(lesson.client, lesson.keys)
    steps, served = w.stale_read_race(lesson.store, guarded, 8, new_status="waiting")
    assert served == "waiting" and "refused" in steps[2]


def test_playground_buttons(app: HelpdeskApp) -> None:
    playground = w.InvalidationPlayground(app, ticket_id=9)
    playground.status.value = "in_progress" if "in_progress" not in playground.view.value \
        else "waiting"
    playground.naive_button.click()
    assert "STALE" in playground.view.value
    playground.seed_button.click()
    assert "fresh" in playground.view.value
