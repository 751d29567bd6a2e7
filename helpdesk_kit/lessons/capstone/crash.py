"""Drill 2: the learner's worker, in a real process of its own, killed (SIGKILL) mid-task.

1. Five tasks go in with the learner's ``enqueue_task``.
2. Another Python process runs the learner's ``work`` (and the functions it calls) as worker
   ``drill-w1``, with a ``handle`` that notes each task in Redis. When it reaches the third
   task, ``handle`` tells the drill so and waits; the drill sends ``SIGKILL`` - no ``finally``,
   no ``except``, nothing of the worker runs again, as when the OOM killer or a power cut ends
   it. (``KillPoint.AFTER_WORK`` kills it after the handler finished instead, before the ack.)
3. The learner's ``recover_tasks('drill-w1')``, then their ``work`` as ``drill-w2`` here.
4. Each task must have been done at least once, and no list may still hold one.

The worker's code goes to the other process the way ``my_helpdesk.py`` keeps pieces: as its
source text (:func:`~helpdesk_kit.lessons.workbook.section_source`), so it must run on its own -
imports at the top, no constant it reads from another cell. Redis must be reachable from
another process: a real server (on fakeredis, which lives inside the notebook's process, the
drill is skipped and says why).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import types
from collections.abc import Callable, Mapping
from enum import StrEnum
from pathlib import Path
from typing import Any

import redis

from ...keys import KeySchema
from ..conformance.capstone_checks import task_ids
from ..workbook import WorkbookError, section_source
from .parts import DRILLS
from .report import Finding, Verdict

__all__ = ["TASKS", "VICTIM", "KillPoint", "crash_drill", "worker_source"]

PART = DRILLS[1]
#: The drill's tasks, and the one the worker is killed on.
TASKS = tuple(f"drill-{n}" for n in range(1, 6))
VICTIM = TASKS[2]
#: The variable that gives the other process the Redis URL (never a file: it may hold a password).
URL_VARIABLE = "HELPDESK_DRILL_REDIS"


class KillPoint(StrEnum):
    """When the drill kills the worker, on the victim task."""

    #: while its handler runs (the work half done)
    DURING = "while its handler ran"
    #: after its handler finished, before the ack (the work done, nobody told)
    AFTER_WORK = "after its handler finished, before the ack"


#: The other process: the learner's worker code, then their work() with a handle that notes
#: each task (started, done) in Redis and stops for ever on the victim.
CHILD = """
import json, os, sys, threading
import redis
from helpdesk_kit.keys import KeySchema

source, prefix, victim, after_work = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4] == "1"
namespace = {"__name__": "capstone_worker"}
with open(source, encoding="utf-8") as file:
    exec(compile(file.read(), source, "exec"), namespace)
client = redis.Redis.from_url(os.environ["HELPDESK_DRILL_REDIS"], decode_responses=True)
keys = KeySchema(prefix=prefix)
started, done, told = (keys.entity("drill", name) for name in ("started", "done", "signal"))


def handle(task):
    if isinstance(task, (str, bytes)):
        task = json.loads(task)
    ident = str(task.get("id"))
    client.rpush(started, ident)
    if ident == victim and not after_work:
        client.rpush(told, ident)
        threading.Event().wait()
    client.hincrby(done, ident, 1)
    if ident == victim:
        client.rpush(told, ident)
        threading.Event().wait()


