"""Run the capstone's check: every part the learner built, then the two drills.

``run_capstone(lesson, globals())`` finds the checklist's functions by name in the notebook's
namespace (a function whose body is still ``...`` is not built). For each part whose functions
are all there it runs the part's check, in a sandbox of the lesson's keys of its own:

* the lessons' own checks, unchanged, for the pieces lessons 01-07 asked for
  (:mod:`helpdesk_kit.lessons.conformance`) - on the learner's functions only, never filled
  in with the kit's;
* the capstone's checks of ``get_ticket``, ``handle_task`` and ``work``
  (:mod:`~helpdesk_kit.lessons.conformance.capstone_checks`, ``task_checks``);
* lesson 08's check of ``api_metrics``;
* drill 1 (:mod:`.race`) and drill 2 (:mod:`.crash`).

Each part gets a deadline: a function that waits for ever (a ``BLPOP`` with no timeout on an
empty queue) becomes a finding, not a frozen notebook. Nothing the learner wrote is kept in
``my_helpdesk.py``: the capstone is theirs alone.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Mapping
from types import ModuleType
from typing import Any

from ...vocab import BackendKind
from ..checks import CheckResult, is_unanswered, sandbox
from ..conformance import PIECES, ConformanceError, Workspace, verify
from ..conformance.capstone_checks import check_ticket_reads, check_worker
from ..conformance.task_checks import check_tasks
from ..lesson import Lesson
from ..output import capture_logs, quiet_thread
from .crash import crash_drill
from .parts import DRILLS, FUNCTIONS, PARTS, Part
from .race import race_drill
from .report import Finding, Report, Verdict
from .scratch import twin_stores

__all__ = ["DEADLINE_S", "drill_url", "functions_in", "run_capstone"]

#: How long one part may run before it counts as stuck (it takes well under a second).
DEADLINE_S = 60.0
#: The lessons whose own checks judge the capstone's pieces, by part.
LESSON_CHECKS = {"users": "01", "update": "03", "warm": "04", "queue": "06", "reliable": "07"}
_PIECE_NAMES = frozenset(piece.name for piece in PIECES)

Namespace = Mapping[str, Any]


def functions_in(namespace: Namespace | ModuleType) -> dict[str, Any]:
    """The namespace (``globals()``, or a module) as a dict, for the checklist's lookups."""
    return dict(vars(namespace) if isinstance(namespace, ModuleType) else namespace)


def _built(namespace: Namespace) -> dict[str, Callable[..., Any]]:
    return {name: namespace[name] for name in FUNCTIONS
            if callable(namespace.get(name)) and not is_unanswered(namespace[name])}


def drill_url(lesson: Lesson) -> tuple[str | None, str]:
    """The URL another process reaches the lesson's Redis at, or None and why not."""
    kind = lesson.backend.kind
    if kind == BackendKind.FAKE:
        return None, ("skipped on fakeredis: the worker runs in a process of its own, and "
                      "fakeredis lives inside this one; on a real server it runs")
    if kind == BackendKind.URL and lesson.settings.redis_url:
        return lesson.settings.redis_url, ""
    if kind == BackendKind.SERVER:
        where = lesson.client.connection_pool.connection_kwargs
        db = where.get("db", 0)
        if where.get("path"):
            return f"unix://{where['path']}?db={db}", ""
        return f"redis://{where.get('host', 'localhost')}:{where.get('port', 6379)}/{db}", ""
    return None, f"skipped on a {kind} backend: the drill needs one Redis server"


def _conformance(lesson: Lesson, part: Part, built: dict[str, Callable[..., Any]]) -> Finding:
    number = LESSON_CHECKS[part.key]
    workspace = Workspace(lesson.client, sandbox(lesson, f"capstone-{part.key}"), lesson.store)
    mine = {name: function for name, function in built.items() if name in _PIECE_NAMES}
    try:
        done = verify(number, mine, workspace)
    except ConformanceError as exc:
        return Finding(part, Verdict.BROKE, f"lesson {number}'s check, {exc}")
    return Finding(part, Verdict.HELD, f"all {len(done)} steps of lesson {number}'s check.")


