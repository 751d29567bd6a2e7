"""The capstone's own checks: ticket reads through the cache, and the worker loop (lesson 19).

The capstone asks for everything the lessons' pieces do (their checks run as they are) and
for two functions no lesson asked for, checked here the same way - step by step, judging what
Redis and the database hold afterwards and what the function returned, never how:

* ``get_ticket(store, client, keys, ticket_id)``: the seed's ``obtenerTicket``, cache-aside
  with the seed's TTL (``GET``; on a miss the database, then ``SET ... EX 300``);
* ``work(client, keys, worker_id, handle)``: the seed's ``procesarTareas`` on the reliable
  queue - take each task into the worker's own list, ``handle`` it, then ack it - until the
  queue is empty; how many it did.

The third, ``handle_task`` (the three task types), is in :mod:`.task_checks`.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

from ...cache import Cache
from ...db import HelpdeskStore
from ...db.sample import SAMPLE_NOW
from ...models import Ticket
from ..output import capture_logs
from .cache_checks import NO_SUCH_TICKET, expires_like_the_seed
from .steps import Pieces, Steps, Workspace

__all__ = ["SAMPLE_NOW_MS", "check_ticket_reads", "check_worker", "decoded", "task_ids"]

#: The sample's "now" as a task's timestamp: milliseconds since 1970, the seed's Date.now().
SAMPLE_NOW_MS = int(SAMPLE_NOW.timestamp() * 1000)


class _CountingStore:
    """The store, counting the ticket reads a piece asks of it."""

    def __init__(self, store: HelpdeskStore) -> None:
        self._store = store
        self.reads = 0

    def get_ticket(self, ticket_id: int) -> Ticket | None:
        self.reads += 1
        return self._store.get_ticket(ticket_id)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


def decoded(text: Any) -> Any:
    """``text`` as JSON, or None when it is not JSON."""
    try:
        return json.loads(text)
    except (TypeError, ValueError):
        return None


def task_ids(entries: list[Any]) -> list[Any]:
    """The ``id`` of each task entry (JSON text or dict); an entry that is no task shows as
    itself."""
    found = []
    for entry in entries:
        task = decoded(entry) if isinstance(entry, str | bytes) else entry
        found.append(task.get("id", task) if isinstance(task, dict) else entry)
    return found


# --- get_ticket -----------------------------------------------------------------------------
def check_ticket_reads(pieces: Pieces, ws: Workspace) -> list[str]:
    """The seed's obtenerTicket: a miss reads the database and caches, a hit does not."""
    run = Steps(pieces)
    ticket_id = ws.store.counts()["tickets"] - 3  # none of the lesson's cells reads it
    key = ws.keys.ticket(ticket_id)
    row = ws.store.get_ticket(ticket_id)
    assert row is not None
    counting = _CountingStore(ws.store)
    with run.step("a miss reads the database and returns the ticket as a dict"):
        first = run.call("get_ticket", counting, ws.client, ws.keys, ticket_id)
        run.expect(not isinstance(first, str | bytes), "get_ticket returned the JSON text: "
                   "decode it (json.loads) and return the dict.")
        run.expect(counting.reads == 1, f"one miss read the database {counting.reads} "
                   "times: when GET answers nil, read store.get_ticket(ticket_id) once.")
        run.expect(isinstance(first, dict), f"get_ticket returned {first!r}: return the "
                   "ticket as a dict (at least its id, title and status).")
        same = {name: first.get(name) for name in ("id", "title", "status")}
        run.expect(same == {"id": row.id, "title": row.title, "status": row.status},
                   f"get_ticket returned {same} for ticket {ticket_id}: the dict must hold "
                   f"the row's id, title and status ({row.status!r}).")
    with run.step("the ticket is cached under keys.ticket(id), as JSON"):
        stored = decoded(ws.client.get(key))
        written = sorted(str(k) for k in ws.client.scan_iter(match=f"{ws.keys.prefix}*"))
        run.expect(bool(written), f"Redis holds no key at all after a miss: store the ticket "
                   f"under {key!r} (keys.ticket(ticket_id)) for the next reader.")
        run.expect(ws.client.exists(key) == 1, f"there is no key {key!r} after a miss (Redis "
                   f"has {written[0]!r}): build it with keys.ticket(ticket_id).")
        run.expect(isinstance(stored, dict) and stored.get("status") == row.status,
                   f"{key!r} does not hold the ticket as JSON with its status: store "
                   "json.dumps of the dict you return.")
    with run.step("it expires like the seed's (EX 300)"):
        expires_like_the_seed(run, ws, key)
    with run.step("a hit answers from Redis, without the database"):
        again = run.call("get_ticket", counting, ws.client, ws.keys, ticket_id)
        run.expect(counting.reads == 1, "the second read of the same ticket asked the "
                   "database again: when GET finds the key, return what it holds.")
        run.expect(again == first, f"the hit returned {again!r}, not what the miss "
                   f"returned ({first!r}): return the cached JSON, decoded.")
    with run.step("a ticket that does not exist is None"):
        for _ in range(2):
            missing = run.call("get_ticket", ws.store, ws.client, ws.keys, NO_SUCH_TICKET)
            run.expect(missing is None, f"get_ticket of a ticket that does not exist returned "
                       f"{missing!r}: return None, as store.get_ticket does.")
    with run.step("after an update and its invalidation, the next read sees the new row"):
        status = "waiting" if row.status != "waiting" else "in_progress"
        ws.store.update_ticket(ticket_id, status=status)
        with capture_logs():
            Cache(ws.client, ws.keys).invalidate_ticket(ticket_id)  # DEL, and the generation
        fresh = run.call("get_ticket", ws.store, ws.client, ws.keys, ticket_id)
        run.expect(isinstance(fresh, dict) and fresh.get("status") == status, "after the "
                   f"database said {status!r} and the key was deleted, get_ticket returned "
                   f"{fresh!r}: a miss must read the database again.")
    return run.done


