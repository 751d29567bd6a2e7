"""Lesson 07's crash, retry and drain helpers and its crash lab, on real Redis and fakeredis."""

from __future__ import annotations

import pytest
import redis

from helpdesk_kit.app import TaskContext, helpdesk_queue
from helpdesk_kit.db import HelpdeskStore
from helpdesk_kit.db.sample import SAMPLE_NOW
from helpdesk_kit.errors import TaskValidationError
from helpdesk_kit.keys import KeySchema
from helpdesk_kit.lessons import show_logs
from helpdesk_kit.queue import RetryPolicy, Task, TaskQueue, Worker
from helpdesk_kit.widgets.reliability import (
    CrashLab,
    FlakyService,
    counting_registry,
    crash_and_recover,
    drain_timeline,
    flaky_registry,
    plot_timelines,
    settle,
    with_email_task,
)

NOTIFY = {"ticketId": 3, "usuarioId": 1, "tipo": "ticket_creado"}


@pytest.fixture
def context(store: HelpdeskStore, redis_client: redis.Redis, keys: KeySchema) -> TaskContext:
    return TaskContext(store, None, redis_client, keys, now=SAMPLE_NOW)


def test_counting_registry_counts_runs_and_keeps_checks(context: TaskContext) -> None:
    registry, runs = counting_registry()
    task = Task("send_notifications", dict(NOTIFY))
    handler = registry.validate(task.type, task.payload).handler
    handler(context, task)
    handler(context, task)
    assert runs == {task.id: 2}
    with pytest.raises(TaskValidationError):
        registry.validate("send_notifications", {"ticketId": "3"})


def test_flaky_service_fails_then_recovers() -> None:
    service = FlakyService(fail_next=2)
    for _ in range(2):
        with pytest.raises(ConnectionError):
            service.call()
    service.call()
    assert len(service.calls) == 3 and service.fail_next == 0
    assert service.outcomes == ["unavailable", "unavailable", "delivered"]


@pytest.mark.parametrize(("mode", "after_work", "taken", "lost", "duplicates", "recovered"), [
    ("seed", False, 7, 1, 0, 0),      # LPOP: the task in hand dies with the worker
    ("seed", True, 7, 0, 0, 0),       # ...unless its work was already written
    ("reliable", False, 10, 0, 1, 5),  # batch ack: the 6th, done but not acked, runs again
    ("reliable", True, 10, 0, 2, 5),   # ...and so does the 7th, whose work was done
])
def test_crash_costs_each_mode_what_the_lesson_says(
        redis_client: redis.Redis, keys: KeySchema, context: TaskContext, mode: str,
        after_work: bool, taken: int, lost: int, duplicates: int, recovered: int) -> None:
    queue = helpdesk_queue(redis_client, keys)
    registry = queue.registry
    report = crash_and_recover(queue, context, mode=mode, tasks=12, batch=5, crash_at=7,  # type: ignore[arg-type]
                               after_work=after_work, heartbeat_ttl_s=0.05)
    assert queue.registry is registry  # the counting copy stays inside the run
    assert (report.lost, report.duplicates, report.recovered) == (lost, duplicates, recovered)
    assert report.taken_by_victim == taken and report.done_before_crash == 6
    assert report.notifications == 12 - lost  # idempotent: one row per task, repeats or not
    assert queue.inspect().pending == 0 and queue.inspect().processing == 0


