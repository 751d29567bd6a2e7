"""The capstone's check of ``handle_task(store, client, keys, task)``: the seed's three tasks.

The seed's ``procesarTareas`` switches on ``task.type``; the capstone's ``handle_task`` is
that switch, doing the work of each type on the database (and on Redis where the cache must
hear of it). The check runs it on a scratch database and the kit's own handlers
(:mod:`helpdesk_kit.app.handlers`) on a twin of it, then compares the two: the same tickets
closed, at the same moment; the same comments archived. And since the reliable queue delivers
*at least once*, each task runs twice: the second run must change nothing more - and must
finish what a first run that died half-way left undone.
"""

from __future__ import annotations

import json
from typing import Any

from ...app import REGISTRY, TaskContext
from ...db import HelpdeskStore
from ...db.sample import SAMPLE_NOW
from ...keys import KeySchema
from ...queue import Task
from .capstone_checks import SAMPLE_NOW_MS
from .steps import Pieces, Steps, Workspace

__all__ = ["check_tasks"]

#: What the check hands to each task type.
CLOSE_DAYS = 7
ARCHIVE_DAYS = 90


def _task(number: int, kind: str, payload: dict[str, Any]) -> dict[str, Any]:
    """A task as the queue hands it to a worker: enqueued at the sample's "now"."""
    return {"id": f"task-{number}", "type": kind, "payload": payload, "timestamp": SAMPLE_NOW_MS}


def _kit_runs(twin: HelpdeskStore, task: dict[str, Any]) -> None:
    """The kit's handler of ``task``, on the twin database (nothing cached there)."""
    parsed = Task.from_json(json.dumps(task))
    REGISTRY.get(parsed.type).handler(TaskContext(twin, keys=KeySchema()), parsed)


def _tickets(store: HelpdeskStore) -> dict[int, tuple[str, str]]:
    """Every ticket's (status, last change) by id."""
    return {t.id: (t.status, t.updated_at.isoformat())
            for t in store.list_tickets(limit=1_000_000)}


def _comments(store: HelpdeskStore) -> tuple[int, int]:
    counts = store.counts()
    return counts["interactions"], counts["interactions_archive"]


def _closing_differs(before: dict[int, tuple[str, str]], yours: dict[int, tuple[str, str]],
                     kits: dict[int, tuple[str, str]]) -> str:
    """Why the tickets differ after close_inactive_tickets, in the learner's terms."""
    closed_now = [i for i, (status, _) in yours.items()
                  if status == "closed" and before[i][0] != "closed"]
    stamps = {yours[i][1] for i in closed_now}
    if stamps and stamps != {SAMPLE_NOW.isoformat()}:
        return (f"{len(closed_now)} tickets were closed, stamped with another time than the "
                "task's: 'now' is the task's timestamp (milliseconds since 1970, the seed's "
                "Date.now()), not the clock - so a task run again later does the very same "
                "work, and closes what was inactive when it was enqueued.")
    closed_kits = [i for i, (status, _) in kits.items()
                   if status == "closed" and before[i][0] != "closed"]
    return (f"{len(closed_now)} tickets were closed, the kit's handler closes "
            f"{len(closed_kits)}: close the tickets not closed yet whose last change "
            "(updated_at) is older than now minus the payload's days "
            "(store.close_inactive_tickets(cutoff, now)).")


