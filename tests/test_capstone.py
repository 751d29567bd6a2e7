"""Lesson 19's check: the reference solution holds, and planted mistakes are found and named.

The capstone's check (:mod:`helpdesk_kit.lessons.capstone`) runs the lessons' conformance
checks, the capstone's own and two drills on a learner's namespace. Here it runs on the
reference solution (``notebooks/solutions/lesson19.py``) and on copies of it with one mistake
planted each - a cache without the race guard, a worker that pops, one that acks before the
work, a recovery that copies - on the session's real redis-server and on fakeredis, where
drill 2 (another process must reach Redis) is skipped and says why. The broken functions live
in this file: drill 2 sends a worker to another process as source text, and a test module's
source can be read.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from test_solutions import SOLUTIONS, load_solution

from helpdesk_kit.lessons import Lesson, show_logs
from helpdesk_kit.lessons.capstone import (
    DRILLS,
    PARTS,
    Report,
    Verdict,
    not_built_report,
    run_capstone,
)
from helpdesk_kit.lessons.exercises.lesson19 import check
from helpdesk_kit.vocab import BackendKind

NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "19_capstone.ipynb"
ANSWERS = SOLUTIONS / "lesson19-answers.md"


@pytest.fixture
def lesson(open_lesson: Callable[..., Lesson]) -> Lesson:
    return open_lesson("19_capstone", users=30, tickets=2000)


def solution(**planted: Callable[..., Any]) -> dict[str, Any]:
    """The reference solution's namespace, with some functions replaced."""
    return {**load_solution(SOLUTIONS / "lesson19.py").answer, **planted}


def on_fakeredis(lesson: Lesson) -> bool:
    return lesson.backend.kind == BackendKind.FAKE


# --- planted mistakes ------------------------------------------------------------------------
def unguarded_get_ticket(store: Any, client: Any, keys: Any, ticket_id: int) -> Any:
    """Lesson 01's cache-aside, no more: a slow reader's SET lands after the invalidation."""
    cached = client.get(keys.ticket(ticket_id))
    if cached is not None:
        return json.loads(cached)
    row = store.get_ticket(ticket_id)
    if row is None:
        return None
    ticket = {"id": row.id, "title": row.title, "status": row.status}
    client.set(keys.ticket(ticket_id), json.dumps(ticket), ex=300)
    return ticket


def popping_work(client: Any, keys: Any, worker_id: str, handle: Any) -> int:
    """The seed's procesarTareas: LPOP, so the task lives only in the worker while it runs."""
    done = 0
    while (raw := client.lpop(keys.tasks_pending)) is not None:
        handle(json.loads(raw))
        done += 1
    return done


def acking_first_work(client: Any, keys: Any, worker_id: str, handle: Any) -> int:
    """LMOVE, then the ack, then the work: a death during the work loses the task."""
    done = 0
    mine = keys.tasks_processing(worker_id)
    while (raw := client.lmove(keys.tasks_pending, mine, "LEFT", "RIGHT")) is not None:
        client.lrem(mine, 1, raw)
        handle(json.loads(raw))
        done += 1
    return done


def copying_recover(client: Any, keys: Any, worker_id: str) -> int:
    """Puts the dead worker's tasks back on the queue, and leaves them in its list too."""
    held = client.lrange(keys.tasks_processing(worker_id), 0, -1)
    for raw in reversed(held):
        client.lpush(keys.tasks_pending, raw)
    return len(held)


def stuck_work(client: Any, keys: Any, worker_id: str, handle: Any) -> int:
    """Waits for something nobody will do (as a BLMOVE with no timeout on an empty queue
    does; fakeredis answers that one at once): far past the check's deadline."""
    threading.Event().wait(30)
    return 0


BATCH = 1  # a value from "another cell": drill 2 cannot send it to the other process


def work_with_a_global(client: Any, keys: Any, worker_id: str, handle: Any) -> int:
    done = 0
    while (raw := client.lmove(keys.tasks_pending, keys.tasks_processing(worker_id),
                               "LEFT", "RIGHT")) is not None:
        handle(json.loads(raw))
        client.lrem(keys.tasks_processing(worker_id), BATCH, raw)
        done += 1
    return done


# --- the reference solution --------------------------------------------------------------------
def test_the_reference_solution_holds_every_part_and_drill(lesson: Lesson) -> None:
    report = check(lesson, solution())
    assert report.ok is True, repr(report)
    assert report.message.startswith("✅ Right")
    held = {f.part.key for f in report.of(Verdict.HELD)}
    assert held >= {part.key for part in PARTS} | {"race"}
    race = report["race"]
    assert race.steps[-1].endswith("fresh") and "refused the late write" in race.detail
    crash = report["crash"]
    if on_fakeredis(lesson):
        assert crash.verdict == Verdict.SKIPPED and "fakeredis" in crash.detail
    else:
        assert crash.verdict == Verdict.HELD, crash.detail
        assert "none lost" in crash.detail and crash.steps[-1].count("1x") == 5
    again = check(lesson, solution())  # a re-run starts alike
    assert [f.verdict for f in again.findings] == [f.verdict for f in report.findings]


