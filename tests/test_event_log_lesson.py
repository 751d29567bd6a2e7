"""Lesson 15: the replay exercise's hints, the read-model lab, and a lost append."""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from helpdesk_kit.app import EventLog, OpenByPriority
from helpdesk_kit.app.events import differences, rebuild
from helpdesk_kit.app.readmodel import open_counts
from helpdesk_kit.lessons import Lesson, capture_logs
from helpdesk_kit.lessons.exercises import lesson15
from helpdesk_kit.widgets.events import CHANGES, ReadModelLab, lost_append, state_table

SOLUTION = Path(__file__).resolve().parent.parent / "notebooks" / "solutions" / "lesson15.py"


def _solution() -> Any:
    spec = importlib.util.spec_from_file_location("solution_lesson15", SOLUTION)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.answer


@pytest.fixture
def lesson(open_lesson: Callable[..., Lesson]) -> Lesson:
    return open_lesson("15_event_log", users=30, tickets=50)


def _replay(*, skip_repeats: bool = True, only_this: bool = True, tolerant: bool = True,
            closed: bool = True) -> Callable[..., Any]:
    """The solution's fold, with one of the usual mistakes."""
    def answer(client: Any, stream: str, ticket_id: int) -> Any:
        state: dict[str, Any] | None = None
        for _id, fields in client.xrange(stream, "-", "+"):
            if tolerant and "kind" not in fields:
                continue
            if only_this and int(fields["ticket"]) != ticket_id:
                continue
            data, version = json.loads(fields["data"]), int(fields["version"])
            if fields["kind"] == "created":
                state = state or {"ticket_id": ticket_id, "version": version, "comments": 0,
                                  **{k: data.get(k) for k in lesson15.FIELDS[1:7]}}
                continue
            if state is None or (skip_repeats and version <= state["version"]):
                continue
            state.update({k: v for k, v in data.items() if k in lesson15.FIELDS[1:7]})
            if closed and fields["kind"] == "closed":
                state["status"] = "closed"
            if fields["kind"] == "commented":
                state["comments"] += 1
            state["version"] = version
        return state
    return answer


def test_the_fold_with_its_mistakes_stays_close_to_the_solution(lesson: Lesson) -> None:
    assert lesson15.check(lesson, _replay()).ok is True
    assert lesson15.check(lesson, _solution()).ok is True


@pytest.mark.parametrize(("mistake", "words"), [
    ({"skip_repeats": False}, "2 comments"),
    ({"only_this": False}, "ticket 8's events"),
    ({"tolerant": False}, "written by hand"),
    ({"closed": False}, "sets the status"),
])
def test_each_mistake_gets_its_hint(lesson: Lesson, mistake: dict[str, bool],
                                    words: str) -> None:
    result = lesson15.check(lesson, _replay(**mistake))
    assert result.ok is False and words in result.message, result.message


def test_a_ticket_created_before_the_log_began_is_none(lesson: Lesson) -> None:
    def always(client: Any, stream: str, ticket_id: int) -> Any:
        state = _solution()(client, stream, ticket_id)
        return state if state is not None else {"ticket_id": ticket_id}

    assert "created before the log began" in lesson15.check(lesson, always).message
    assert not list(lesson.client.scan_iter(match=f"{lesson.keys.prefix}exercise*"))


def test_the_lab_lags_while_stopped_and_catches_up(lesson: Lesson) -> None:
    app = lesson.make_app()
    app.events = EventLog(lesson.client, lesson.keys)
    model = OpenByPriority(lesson.client, lesson.keys)
    model.bootstrap(lesson.store)
    lab = ReadModelLab(app, model)
    lab.running.value = False
    said = [lab.change() for _ in range(len(CHANGES))]
    assert said[0].startswith(f"ticket {CHANGES[0][0]}:") and model.lag() == len(CHANGES)
    assert "lag: 5" in lab.view.value
    assert lab.catch_up() == f"catch_up applied {len(CHANGES)} event(s)"
    assert model.lag() == 0 and model.counts() == open_counts(lesson.store)
    lab.running.value = True
    lab.change()  # running: applied at once
    assert model.lag() == 0 and model.counts() == open_counts(lesson.store)


def test_a_lost_append_leaves_the_log_behind_the_database(lesson: Lesson) -> None:
    app = lesson.make_app()
    app.events = EventLog(lesson.client, lesson.keys)
    with capture_logs():
        ticket = app.create_ticket(3, "A story")["ticketId"]
    result = lost_append(app, ticket, priority="urgent")
    assert result["success"] is True and "not in the event log" in result["warning"]
    assert app.events.client is lesson.client  # the good log is back
    row = lesson.store.get_ticket(ticket)
    state = rebuild(app.events.history(ticket))
    assert differences(state, row) == {"priority": ("medium", "urgent"), "version": (1, 2)}
    table = state_table(state, row)
    assert ("priority", "medium", "urgent") in table.rows