def check_tasks(pieces: Pieces, ws: Workspace, twin: HelpdeskStore) -> list[str]:
    """The three task types, each run twice, against the kit's handlers on ``twin``.

    ``ws.store`` and ``twin`` must start as two copies of the same database.
    """
    run = Steps(pieces)
    close = _task(1, "close_inactive_tickets", {"days": CLOSE_DAYS})
    before = _tickets(ws.store)
    _kit_runs(twin, close)
    expected = _tickets(twin)
    closing = [i for i in sorted(expected) if expected[i][0] != before[i][0]][:3]
    staying = [i for i in sorted(expected) if expected[i][0] != "closed"][:2]
    for ticket_id in closing + staying:
        ws.client.set(ws.keys.ticket(ticket_id), json.dumps({"id": ticket_id}), ex=300)
    with run.step("close_inactive_tickets closes what the kit's handler closes"):
        run.call("handle_task", ws.store, ws.client, ws.keys, dict(close))
        yours = _tickets(ws.store)
        run.expect(yours == expected, _closing_differs(before, yours, expected))
    with run.step("the closed tickets leave the cache, the others stay"):
        cached = [i for i in closing if ws.client.exists(ws.keys.ticket(i))]
        run.expect(not cached, f"ticket {cached[:1]} is closed in the database but still "
                   "cached as it was: invalidate every ticket the task closed, or readers see "
                   "it open for up to 300 s.")
        gone = [i for i in staying if not ws.client.exists(ws.keys.ticket(i))]
        run.expect(not gone, f"ticket {gone[:1]}, still open, left the cache too: invalidate "
                   "the closed tickets only.")
    with run.step("run again, it finishes what a first run left half done"):
        ws.client.set(ws.keys.ticket(closing[0]), json.dumps({"id": closing[0]}), ex=300)
        run.call("handle_task", ws.store, ws.client, ws.keys, dict(close))
        run.expect(_tickets(ws.store) == expected, "a second run of the same task changed the "
                   "database again: it must find nothing more to close.")
        run.expect(not ws.client.exists(ws.keys.ticket(closing[0])), f"ticket {closing[0]} "
                   "was closed by a first run that died before its invalidation, and the "
                   "second run left its old copy in the cache: a retry closes nothing new, so "
                   "find the tickets this run's 'now' closed (store.tickets_closed_at(now)) "
                   "and invalidate those.")
    notify = _task(2, "send_notifications",
                   {"ticketId": closing[0], "usuarioId": 1, "tipo": "ticket_cerrado"})
    recorded = ws.store.notification_count()
    with run.step("send_notifications records the notification"):
        run.call("handle_task", ws.store, ws.client, ws.keys, dict(notify))
        added = ws.store.notification_count() - recorded
        run.expect(added == 1, f"send_notifications recorded {added} notification(s): record "
                   "one (store.record_notification).")
    with run.step("the same task run twice records it once"):
        run.call("handle_task", ws.store, ws.client, ws.keys, dict(notify))
        added = ws.store.notification_count() - recorded
        run.expect(added == 1, "the same task, delivered twice (at least once), recorded "
                   f"{added} notifications: record it under the task's id "
                   "(store.record_notification(..., task_id)), which the database keeps once.")
        other = _task(3, "send_notifications", dict(notify["payload"]))
        run.call("handle_task", ws.store, ws.client, ws.keys, other)
        added = ws.store.notification_count() - recorded
        run.expect(added == 2, "two tasks with the same payload are two notifications: tell "
                   "repeats apart by the task's id, not by what it says.")
    archive = _task(4, "archive_old_interactions", {"days": ARCHIVE_DAYS})
    _kit_runs(twin, archive)
    with run.step("archive_old_interactions moves what the kit's handler moves"):
        run.call("handle_task", ws.store, ws.client, ws.keys, dict(archive))
        left, archived = _comments(ws.store)
        run.expect((left, archived) == _comments(twin), f"{archived} comments archived and "
                   f"{left} left; the kit's handler archives {_comments(twin)[1]}: move every "
                   "comment older than now minus the payload's days "
                   "(store.archive_interactions_batch, until it moves none).")
    with run.step("run again, it moves nothing more"):
        run.call("handle_task", ws.store, ws.client, ws.keys, dict(archive))
        run.expect(_comments(ws.store) == _comments(twin), "a second run archived more.")
    with run.step("a task of an unknown type is an error"):
        unknown = _task(5, "reindex_everything", {})
        try:
            pieces["handle_task"](ws.store, ws.client, ws.keys, unknown)
        except Exception:  # noqa: S110 - any error will do: the worker must not ack it
            pass
        else:
            run.expect(False, "a task of the type 'reindex_everything' came back as if done: "
                       "raise an error instead, so the worker does not ack a task nobody ran "
                       "(the seed's switch forgets it without a word).")
    return run.done