def test_the_check_leaves_no_keys_behind(lesson: Lesson) -> None:
    check(lesson, solution())
    left = list(lesson.client.scan_iter(match=f"{lesson.keys.prefix}*"))
    assert left == [], left[:5]


def test_nothing_built_is_not_answered_and_the_same_every_time(lesson: Lesson) -> None:
    empty = check(lesson, {})
    assert empty.ok is None and empty.message.startswith("✏️ Not answered yet")
    assert repr(empty) == repr(not_built_report())
    assert all(f.verdict == Verdict.NOT_BUILT for f in empty.findings)
    assert len(empty.findings) == len(PARTS) + len(DRILLS)
    assert check(lesson, ...).ok is None

    def get_ticket(store: Any, client: Any, keys: Any, ticket_id: int) -> Any:
        ...   # the template: not built either

    assert check(lesson, {"get_ticket": get_ticket}).ok is None


def test_a_part_half_built_says_what_is_missing(lesson: Lesson) -> None:
    half = {name: function for name, function in solution().items() if name != "ack_task"}
    report = run_capstone(lesson, half, only=("reliable",))
    finding = report["reliable"]
    assert finding.verdict == Verdict.NOT_BUILT and finding.detail == "missing ack_task"
    assert report.ok is None and "1 of 1" not in report.message


# --- planted mistakes are found, by the step that names them ------------------------------------
def test_a_planted_race_is_found_by_drill_1_alone(lesson: Lesson) -> None:
    report = run_capstone(lesson, solution(get_ticket=unguarded_get_ticket),
                          only=("tickets", "race"))
    assert report["tickets"].verdict == Verdict.HELD  # every step of a plain read passes
    race = report["race"]
    assert race.verdict == Verdict.BROKE and "stored the old row" in race.detail
    assert "out of date already" in race.steps[2] and race.steps[3].endswith("TTL runs out")
    assert "refused the late write" in race.detail  # the kit's cache, in the same steps
    assert report.ok is False and report.message.startswith("❌ Not quite")
    assert "What broke" in repr(report) and "STALE" in repr(report)


def test_a_planted_task_loss_is_found(lesson: Lesson) -> None:
    report = run_capstone(lesson, solution(work=popping_work), only=("worker", "crash"))
    worker = report["worker"]
    assert worker.verdict == Verdict.BROKE and "step 3" in worker.detail
    assert "LMOVE" in worker.detail
    crash = report["crash"]
    if on_fakeredis(lesson):
        assert crash.verdict == Verdict.SKIPPED
        return
    assert crash.verdict == Verdict.BROKE, crash.detail
    assert "drill-3 was lost" in crash.detail and "in no list" in crash.steps[1]
    assert "drill-3 0x" in crash.steps[-1]


def test_acking_before_the_work_loses_the_task_it_dies_on(lesson: Lesson) -> None:
    report = run_capstone(lesson, solution(work=acking_first_work), only=("worker", "crash"))
    assert report["worker"].verdict == Verdict.BROKE
    if not on_fakeredis(lesson):
        assert "drill-3 was lost" in report["crash"].detail


def test_a_recovery_that_copies_leaves_the_dead_workers_list_full(lesson: Lesson) -> None:
    report = run_capstone(lesson, solution(recover_tasks=copying_recover),
                          only=("reliable", "crash"))
    assert report["reliable"].verdict == Verdict.BROKE
    if not on_fakeredis(lesson):
        crash = report["crash"]
        assert crash.verdict == Verdict.BROKE and "lists still hold" in crash.detail


def test_a_worker_that_waits_for_ever_is_reported_not_frozen(
        lesson: Lesson, capsys: pytest.CaptureFixture[str]) -> None:
    report = run_capstone(lesson, solution(work=stuck_work), only=("worker",),
                          deadline_s=1.0)  # the deadline is the behaviour under test
    assert report["worker"].verdict == Verdict.BROKE
    assert "had not finished" in report["worker"].detail
    show_logs()  # the stuck thread lives on; the notebook's log lines must print again
    try:
        logging.getLogger("helpdesk_kit.app").info("the next cell")
    finally:
        show_logs(False)
    assert capsys.readouterr().out == "INFO helpdesk_kit.app: the next cell\n"