namespace["work"](client, keys, "drill-w1", handle)
"""


def _names_in(code: types.CodeType) -> set[str]:
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _names_in(const)
    return names


def worker_source(namespace: Mapping[str, Any]) -> str:
    """``work`` and every function of the learner's it calls, as one file's source.

    Raises WorkbookError when they cannot run on their own (a constant from another cell).
    """
    work = namespace["work"]
    home = getattr(work, "__module__", None)
    wanted: dict[str, Callable[..., Any]] = {"work": work}
    todo = [work]
    while todo:
        for name in sorted(_names_in(todo.pop().__code__)):
            value = namespace.get(name)
            if (name not in wanted and isinstance(value, types.FunctionType)
                    and value.__module__ == home):
                wanted[name] = value
                todo.append(value)
    return section_source("19", wanted, defined=frozenset(wanted))


class _Drill:
    """One run: the keys it notes tasks under, and what it saw."""

    def __init__(self, client: redis.Redis, keys: KeySchema) -> None:
        self.client = client
        self.keys = keys
        self.started = keys.entity("drill", "started")
        self.done = keys.entity("drill", "done")
        self.told = keys.entity("drill", "signal")

    def handle(self, task: Any) -> None:
        """The handle of the worker that recovers: note the task, started and done."""
        ident = str(task.get("id") if isinstance(task, dict) else json.loads(task).get("id"))
        self.client.rpush(self.started, ident)
        self.client.hincrby(self.done, ident, 1)

    def holding(self, ident: str) -> list[str]:
        """The lists that hold task ``ident`` now."""
        lists = [self.keys.tasks_pending] + [self.keys.tasks_processing(w)
                                             for w in ("drill-w1", "drill-w2")]
        return [key for key in lists if ident in task_ids(self.client.lrange(key, 0, -1))]

    def done_counts(self) -> dict[str, int]:
        counts = self.client.hgetall(self.done)
        return {ident: int(counts.get(ident, 0)) for ident in TASKS}

    def wait_for_victim(self, child: subprocess.Popen[bytes], deadline_s: float) -> bool:
        """Until the child says it is on the victim (True), ends, or the deadline passes."""
        deadline = time.monotonic() + deadline_s
        while child.poll() is None and time.monotonic() < deadline:
            if self.client.blpop([self.told], timeout=0.25) is not None:
                return True
        return False


def _start_child(source: Path, url: str, keys: KeySchema, kill: KillPoint,
                 stderr: Path) -> subprocess.Popen[bytes]:
    after = "1" if kill == KillPoint.AFTER_WORK else "0"
    with stderr.open("wb") as errors:
        return subprocess.Popen(
            [sys.executable, "-c", CHILD, str(source), keys.prefix, VICTIM, after],
            env={**os.environ, URL_VARIABLE: url}, stdout=subprocess.DEVNULL, stderr=errors)


def _why_not_reached(returncode: int, deadline_s: float, stderr: Path) -> str:
    """Why the other process never got to the victim task, from how it ended."""
    if returncode == -signal.SIGKILL:
        return f"it did not get to {VICTIM} within {deadline_s:.0f} s"
    if returncode == 0:
        return f"work returned before it got to {VICTIM}: work until reserve_task answers None"
    lines = [line for line in stderr.read_text(errors="replace").splitlines() if line.strip()]
    return f"it stopped with {lines[-1].strip() if lines else f'exit code {returncode}'}"


def crash_drill(url: str, keys: KeySchema, namespace: Mapping[str, Any], *,
                kill: KillPoint = KillPoint.DURING, deadline_s: float = 30.0) -> Finding:
    """Drill 2 on the Redis at ``url`` (reachable from another process), under ``keys``."""
    try:
        source = worker_source(namespace)
    except WorkbookError as exc:
        return Finding(PART, Verdict.BROKE, f"your worker cannot run in another process: {exc}.")
    client = redis.Redis.from_url(url, decode_responses=True)
    try:
        return _run(_Drill(client, keys), url, namespace, source, kill, deadline_s)
    finally:
        client.close()


def _run(drill: _Drill, url: str, namespace: Mapping[str, Any], source: str, kill: KillPoint,
         deadline_s: float) -> Finding:
    for ident in TASKS:
        namespace["enqueue_task"](drill.client, drill.keys, {
            "id": ident, "type": "send_notifications",
            "payload": {"ticketId": 1, "usuarioId": 1, "tipo": "ticket_creado"}})
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "capstone_worker.py"
        # Annotations stay text: a name an annotation uses need not exist in the other process.
        path.write_text("from __future__ import annotations\n" + source, encoding="utf-8")
        stderr = Path(folder) / "stderr.txt"
        child = _start_child(path, url, drill.keys, kill, stderr)
        try:
            reached = drill.wait_for_victim(child, deadline_s)
        finally:
            if child.poll() is None:
                os.kill(child.pid, signal.SIGKILL)
            child.wait()
        if not reached:
            why = _why_not_reached(child.returncode, deadline_s, stderr)
            return Finding(PART, Verdict.BROKE, f"the worker in another process never started "
                           f"the task the drill kills it on - {why}.")
    return _recover_and_judge(drill, namespace, kill)


def _recover_and_judge(drill: _Drill, namespace: Mapping[str, Any], kill: KillPoint
                       ) -> Finding:
    first = [str(ident) for ident in drill.client.lrange(drill.started, 0, -1)]
    held = drill.holding(VICTIM)
    where = (f"in {held[0].removeprefix(drill.keys.prefix)}" if held
             else "in no list at all - only in the dead worker's memory")
    steps = [f"1. worker drill-w1, another process, started {', '.join(first)} and was "
             f"killed (SIGKILL) on {VICTIM} {kill}",
             f"2. at that moment {VICTIM} was {where}"]
    moved = namespace["recover_tasks"](drill.client, drill.keys, "drill-w1")
    steps.append(f"3. recover_tasks('drill-w1') -> {moved!r}")
    namespace["work"](drill.client, drill.keys, "drill-w2", drill.handle)
    again = [str(ident) for ident in drill.client.lrange(drill.started, len(first), -1)]
    steps.append(f"4. worker drill-w2 ran {', '.join(again) or 'nothing'}")
    done = drill.done_counts()
    lost = [ident for ident, count in done.items() if count == 0]
    left = {ident: drill.holding(ident) for ident in TASKS if drill.holding(ident)}
    runs = ", ".join(f"{ident} {count}x" for ident, count in done.items())
    steps.append(f"5. done: {runs}")
    if lost and not held and VICTIM in lost:
        why = (f"{VICTIM} was lost: when the worker died it was in no list, so nothing could "
               "bring it back. Take a task into the worker's own list in the same command "
               "(LMOVE), and ack it only once its work is done (lesson 07).")
    elif lost:
        where_now = "; ".join(f"{i} in {', '.join(k.removeprefix(drill.keys.prefix) for k in v)}"
                              for i, v in left.items()) or "no list holds it"
        why = (f"{', '.join(lost)} never got done ({where_now}): recover_tasks must move "
               "every task of the dead worker's list back to tasks:pending.")
    elif left:
        why = (f"every task was done, but lists still hold {sorted(left)}: a recovered task "
               "must leave the dead worker's list (move it, do not copy it).")
    else:
        twice = [ident for ident, count in done.items() if count > 1]
        extra = (f"; {', '.join(twice)} ran to the end twice - at least once, not exactly "
                 "once: its handler must not mind" if twice else "")
        return Finding(PART, Verdict.HELD, f"{len(TASKS)} tasks, each done, none lost: "
                       f"{VICTIM}, interrupted, was recovered and run again{extra}.",
                       tuple(steps))
    return Finding(PART, Verdict.BROKE, why, tuple(steps))