def test_the_crash_runs_the_real_worker_so_acking_first_loses_tasks(
        redis_client: redis.Redis, keys: KeySchema, context: TaskContext,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Lesson 07 drives the kit's Worker: a Worker that acked before running would show it."""
    def ack_then_run(self: Worker, tasks: list[Task]) -> int:
        self.queue.ack(self.worker_id, tasks)  # the bug: acked before the handlers ran
        for task in tasks:
            self._handle(task)
        return len(tasks)

    monkeypatch.setattr(Worker, "_run_batch", ack_then_run)
    report = crash_and_recover(helpdesk_queue(redis_client, keys), context, mode="reliable",
                               tasks=12, batch=5, crash_at=7, heartbeat_ttl_s=0.05)
    assert report.lost > 0 and report.recovered == 0


def test_the_killed_worker_sends_nothing_to_redis_on_its_way_out(
        redis_client: redis.Redis, keys: KeySchema, context: TaskContext) -> None:
    report = crash_and_recover(helpdesk_queue(redis_client, keys), context, mode="seed",
                               tasks=5, batch=1, crash_at=2, heartbeat_ttl_s=0.05)
    # the victim finished 1 task but died before flushing its "done" count: only the
    # healthy worker's 3 are counted - what a SIGKILL'd process leaves behind
    assert report.done_before_crash == 1
    assert helpdesk_queue(redis_client, keys).inspect().done == 3


def test_a_victim_that_never_reaches_its_crash_loses_nothing(
        redis_client: redis.Redis, keys: KeySchema, context: TaskContext) -> None:
    report = crash_and_recover(helpdesk_queue(redis_client, keys), context, mode="seed", tasks=4,
                               batch=2, crash_at=10, heartbeat_ttl_s=0.01)
    assert report.lost == 0 and report.done_before_crash == 4 and report.handler_runs == 4


def test_settle_retries_with_backoff_until_done(redis_client: redis.Redis, keys: KeySchema,
                                                context: TaskContext) -> None:
    service = FlakyService(fail_next=2)
    policy = RetryPolicy(max_attempts=4, base_delay_s=0.02)
    queue = TaskQueue(redis_client, keys, registry=flaky_registry(service), retry=policy)
    queue.enqueue("send_notifications", NOTIFY)
    assert settle(queue, context) == 3
    gaps = [b - a for a, b in zip(service.calls, service.calls[1:], strict=False)]
    # The backoff is the behaviour under test, and it is a *minimum* wait: a slow machine only
    # lengthens the gaps, so this lower bound cannot fail for want of speed.
    assert all(gap >= policy.delay_s(n) * 0.9 for n, gap in enumerate(gaps, start=1))
    stats = queue.inspect()
    assert (stats.done, stats.failed, stats.delayed, stats.dead) == (1, 2, 0, 0)


def test_an_outage_ends_in_dead_letters_that_can_be_retried(
        redis_client: redis.Redis, keys: KeySchema, context: TaskContext) -> None:
    service = FlakyService(fail_next=100)
    queue = TaskQueue(redis_client, keys, registry=flaky_registry(service),
                      retry=RetryPolicy(max_attempts=2, base_delay_s=0.01))
    queue.enqueue("send_notifications", NOTIFY)
    redis_client.rpush(keys.tasks_pending, "{broken")
    settle(queue, context)
    letters = queue.dead_letters()
    assert len(letters) == 2 and len(service.calls) == 2
    service.fail_next = 0
    assert queue.retry_dead() == 1  # the unparseable one stays dead
    settle(queue, context)
    assert queue.inspect().done == 1 and len(queue.dead_letters()) == 1


def test_settle_gives_up_after_its_timeout(redis_client: redis.Redis, keys: KeySchema,
                                           context: TaskContext) -> None:
    queue = TaskQueue(redis_client, keys, registry=flaky_registry(FlakyService(fail_next=1)),
                      retry=RetryPolicy(max_attempts=3, base_delay_s=60))
    queue.enqueue("send_notifications", NOTIFY)
    assert settle(queue, context, timeout_s=0.05) == 1
    assert queue.inspect().delayed == 1  # still waiting: nothing lost


def test_drain_timeline_empties_the_queue_with_any_number_of_workers(
        redis_client: redis.Redis, context: TaskContext, key_prefix: str) -> None:
    timelines = {}
    for workers in (1, 3):
        queue = TaskQueue(redis_client, KeySchema(prefix=f"{key_prefix}{workers}:"),
                          registry=with_email_task(0.0))
        timelines[workers] = drain_timeline(queue, context, workers=workers, tasks=9)
        assert timelines[workers][0] == (0.0, 9)
        assert timelines[workers][-1][1] == 0
        assert queue.inspect().done == 9 and queue.inspect().processing == 0
    figure = plot_timelines(timelines)
    assert [line.get_label() for line in figure.axes[0].lines] == ["1 worker", "3 workers"]


def test_drain_timeline_runs_real_notification_tasks(
        redis_client: redis.Redis, keys: KeySchema, context: TaskContext) -> None:
    queue = helpdesk_queue(redis_client, keys)
    samples = drain_timeline(queue, context, workers=2, tasks=4, task_type="send_notifications")
    assert samples[-1][1] == 0
    assert context.store.counts()["notifications"] == 4


def test_crash_lab_button_adds_a_row_per_run(redis_client: redis.Redis, keys: KeySchema,
                                             context: TaskContext) -> None:
    lab = CrashLab(redis_client, keys, context)
    lab.mode.value, lab.batch.value, lab.crash_at.value = "reliable", 2, 2
    lab.run_button.click()
    report = lab.run("seed", batch=3, crash_at=1)
    assert len(lab.reports) == 2 and lab.reports[0].mode == "reliable"
    assert lab.reports[0].lost == 0 and report.lost == 1  # seed: the task in hand
    assert lab.view.value.count("<tr>") == 3  # header + two runs


def test_the_crash_lab_prints_nothing_even_with_notebook_logging_on(
        redis_client: redis.Redis, keys: KeySchema, context: TaskContext,
        capsys: pytest.CaptureFixture[str]) -> None:
    show_logs(on=True)
    try:
        CrashLab(redis_client, keys, context).run("reliable", batch=2, crash_at=2)
    finally:
        show_logs(on=False)
    assert capsys.readouterr().out == ""