@pytest.mark.parametrize("open_lesson", ["real"], indirect=True)  # drill 2's other process
def test_a_worker_that_reads_another_cells_value_cannot_go_to_another_process(
        lesson: Lesson) -> None:
    """Drill 2 runs the worker in a process of its own, which fakeredis cannot reach: on a
    real server only."""
    report = run_capstone(lesson, solution(work=work_with_a_global), only=("worker", "crash"))
    assert report["worker"].verdict == Verdict.HELD  # it works, in this process
    crash = report["crash"]
    assert crash.verdict == Verdict.BROKE and "another process" in crash.detail
    assert "BATCH" in crash.detail


# --- the report and the questionnaire ----------------------------------------------------------
def test_the_report_reads_in_html_too() -> None:
    report = not_built_report()
    page = report._repr_html_()
    assert page.startswith("<p>✏️ Not answered yet") and page.count("<tr>") == 12
    assert isinstance(report, Report) and not report


def _questions() -> list[tuple[str, str]]:
    cells = json.loads(NOTEBOOK.read_text())["cells"]
    text = next("".join(c["source"]) for c in cells
                if "".join(c["source"]).startswith("## The closing questionnaire"))
    return re.findall(r"^(\d+)\. \*\(lesson (\d\d)\)\*", text, re.M)


def test_every_question_has_its_answer_from_the_same_lesson() -> None:
    questions = _questions()
    answers = re.findall(r"^(\d+)\. \*\*\(lesson (\d\d)\)", ANSWERS.read_text(), re.M)
    assert 15 <= len(questions) <= 20
    assert answers == questions
    assert [int(number) for number, _ in questions] == list(range(1, len(questions) + 1))



# --- the capstone's own checks name the usual mistakes ------------------------------------------
def _reference(name: str) -> Callable[..., Any]:
    return solution()[name]


def ticket_without_ttl(store: Any, client: Any, keys: Any, ticket_id: int) -> Any:
    ticket = _reference("get_ticket")(store, client, keys, ticket_id)
    if ticket is not None:
        client.persist(keys.ticket(ticket_id))
    return ticket


def ticket_as_text(store: Any, client: Any, keys: Any, ticket_id: int) -> Any:
    ticket = _reference("get_ticket")(store, client, keys, ticket_id)
    return None if ticket is None else json.dumps(ticket)


def tasks_on_the_clock(store: Any, client: Any, keys: Any, task: dict[str, Any]) -> None:
    now = 1_900_000_000_000  # a later moment than the task's own
    _reference("handle_task")(store, client, keys, {**task, "timestamp": now})


def notifications_by_a_new_id(store: Any, client: Any, keys: Any, task: dict[str, Any]
                              ) -> None:
    renamed = {**task, "id": f"{task['id']}-{client.incr(keys.entity('n', 'runs'))}"}
    _reference("handle_task")(store, client, keys, renamed)


def closing_forgets_a_retry(store: Any, client: Any, keys: Any, task: dict[str, Any]) -> None:
    if task["type"] != "close_inactive_tickets":
        return _reference("handle_task")(store, client, keys, task)
    from datetime import UTC, datetime, timedelta

    now = datetime.fromtimestamp(task["timestamp"] / 1000, UTC)
    closed = store.close_inactive_tickets(now - timedelta(days=task["payload"]["days"]), now)
    for ticket_id in closed:  # only what this run closed: a retry closes nothing
        client.delete(keys.ticket(ticket_id))
    return None


def unknown_types_ignored(store: Any, client: Any, keys: Any, task: dict[str, Any]) -> None:
    if task["type"] in ("close_inactive_tickets", "send_notifications",
                        "archive_old_interactions"):
        _reference("handle_task")(store, client, keys, task)


@pytest.mark.parametrize(("part", "planted", "step", "words"), [
    ("tickets", {"get_ticket": ticket_without_ttl}, 3, "never expires"),
    ("tickets", {"get_ticket": ticket_as_text}, 1, "json.loads"),
    ("tasks", {"handle_task": tasks_on_the_clock}, 1, "the task's timestamp"),
    ("tasks", {"handle_task": closing_forgets_a_retry}, 3, "tickets_closed_at"),
    ("tasks", {"handle_task": notifications_by_a_new_id}, 5, "task's id"),
    ("tasks", {"handle_task": unknown_types_ignored}, 8, "raise an error"),
])
def test_a_mistake_breaks_the_step_that_names_it(lesson: Lesson, part: str,
                                                 planted: dict[str, Any], step: int,
                                                 words: str) -> None:
    finding = run_capstone(lesson, solution(**planted), only=(part,))[part]
    assert finding.verdict == Verdict.BROKE, finding.detail
    assert finding.detail.startswith(f"step {step} "), finding.detail
    assert words in finding.detail
