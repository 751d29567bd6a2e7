"""The conformance checks of the queue pieces: lessons 06 (the seed's queue) and 07 (reliable).

Lesson 06's pieces are the seed's ``enqueueTask`` / ``dequeueTask``: ``RPUSH`` the task's JSON
with a timestamp onto ``tasks:pending``, ``LPOP`` the oldest. Lesson 07's are redis.io's
reliable-queue pattern (the ``LMOVE`` page): take a task with ``LMOVE`` into the worker's own
processing list, ack it with ``LREM`` once its work is done, and move what a dead worker left
in its list back to the queue. As for the cache pieces, a check judges what Redis holds
afterwards - which list has which entry, in which order - never how the piece got there, and
it always speaks the kit's format too: a task the kit's queue pushed must come out of the
learner's pieces, and a task theirs pushed must be one the kit's worker can run.
"""

from __future__ import annotations

import json
from typing import Any

from ...app import REGISTRY, helpdesk_queue
from ...errors import TaskValidationError
from ...queue import Task
from .steps import Pieces, Steps, Workspace

__all__ = ["check_queue", "check_reliable", "sample_task"]

#: Milliseconds since the epoch lie between these two (2001 to 2286): seconds are far below.
MS_FROM = 10**12
MS_UNTIL = 10**13


def sample_task(number: int) -> dict[str, Any]:
    """A task as the app hands it to ``enqueue_task``: the kit's id, the seed's type and
    payload (a notification of ticket ``number``); ``enqueue_task`` adds the timestamp."""
    return {"id": f"task-{number:04d}", "type": "send_notifications",
            "payload": {"ticketId": number, "usuarioId": 1, "tipo": "ticket_creado"}}


def _entries(ws: Workspace, key: str) -> list[str]:
    return [str(entry) for entry in ws.client.lrange(key, 0, -1)]


