"""Lesson 04's functions: recency-skewed reads, cold vs warm start, loop vs pipeline, lab."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from helpdesk_kit.app import HelpdeskApp
from helpdesk_kit.lessons import Lesson
from helpdesk_kit.widgets import warming as w


@pytest.fixture
def lesson(open_lesson: Callable[..., Lesson]) -> Lesson:
    return open_lesson("04_cache_warming", users=20, tickets=300)


@pytest.fixture
def app(lesson: Lesson) -> HelpdeskApp:
    return lesson.make_app()


def test_reads_favour_recent_tickets(lesson: Lesson) -> None:
    reads = w.recent_first_reads(lesson, 2000)
    newest = lesson.store.list_tickets(limit=1)[0].id
    assert reads.count(newest) == max(reads.count(i) for i in set(reads))
    assert reads == w.recent_first_reads(lesson, 2000)  # seeded


def test_warm_start_beats_cold_start(lesson: Lesson, app: HelpdeskApp) -> None:
    reads = w.recent_first_reads(lesson, 300)
    cold = w.start(lesson, app, reads, 100, warm=0)
    warm = w.start(lesson, app, reads, 100, warm=300)
    assert cold[0] < warm[0] == 1.0 and len(cold) == 3
    assert len(w.start_plot({"cold": cold, "warm": warm}).axes) == 1


def test_loop_and_pipeline_write_the_same_keys(lesson: Lesson) -> None:
    users = [{"id": n, "name": f"u{n}"} for n in range(1, 31)]
    table = w.time_loop_vs_pipeline(lesson.client, lesson.keys, users, repeat=1)
    assert [row[0] for row in table.rows] == ["one SET per user (the seed's loop)",
                                              "one pipeline"]
    assert all(0 < lesson.client.ttl(lesson.keys.user(n)) <= 300 for n in range(1, 31))


def test_lab_button(lesson: Lesson, app: HelpdeskApp) -> None:
    lab = w.WarmupLab(lesson, app, w.recent_first_reads(lesson, 200))
    lab.warm.value = 300
    lab.button.click()
    assert "warmed 300 tickets: first 100 reads 100% hits" in lab.result.value