# --- work -----------------------------------------------------------------------------------
def _task(number: int) -> dict[str, Any]:
    """A task as enqueue_task writes it (with its timestamp), for the worker to take."""
    return {"id": f"work-{number}", "type": "send_notifications", "timestamp": SAMPLE_NOW_MS,
            "payload": {"ticketId": number, "usuarioId": 1, "tipo": "ticket_creado"}}


def _push(ws: Workspace, *numbers: int) -> None:
    ws.client.rpush(ws.keys.tasks_pending, *(json.dumps(_task(n)) for n in numbers))


class _Recorder:
    """A ``handle`` that notes each task, and which lists held it while it ran."""

    def __init__(self, ws: Workspace, worker_id: str, fail_on: str = "") -> None:
        self.ws = ws
        self.mine = ws.keys.tasks_processing(worker_id)
        self.fail_on = fail_on
        self.tasks: list[Any] = []
        self.held: list[bool] = []

    def __call__(self, task: Any) -> None:
        self.tasks.append(task)
        ident = task.get("id") if isinstance(task, dict) else None
        self.held.append(ident in task_ids(self.ws.client.lrange(self.mine, 0, -1)))
        if ident == self.fail_on:
            raise RuntimeError(f"the handler of {ident} failed")


def check_worker(pieces: Pieces, ws: Workspace) -> list[str]:
    """procesarTareas, reliably: take into w1's list, handle, ack; until the queue is empty."""
    run = Steps(pieces)
    pending = ws.keys.tasks_pending
    mine = ws.keys.tasks_processing("w1")
    with run.step("an empty queue: work returns 0 and handles nothing"):
        handle = _Recorder(ws, "w1")
        done = run.call("work", ws.client, ws.keys, "w1", handle)
        run.expect(not handle.tasks, f"work called handle with {handle.tasks[:1]} on an empty "
                   "queue: when reserve_task answers None there is nothing to do.")
        run.expect(done == 0, f"work returned {done!r} for an empty queue: return how many "
                   "tasks it did (0).")
    with run.step("work hands every task to handle, oldest first, as a dict"):
        _push(ws, 1, 2, 3)
        handle = _Recorder(ws, "w1")
        done = run.call("work", ws.client, ws.keys, "w1", handle)
        run.expect(all(isinstance(task, dict) for task in handle.tasks), "handle got "
                   f"{str(handle.tasks[:1])[:60]}: decode the text you took (json.loads) and "
                   "hand handle the task as a dict.")
        run.expect(task_ids(handle.tasks) == ["work-1", "work-2", "work-3"], "handle got "
                   f"{task_ids(handle.tasks)}: take every task, from the head of the queue, "
                   "until reserve_task answers None.")
        run.expect(done == 3, f"work returned {done!r} after doing 3 tasks: return the count.")
    with run.step("while handle runs, the task is in this worker's processing list"):
        run.expect(all(handle.held), f"while handle ran, a task was not in {mine!r}: take "
                   "each task with reserve_task (LMOVE into the worker's own list), never by "
                   "popping it, and ack it only after handle returns - if the worker dies "
                   "mid-task, that list is where the task survives.")
    with run.step("afterwards every task is acked: no list holds one"):
        left = task_ids(ws.client.lrange(mine, 0, -1))
        run.expect(not left, f"{mine!r} still holds {left} after work returned: ack each task "
                   "(ack_task) once handle has returned.")
        run.expect(not ws.client.exists(pending), "tasks:pending is not empty after work "
                   "returned: work until reserve_task answers None.")
    with run.step("a task whose handle fails is not acked"):
        _push(ws, 4)
        handle = _Recorder(ws, "w1", fail_on="work-4")
        with contextlib.suppress(Exception):  # letting the handler's error out is allowed
            pieces["work"](ws.client, ws.keys, "w1", handle)
        kept = task_ids(ws.client.lrange(mine, 0, -1) + ws.client.lrange(pending, 0, -1))
        run.expect("work-4" in kept, "the task whose handle raised is in no list any more: "
                   "it was acked although its work failed, and nobody will run it again. Ack "
                   "only after handle returned without an error.")
    return run.done
