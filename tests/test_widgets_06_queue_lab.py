"""Lesson 06's queue lab: its buttons' functions, called directly, on real Redis and fakeredis."""

from __future__ import annotations

import pytest
import redis

from helpdesk_kit.app import HelpdeskApp, TaskContext, helpdesk_queue
from helpdesk_kit.cache import Cache
from helpdesk_kit.db import HelpdeskStore
from helpdesk_kit.db.sample import SAMPLE_NOW
from helpdesk_kit.errors import TaskValidationError
from helpdesk_kit.keys import KeySchema
from helpdesk_kit.lessons import show_logs
from helpdesk_kit.queue import TaskQueue
from helpdesk_kit.widgets.queue_lab import (
    QueueLab,
    database_counts,
    task_effects,
    time_create_ticket,
)


@pytest.fixture
def context(store: HelpdeskStore, redis_client: redis.Redis, keys: KeySchema) -> TaskContext:
    return TaskContext(store, Cache(redis_client, keys), redis_client, keys, now=SAMPLE_NOW)


@pytest.fixture
def queue(redis_client: redis.Redis, keys: KeySchema) -> TaskQueue:
    return helpdesk_queue(redis_client, keys)


def test_seed_mode_step_takes_then_runs(queue: TaskQueue, context: TaskContext) -> None:
    lab = QueueLab(queue, context, mode="seed")
    lab.enqueue(2, ["send_notifications"])
    assert lab.counts() == {"pending": 2, "in_worker": 0, "done": 0, "dead": 0}
    assert lab.step() == "take"
    # LPOP: the task left Redis, only the lab holds it
    assert queue.client.llen(queue.keys.tasks_pending) == 1
    assert lab.counts()["in_worker"] == 1
    assert lab.step() == "run"
    assert lab.counts() == {"pending": 1, "in_worker": 0, "done": 1, "dead": 0}
    assert context.store.counts()["notifications"] == 1
    assert "1</b> done" in lab.status.value


def test_reliable_mode_keeps_the_taken_task_in_redis(queue: TaskQueue,
                                                      context: TaskContext) -> None:
    lab = QueueLab(queue, context, mode="reliable", worker_id="w1")
    lab.enqueue(1, ["close_inactive_tickets"])
    task = lab.take()
    assert task is not None
    assert queue.client.llen(queue.keys.tasks_processing("w1")) == 1
    assert lab.counts()["in_worker"] == 1
    result = lab.run()
    assert result["closed"] > 0
    assert queue.client.llen(queue.keys.tasks_processing("w1")) == 0
    assert lab.counts()["done"] == 1


def test_burst_finishes_the_task_in_hand_and_the_rest(queue: TaskQueue,
                                                      context: TaskContext) -> None:
    lab = QueueLab(queue, context)
    lab.enqueue(2, ["send_notifications", "archive_old_interactions"])
    lab.take()
    assert lab.burst() == 4
    assert lab.counts() == {"pending": 0, "in_worker": 0, "done": 4, "dead": 0}
    assert "Burst" in lab.last


def test_buttons_are_wired_to_the_functions(queue: TaskQueue, context: TaskContext) -> None:
    lab = QueueLab(queue, context)
    lab.count.value = 3
    lab.types.value = ("send_notifications", "close_inactive_tickets")
    lab.enqueue_button.click()
    assert lab.counts()["pending"] == 6
    lab.step_button.click()
    assert lab.counts()["in_worker"] == 1
    lab.burst_button.click()
    assert lab.counts()["done"] == 6


def test_empty_queue_and_nothing_in_hand_are_explained(queue: TaskQueue,
                                                       context: TaskContext) -> None:
    lab = QueueLab(queue, context)
    assert lab.run() is None
    assert "take one first" in lab.last
    assert lab.take() is None
    assert "empty" in lab.status.value