def _capstone_check(lesson: Lesson, part: Part, built: dict[str, Callable[..., Any]]
                    ) -> Finding:
    workspace = Workspace(lesson.client, sandbox(lesson, f"capstone-{part.key}"), lesson.store)
    try:
        if part.key == "tasks":
            with twin_stores(lesson) as (yours, kits):
                done = check_tasks(built, Workspace(workspace.client, workspace.keys, yours),
                                   kits)
        elif part.key == "tickets":
            done = check_ticket_reads(built, workspace)
        else:
            done = check_worker(built, workspace)
    except ConformanceError as exc:
        return Finding(part, Verdict.BROKE, str(exc))
    return Finding(part, Verdict.HELD, f"all {len(done)} steps.")


def _metrics(lesson: Lesson, part: Part, built: dict[str, Callable[..., Any]]) -> Finding:
    from ..exercises import lesson08

    result: CheckResult = lesson08.check(lesson, built["api_metrics"])
    verdict = {True: Verdict.HELD, False: Verdict.BROKE, None: Verdict.NOT_BUILT}[result.ok]
    return Finding(part, verdict, f"lesson 08's check: {result.message}")


def _drill(lesson: Lesson, part: Part, built: dict[str, Callable[..., Any]],
           namespace: Namespace) -> Finding:
    keys = sandbox(lesson, f"capstone-{part.key}")
    if part.key == "race":
        return race_drill(lesson.store, lesson.client, keys, built)
    url, why = drill_url(lesson)
    if url is None:
        return Finding(part, Verdict.SKIPPED, why)
    return crash_drill(url, keys, namespace)


def _run_part(lesson: Lesson, part: Part, built: dict[str, Callable[..., Any]],
              namespace: Namespace) -> Finding:
    if part.is_drill:
        return _drill(lesson, part, built, namespace)
    if part.key in LESSON_CHECKS:
        return _conformance(lesson, part, built)
    if part.key == "metrics":
        return _metrics(lesson, part, built)
    return _capstone_check(lesson, part, built)


def _within(deadline_s: float, part: Part, run: Callable[[], Finding]) -> Finding:
    """``run()`` in a thread of its own; a part still running at the deadline is stuck."""
    found: list[Finding] = []

    def body() -> None:
        with quiet_thread():  # this thread's lines never print, even if it outlives the part
            try:
                found.append(run())
            except Exception as exc:  # the learner's code: its error is the finding
                found.append(Finding(part, Verdict.BROKE,
                                     f"it stopped with {type(exc).__name__}: {exc}"))

    thread = threading.Thread(target=body, name=f"capstone-{part.key}", daemon=True)
    # The capture is held here, not in the thread: a stuck part must not keep the
    # notebook's log lines muted for the rest of the session.
    with capture_logs():
        thread.start()
        thread.join(deadline_s)
    if found:
        return found[0]
    return Finding(part, Verdict.BROKE, f"it had not finished after {deadline_s:.0f} s: does "
                   "a function wait for ever - a blocking pop with no timeout on an empty "
                   "queue, a loop that never meets its end?")


def run_capstone(lesson: Lesson, namespace: Namespace | ModuleType,
                 only: tuple[str, ...] = (), deadline_s: float = DEADLINE_S) -> Report:
    """Check every part and drill (or only the keys in ``only``); the report says what held."""
    given = functions_in(namespace)
    built = _built(given)
    findings = []
    for part in PARTS + DRILLS:
        if only and part.key not in only:
            continue
        missing = [name for name in part.functions if name not in built]
        if missing:
            detail = ("" if len(missing) == len(part.functions)
                      else f"missing {', '.join(missing)}")
            findings.append(Finding(part, Verdict.NOT_BUILT, detail))
            continue
        findings.append(_within(deadline_s, part,
                                functools.partial(_run_part, lesson, part, built, given)))
        sandbox(lesson, f"capstone-{part.key}")  # the check's keys go with it
    return Report(findings)