def _decoded(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None


def _names(tasks: list[Any]) -> list[Any]:
    """The tasks' ids, to say which came out (a value that is no task shows as itself)."""
    return [task.get("id", task) if isinstance(task, dict) else task for task in tasks]


# --- lesson 06: enqueue_task / dequeue_task -----------------------------------------------
def check_queue(pieces: Pieces, ws: Workspace) -> list[str]:
    """The seed's queue: RPUSH a task's JSON with a timestamp, LPOP the oldest, None when empty."""
    run = Steps(pieces)
    pending = ws.keys.tasks_pending
    first, second, third = (sample_task(n) for n in (1, 2, 3))
    with run.step("an empty queue gives None"):
        found = run.call("dequeue_task", ws.client, ws.keys)
        run.expect(found is None, f"dequeue_task returned {found!r} from an empty queue: when "
                   "LPOP answers nil (None in redis-py), return None - the worker stops there.")
    with run.step("enqueue_task pushes one entry onto tasks:pending"):
        run.call("enqueue_task", ws.client, ws.keys, dict(first))
        written = sorted(str(k) for k in ws.client.scan_iter(match=f"{ws.keys.prefix}*"))
        where = f" (Redis has {written[0]!r})" if written else ""
        run.expect(int(ws.client.llen(pending)) == 1, f"there is no entry in the list "
                   f"{pending!r} after one enqueue_task{where}: push onto keys.tasks_pending.")
    with run.step("the entry is the task as JSON, with a timestamp in milliseconds"):
        entry = _entries(ws, pending)[0]
        stored = _decoded(entry)
        run.expect(isinstance(stored, dict), f"the entry is {entry[:60]!r}, which is not a "
                   "JSON object: push json.dumps of the task, so any worker can read it.")
        missing = [name for name, value in first.items() if stored.get(name) != value]
        run.expect(not missing, f"the entry's {', '.join(missing)} is not the task's: keep "
                   "everything in the task you were given (the seed spreads it: ...task) - "
                   "the id is how a handler knows a task it has already done.")
        stamp = stored.get("timestamp")
        run.expect(isinstance(stamp, int) and not isinstance(stamp, bool),
                   f"the entry's timestamp is {stamp!r}: add the moment of the push as a whole "
                   "number of milliseconds, the seed's Date.now().")
        run.expect(MS_FROM <= stamp < MS_UNTIL, f"the timestamp {stamp} is not in "
                   "milliseconds since 1970 (seconds, as time.time() gives, are a thousand "
                   "times fewer): the seed's Date.now() counts milliseconds.")
    with run.step("tasks come out oldest first, and taking one removes it"):
        run.call("enqueue_task", ws.client, ws.keys, dict(second))
        run.call("enqueue_task", ws.client, ws.keys, dict(third))
        stored_by_id = {task.get("id"): task for task in map(_decoded, _entries(ws, pending))
                        if isinstance(task, dict)}
        expected = [stored_by_id.get(task["id"]) for task in (first, second, third)]
        taken = []
        for left in (2, 1, 0):
            task = run.call("dequeue_task", ws.client, ws.keys)
            run.expect(not isinstance(task, str | bytes), "dequeue_task returned the JSON "
                       "text: decode it (json.loads, the seed's JSON.parse) and return the dict.")
            taken.append(task)
            run.expect(int(ws.client.llen(pending)) == left, "dequeue_task returned a task "
                       "but left it on the list: take it off (the seed's LPOP), or every "
                       "worker would run it again.")
        run.expect(taken == expected, f"the tasks came out as {_names(taken)}, not "
                   f"{_names(expected)}: push at the tail and take from the head, so the "
                   "oldest task goes first (a queue, not a stack).")
    with run.step("timestamps never go backwards"):
        stamps = [task.get("timestamp") for task in taken]
        run.expect(stamps == sorted(stamps), f"the three tasks were stamped {stamps}: stamp "
                   "each with the moment it is pushed.")
    with run.step("empty again: None"):
        found = run.call("dequeue_task", ws.client, ws.keys)
        run.expect(found is None, f"dequeue_task returned {found!r} once every task was taken.")
    with run.step("the kit's worker can run what enqueue_task pushed"):
        run.call("enqueue_task", ws.client, ws.keys, sample_task(4))
        raw = _entries(ws, pending)[-1]
        try:
            task = Task.from_json(raw)
            REGISTRY.validate(task.type, task.payload)
        except TaskValidationError as exc:
            run.expect(False, f"the kit's worker cannot read {raw[:60]!r}: {exc}.")
        run.expect(task.id == "task-0004", "the kit's worker read another id than the task's: "
                   "keep the field 'id' as it was given.")
        ws.client.delete(pending)
    with run.step("dequeue_task reads what the kit's queue pushed"):
        pushed = helpdesk_queue(ws.client, ws.keys).enqueue("close_inactive_tickets",
                                                            {"days": 30})
        found = run.call("dequeue_task", ws.client, ws.keys)
        run.expect(found == json.loads(pushed.raw or ""), f"dequeue_task returned {found!r} "
                   "for a task the kit's queue pushed: the same list, the same JSON - return "
                   "it as json.loads gives it.")
    return run.done


# --- lesson 07: reserve_task / ack_task / recover_tasks -----------------------------------
def _lists_holding(ws: Workspace, text: str) -> list[str]:
    """The lists under the workspace's prefix that hold ``text``."""
    found = []
    for key in ws.client.scan_iter(match=f"{ws.keys.prefix}*", count=100):
        if ws.client.type(key) == "list" and text in _entries(ws, str(key)):
            found.append(str(key))
    return sorted(found)


def check_reliable(pieces: Pieces, ws: Workspace) -> list[str]:
    """redis.io's reliable queue: LMOVE into a processing list, LREM to ack, recovery."""
    run = Steps(pieces)
    pending = ws.keys.tasks_pending
    mine = ws.keys.tasks_processing("w1")
    dead = ws.keys.tasks_processing("w2")

    def enqueue(*numbers: int) -> list[str]:
        for number in numbers:
            run.call("enqueue_task", ws.client, ws.keys, sample_task(number))
        return _entries(ws, pending)

    def ids(key: str) -> list[Any]:
        return _names([_decoded(text) for text in _entries(ws, key)])

    with run.step("an empty queue gives None and moves nothing"):
        found = run.call("reserve_task", ws.client, ws.keys, "w1")
        run.expect(found is None, f"reserve_task returned {found!r} from an empty queue: "
                   "LMOVE answers nil (None) when there is nothing to move; return that.")
        run.expect(not ws.client.exists(mine), "reserving from an empty queue created the "
                   "processing list: move a task only when there is one.")
    with run.step("reserve_task moves the oldest task into the worker's processing list"):
        entries = enqueue(1, 2)
        run.expect(len(entries) == 2, f"two enqueue_task calls left {len(entries)} entries "
                   "in tasks:pending: lesson 06's pieces must pass their check first.")
        first, second = entries
        held = run.call("reserve_task", ws.client, ws.keys, "w1")
        where = _lists_holding(ws, first)
        run.expect(where != [pending], "the task is still in tasks:pending: move it (LMOVE "
                   "from the head of tasks:pending).")
        run.expect(bool(where), "the task left tasks:pending and is in no list at all - "
                   "popped, as the seed's LPOP does: if the worker dies now, it is lost. Move "
                   "it into keys.tasks_processing(worker_id) in the same command (LMOVE).")
        run.expect(where == [mine], f"the task is in {where[0]!r}: each worker has its own "
                   "processing list, keys.tasks_processing(worker_id).")
        run.expect(_entries(ws, pending) == [second], f"tasks:pending holds {ids(pending)} "
                   f"and {mine!r} holds {ids(mine)}: take the oldest task (the head, LEFT).")
    with run.step("it returns the task's text exactly as Redis holds it"):
        run.expect(held == first, f"reserve_task returned {str(held)[:60]!r}: return the "
                   "element LMOVE gives, the text itself - the ack must name the very same text "
                   "for LREM to find it (a dict dumped again may differ by a space).")
    with run.step("ack_task removes that task, and the others stay"):
        other = run.call("reserve_task", ws.client, ws.keys, "w1")
        run.call("ack_task", ws.client, ws.keys, "w1", held)
        left = _entries(ws, mine)
        run.expect(first not in left, f"the acked task is still in {mine!r}: remove it (LREM) "
                   "from this worker's processing list once its work is done.")
        run.expect(left == [other], f"{mine!r} holds {len(left)} task(s) after one ack of "
                   "two: the task not acked yet must stay until its own work is done.")
        run.expect(not ws.client.exists(pending), "after an ack, tasks:pending is not empty: "
                   "an ack only removes from the processing list.")
        run.call("ack_task", ws.client, ws.keys, "w1", other)
    with run.step("an ack removes one copy of a text, not every equal one"):
        twice = json.dumps(sample_task(5))  # the same task pushed twice: both copies must run
        ws.client.rpush(pending, twice, twice)
        held = run.call("reserve_task", ws.client, ws.keys, "w1")
        run.call("reserve_task", ws.client, ws.keys, "w1")
        run.call("ack_task", ws.client, ws.keys, "w1", held)
        left = _entries(ws, mine)
        run.expect(left != [twice, twice], "the ack removed nothing: LREM finds only an element "
                   "equal to the text it is given - pass the text you were given, as it is.")
        run.expect(left == [twice], "one ack removed both copies of the same text: LREM with a "
                   "count of 0 removes every equal element, and the second copy's work is not "
                   "done yet. Remove one (a count of 1).")
        run.call("ack_task", ws.client, ws.keys, "w1", held)
    with run.step("a worker that dies keeps what it took in its own list"):
        entries = enqueue(3, 4, 5)
        run.expect(len(entries) == 3, "three enqueue_task calls did not leave three entries.")
        third, fourth, fifth = entries
        run.call("reserve_task", ws.client, ws.keys, "w2")
        run.call("reserve_task", ws.client, ws.keys, "w2")
        ws.client.rpush(mine, "a task w1 still holds")
        run.expect(_entries(ws, dead) == [third, fourth], f"worker w2 reserved twice and its "
                   f"list {dead!r} holds {ids(dead)}: each reserve moves the next oldest task "
                   "to the end of the worker's list (RIGHT), so the list keeps their order.")
    with run.step("recover_tasks returns a dead worker's tasks to the front, in order"):
        moved = run.call("recover_tasks", ws.client, ws.keys, "w2")
        back = _entries(ws, pending)
        run.expect(not ws.client.exists(dead), f"{dead!r} still holds tasks after the "
                   "recovery: move every one of them back (until LMOVE answers nil).")
        run.expect(sorted(back) == sorted([third, fourth, fifth]), "after the recovery, "
                   f"tasks:pending holds {len(back)} task(s), not the 3 there are: each task "
                   "must end up in exactly one list (move them, one LMOVE each).")
        run.expect(back == [third, fourth, fifth], "the recovered tasks are back, but "
                   f"tasks:pending now runs {ids(pending)}: they were taken first, so they go "
                   "back to the front (LEFT), in the order they were taken - move from the end "
                   "of the processing list (RIGHT).")
        run.expect(moved == 2, f"recover_tasks returned {moved!r}: return how many tasks it "
                   "moved back (2 here).")
    with run.step("only that worker's list is touched"):
        run.expect(_entries(ws, mine) == ["a task w1 still holds"], "recover_tasks('w2') "
                   "changed w1's processing list: w1 is alive and working on it.")
    with run.step("a worker that holds nothing gives nothing back"):
        moved = run.call("recover_tasks", ws.client, ws.keys, "w3")
        run.expect(moved == 0 and _entries(ws, pending) == [third, fourth, fifth],
                   f"recover_tasks of a worker with no processing list returned {moved!r} or "
                   "changed tasks:pending: there is nothing to move, return 0.")
    return run.done