def test_bad_payload_enqueues_nothing(queue: TaskQueue, context: TaskContext) -> None:
    lab = QueueLab(queue, context, payloads={"send_notifications": {"ticketId": "x"},
                                             "close_inactive_tickets": {"days": 30}})
    with pytest.raises(TaskValidationError):
        lab.enqueue(2, ["close_inactive_tickets", "send_notifications"])
    assert lab.counts()["pending"] == 0


def test_task_effects_counts_real_database_changes(queue: TaskQueue,
                                                   context: TaskContext) -> None:
    before = database_counts(context.store)
    table = task_effects(queue, context)
    after = database_counts(context.store)
    changes = {row[0]: row[2] for row in table.rows}
    assert changes["send_notifications"] == "notifications +1"
    closed = after["closed tickets"] - before["closed tickets"]
    assert closed > 0 and f"closed tickets +{closed:,}" == changes["close_inactive_tickets"]
    assert after["archived comments"] > before["archived comments"]
    # idempotent: the same maintenance again changes nothing
    again = task_effects(queue, context, {"close_inactive_tickets": {"days": 30}})
    assert again.rows[0][2] == "nothing"


def test_time_create_ticket_runs_both_kinds(store: HelpdeskStore, redis_client: redis.Redis,
                                            keys: KeySchema) -> None:
    queue = helpdesk_queue(redis_client, keys)
    app = HelpdeskApp(store, Cache(redis_client, keys), queue, clock=lambda: SAMPLE_NOW)
    tickets = store.counts()["tickets"]
    timings = time_create_ticket(app, requester_id=12, repeat=2)
    assert set(timings) == {"queued", "inline"}
    assert all(seconds > 0 for seconds in timings.values())
    assert store.counts()["tickets"] == tickets + 4
    # the queued half left its notifications in the queue; the inline half already wrote them
    assert queue.inspect().pending == 2
    assert store.counts()["notifications"] == 2


def test_time_create_ticket_refuses_a_failing_app(store: HelpdeskStore,
                                                  redis_client: redis.Redis,
                                                  keys: KeySchema) -> None:
    app = HelpdeskApp(store, Cache(redis_client, keys), helpdesk_queue(redis_client, keys))
    with pytest.raises(RuntimeError, match="create_ticket failed"):
        time_create_ticket(app, requester_id=999_999, repeat=1)


def test_the_buttons_print_nothing_even_with_notebook_logging_on(
        queue: TaskQueue, context: TaskContext, capsys: pytest.CaptureFixture[str]) -> None:
    show_logs(on=True)  # what setup() does in a lesson: kit log lines go to stdout
    try:
        lab = QueueLab(queue, context)
        lab.enqueue(2, ["send_notifications", "close_inactive_tickets"])
        lab.step()
        lab.step()
        lab.burst()
    finally:
        show_logs(on=False)
    assert lab.counts()["done"] == 4
    assert capsys.readouterr().out == ""


def test_database_counts_agree_with_the_tables(store: HelpdeskStore) -> None:
    counts = database_counts(store)
    closed = store.db.execute("SELECT COUNT(*) FROM tickets WHERE status = 'closed'")
    assert counts["closed tickets"] == int(closed.rows[0][0]) > 0
    assert counts["notifications"] == store.notification_count()
    assert counts["comments"] == store.counts()["interactions"]


def test_database_counts_of_an_empty_store(empty_store: HelpdeskStore) -> None:
    assert database_counts(empty_store) == {"closed tickets": 0, "comments": 0,
                                            "archived comments": 0, "notifications": 0}


def test_create_ticket_round_trips_are_counted_the_same_every_run(
        store: HelpdeskStore, redis_client: redis.Redis, keys: KeySchema) -> None:
    from helpdesk_kit.widgets.queue_lab import create_ticket_round_trips

    first = create_ticket_round_trips(store, redis_client, keys, requester_id=3)
    again = create_ticket_round_trips(store, redis_client, keys, requester_id=3)
    assert first == again  # counted, not timed: lesson 06 stores this table as it is
    assert first["inline"][0] > first["queued"][0] >= 1  # the notification's own queries
