"""Lesson 10's widget functions and its exercise (the notebook itself runs under nbval)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from helpdesk_kit.backends import SentinelLab
from helpdesk_kit.config import Settings
from helpdesk_kit.lab.failover import DrillReport, Event, GapResult
from helpdesk_kit.lab.failover_load import named_only
from helpdesk_kit.lessons import setup, show_logs
from helpdesk_kit.lessons.exercises import lesson10
from helpdesk_kit.widgets.replication import (
    FailoverButton,
    drill_table,
    gap_table,
    offsets_table,
    timeline_figure,
)

SOLUTION = Path(__file__).resolve().parent.parent / "notebooks" / "solutions" / "lesson10.py"


def _solution() -> ModuleType:
    spec = importlib.util.spec_from_file_location("solution_lesson10", SOLUTION)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _report() -> DrillReport:
    """A made-up drill: 1 s of load, a kill at 1.0 s, writes back at 3.0 s."""
    events = [Event(t / 100, op, not (1.0 <= t / 100 < 3.0) or op == "read")
              for t in range(0, 400, 2) for op in ("read", "write", "enqueue", "probe-write")]
    primaries = [(t / 10, "127.0.0.1:1" if t < 30 else "127.0.0.1:2") for t in range(40)]
    return DrillReport("sentinel", False, "127.0.0.1:1", "127.0.0.1:2", 1.0, 2.1, 2.0, 2.0,
                       0.02, 2.0, 0, 150, 150, 0, 0, 1, {"127.0.0.1:1": 10},
                       {"127.0.0.1:2": 10}, events, primaries)


def test_the_exercise_on_the_session_set_and_its_usual_slips(
        tmp_path: Path, sentinel_lab: SentinelLab) -> None:
    lesson = setup("10_replication_sentinel", settings=Settings(data_dir=tmp_path,
                                                                redis_backend="fake"),
                   users=10, tickets=30, logs=False)

    def as_text(client: Any, offset: int) -> list[str]:  # "9" > "10" as text
        return [f"{ip}:{port}" for ip, port, acked in client.role()[2] if acked >= str(offset)]

    def everyone(client: Any, offset: int) -> list[str]:
        return [f"{ip}:{port}" for ip, port, _acked in client.role()[2]]

    try:
        assert lesson10.check(lesson, _solution().answer, sentinel_lab).ok is True
        assert lesson10.check(lesson, ...).ok is None
        assert "as numbers" in lesson10.check(lesson, as_text, sentinel_lab).message
        assert "has not acknowledged" in lesson10.check(lesson, everyone, sentinel_lab).message
        assert lesson10.check(lesson, lambda c, o: "127.0.0.1:1", sentinel_lab).ok is False
        crash = lesson10.check(lesson, lambda c, o: 1 / 0, sentinel_lab)
        assert crash.ok is False and "ZeroDivisionError" in crash.message
        with sentinel_lab.primary().client() as client:
            assert client.role()[0] == "master"
            assert len(client.role()[2]) == 2, "every paused replica was continued"
    finally:
        lesson.close()
        show_logs(False)


def test_drill_and_gap_tables_show_the_measured_figures() -> None:
    text = repr(drill_table(_report()))
    assert "2.00 s" in text and "150 / 0" in text and "127.0.0.1:2 promoted" in text
    assert "earlier runs set aside" in text and "yes" in text  # shown, not hidden
    gaps = repr(gap_table([GapResult(False, 10, 10, 10, "a", 0), GapResult(True, 3, 0, 0, "b", 0)]))
    assert "plain RPUSH" in gaps and "durable" in gaps and "on the new primary" in gaps
    durable_row = gaps.splitlines()[-1].split()
    # pushed, none acknowledged, all refused (and applied), none kept, none acknowledged-lost
    assert durable_row[-5:] == ["3", "0", "3", "0", "0"]


def test_the_timeline_plots_who_was_primary_and_the_rates() -> None:
    fig = timeline_figure(_report())
    who, rates, errors = fig.axes
    assert [t.get_text() for t in who.get_yticklabels()] == ["127.0.0.1:1", "127.0.0.1:2"]
    reads = rates.get_lines()[0].get_ydata()
    assert max(reads) > 0 and min(reads[5:12]) > 0, "reads never stopped (fail-open)"
    failed_writes = errors.get_lines()[0].get_ydata()
    assert max(failed_writes[4:12]) > 0 and max(failed_writes[14:]) == 0


def test_offsets_and_the_kill_button_on_the_session_trio(sentinel_lab: SentinelLab) -> None:
    table = repr(offsets_table(sentinel_lab))
    assert table.count("replica") >= 2 and "primary" in table
    pytest.importorskip("ipywidgets")
    button = FailoverButton(sentinel_lab, None, "lesson10:")  # type: ignore[arg-type]  # no click here: the shared trio keeps its primary
    assert button.runs == 0 and "primary" in button.offsets.value


def test_a_drill_is_steady_only_if_nothing_but_the_killed_node_was_named_before_the_kill(
        ) -> None:
    killed = "127.0.0.1:1"
    timeline = [(0.1, killed), (0.2, None), (0.9, killed), (1.5, "127.0.0.1:2")]
    assert named_only(timeline, killed, before=1.0) is True
    assert named_only([*timeline, (0.95, "127.0.0.1:2")], killed, before=1.0) is False
    assert named_only([], killed, before=1.0) is True
    report = _report()
    assert report.steady and "NOT STEADY" not in report.summary()
    report.unsteady_runs = 1
    assert "1 earlier run(s) set aside" in report.summary()
    report.steady = False
    assert "NOT STEADY" in report.summary()
