"""The conformance suite of the learner's pieces: one suite, every implementation, both backends.

The kit's own pieces (``conformance.reference``, a thin adapter over ``Cache``) and the
solutions in ``notebooks/solutions/`` pass every lesson's check on a real redis-server and on
fakeredis; pieces with the usual mistakes break at the step that names the mistake; and the
app runs on the solutions' pieces (each call reaches them).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest
from test_solutions import SOLUTIONS, load_solution

from helpdesk_kit.lessons import Lesson
from helpdesk_kit.lessons.checks import sandbox
from helpdesk_kit.lessons.conformance import (
    CHECKS,
    KIT,
    PIECES,
    ConformanceError,
    Workspace,
    from_module,
    pieces_of,
    verify,
)
from helpdesk_kit.lessons.helpdesk import Choice, Helpdesk


def solution_pieces() -> dict[str, Callable[..., Any]]:
    """Every piece the solutions define, from every lesson that asks for pieces."""
    found: dict[str, Callable[..., Any]] = {}
    for lesson in CHECKS:
        found.update(from_module(load_solution(SOLUTIONS / f"lesson{lesson}.py")))
    return found


IMPLEMENTATIONS = {"kit": lambda: KIT, "solutions": solution_pieces}


def spied_solutions(calls: list[str]) -> Helpdesk:
    """Every solution piece as the learner's, each call noted in ``calls`` by piece name."""
    pieces = solution_pieces()

    def spy(name: str) -> Callable[..., Any]:
        def called(*args: Any, **kwargs: Any) -> Any:
            calls.append(name)
            return pieces[name](*args, **kwargs)
        return called

    return Helpdesk([Choice(p, spy(p.name), True, "solutions") for p in PIECES], "test")


@pytest.fixture
def lesson(open_lesson: Callable[..., Lesson]) -> Lesson:
    return open_lesson("04_cache_warming", users=30, tickets=200)


def workspace(lesson: Lesson) -> Workspace:
    return Workspace(lesson.client, sandbox(lesson, "conformance"), lesson.store)


def test_every_piece_has_a_check_a_reference_and_a_solution() -> None:
    pieces = solution_pieces()
    for piece in PIECES:
        assert piece.lesson in CHECKS, piece
        assert callable(KIT.get(piece.name)), f"the kit has no reference {piece.name}"
        assert callable(pieces.get(piece.name)), f"no solution defines {piece.name}"


@pytest.mark.parametrize("implementation", sorted(IMPLEMENTATIONS))
@pytest.mark.parametrize("number", sorted(CHECKS))
def test_the_implementation_passes_every_step(implementation: str, number: str,
                                              lesson: Lesson) -> None:
    pieces = IMPLEMENTATIONS[implementation]()
    done = verify(number, {p.name: pieces[p.name] for p in pieces_of(number)},
                  workspace(lesson))
    assert len(done) >= 5, done
    done_again = verify(number, pieces, workspace(lesson))  # a re-run starts alike
    assert done_again == done


# --- pieces with the usual mistakes break at the step that names them ---------------------
def _no_ttl(client: Any, keys: Any, user_id: int, user_data: Any) -> None:
    client.set(keys.user(user_id), json.dumps(user_data))


def _raw_text(client: Any, keys: Any, user_id: int) -> Any:
    return client.get(keys.user(user_id))


def _flush_prefix(client: Any, keys: Any, user_id: int) -> None:
    for key in client.scan_iter(match=keys.prefix + "*"):
        client.delete(key)


def _delete_first(store: Any, client: Any, keys: Any, ticket_id: int, **changes: Any) -> Any:
    client.delete(keys.ticket(ticket_id))
    return store.update_ticket(ticket_id, **changes)


def _forgets_to_delete(store: Any, client: Any, keys: Any, ticket_id: int, **changes: Any
                       ) -> Any:
    return store.update_ticket(ticket_id, **changes)


def _one_by_one(client: Any, keys: Any, users: list[dict[str, Any]]) -> None:
    for user in users:
        client.set(keys.user(user["id"]), json.dumps(user), ex=300)


def _execute_per_user(client: Any, keys: Any, users: list[dict[str, Any]]) -> None:
    pipe = client.pipeline()
    for user in users:
        pipe.set(keys.user(user["id"]), json.dumps(user), ex=300)
        pipe.execute()


def _execute_every_ten(client: Any, keys: Any, users: list[dict[str, Any]]) -> None:
    pipe = client.pipeline()
    for number, user in enumerate(users, start=1):
        pipe.set(keys.user(user["id"]), json.dumps(user), ex=300)
        if number % 10 == 0:
            pipe.execute()
    pipe.execute()


def _lpush(client: Any, keys: Any, task: dict[str, Any]) -> None:
    client.lpush(keys.tasks_pending, json.dumps({**task, "timestamp": int(time.time() * 1000)}))


def _in_seconds(client: Any, keys: Any, task: dict[str, Any]) -> None:
    client.rpush(keys.tasks_pending, json.dumps({**task, "timestamp": int(time.time())}))


def _drops_the_id(client: Any, keys: Any, task: dict[str, Any]) -> None:
    entry = {"type": task["type"], "payload": task["payload"],
             "timestamp": int(time.time() * 1000)}
    client.rpush(keys.tasks_pending, json.dumps(entry))


def _text(client: Any, keys: Any) -> Any:
    return client.lpop(keys.tasks_pending)


def _peek(client: Any, keys: Any) -> Any:
    raw = client.lindex(keys.tasks_pending, 0)
    return None if raw is None else json.loads(raw)


def _pop(client: Any, keys: Any, worker_id: str) -> Any:
    return client.lpop(keys.tasks_pending)


def _as_dict(client: Any, keys: Any, worker_id: str) -> Any:
    raw = client.lmove(keys.tasks_pending, keys.tasks_processing(worker_id), "LEFT", "RIGHT")
    return None if raw is None else json.loads(raw)


def _one_list_for_all(client: Any, keys: Any, worker_id: str) -> Any:
    return client.lmove(keys.tasks_pending, keys.tasks_processing("all"), "LEFT", "RIGHT")


def _every_copy(client: Any, keys: Any, worker_id: str, raw: str) -> None:
    client.lrem(keys.tasks_processing(worker_id), 0, raw)


def _recovery(wherefrom: str, whereto: str) -> Callable[..., int]:
    """A recover_tasks that moves from ``wherefrom`` of the worker's list to ``whereto``."""
    def recover_tasks(client: Any, keys: Any, worker_id: str) -> int:
        moved = 0
        while client.lmove(keys.tasks_processing(worker_id), keys.tasks_pending, wherefrom,
                           whereto) is not None:
            moved += 1
        return moved
    return recover_tasks


# lesson 12: the notification listener
def _listener(*, envelope: bool = False, decode: bool = True, dedupe: bool = True,
              close: bool = True, stop: bool = True, channel: str | None = None
              ) -> Callable[..., None]:
    def listen_notifications(client: Any, keys: Any, on_notification: Any, halt: Any) -> None:
        pubsub = client.pubsub(ignore_subscribe_messages=True)
        pubsub.subscribe(channel or keys.notifications_channel)
        seen: set[str] = set()
        deadline = time.monotonic() + 5  # a listener that ignores stop ends after all
        while (not halt.is_set() or not stop) and time.monotonic() < deadline:
            message = pubsub.get_message(timeout=0.05)
            if message is None:
                continue
            if envelope:
                on_notification(message)
                continue
            if not decode:
                on_notification(message["data"])
                continue
            note = json.loads(message["data"])  # raises on what is not JSON
            if not isinstance(note, dict) or "taskId" not in note:
                continue
            if dedupe and note["taskId"] in seen:
                continue
            seen.add(note["taskId"])
            on_notification(note)
        if close:
            pubsub.close()
    return listen_notifications


def _tolerant(**options: Any) -> Callable[..., None]:
    """A listener that skips what is not JSON, with the other options of :func:`_listener`."""
    strict = _listener(**options)

    def listen_notifications(client: Any, keys: Any, on_notification: Any, halt: Any) -> None:
        def only_json(note: Any) -> None:
            on_notification(note)
        strict(_SkipsText(client), keys, only_json, halt)
    return listen_notifications


class _SkipsText:
    """A client whose pubsub drops messages that are not JSON (for :func:`_tolerant`)."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def pubsub(self, **options: Any) -> Any:
        inner = self._client.pubsub(**options)
        real = inner.get_message

        def get_message(**kwargs: Any) -> Any:
            message = real(**kwargs)
            if message is not None:
                try:
                    json.loads(message["data"])
                except ValueError:
                    return None
            return message
        inner.get_message = get_message
        return inner


# lesson 13: the rate limiter
def _python_limiter(client: Any, keys: Any, user_id: int, limit: int, window_ms: int) -> bool:
    key = keys.rate_limit("tickets", user_id)
    if int(client.get(key) or 0) >= limit:
        return False
    if client.incr(key) == 1:
        client.pexpire(key, window_ms)
    return True


def _incr_then_pexpire(client: Any, keys: Any, user_id: int, limit: int, window_ms: int
                       ) -> bool:
    key = keys.rate_limit("tickets", user_id)
    count = client.incr(key)
    if count == 1:
        client.pexpire(key, window_ms)
    return bool(count <= limit)


def _lua(expire: str, *, every_call: bool = False, refuse_at: str = ">") -> Callable[..., bool]:
    when = "true" if every_call else "count == 1"
    expiry = f"redis.call('{expire}', KEYS[1], ARGV[2])" if expire else ""
    script = (f"local count = redis.call('INCR', KEYS[1])\nif {when} then {expiry} end\n"
              f"if count {refuse_at} tonumber(ARGV[1]) then return 0 end\nreturn 1")

    def allow_ticket(client: Any, keys: Any, user_id: int, limit: int, window_ms: int) -> bool:
        return bool(client.eval(script, 1, keys.rate_limit("tickets", user_id), limit,
                                window_ms) == 1)
    return allow_ticket


# lesson 14: the stream consumer
def _consumer(*, own_pending: bool = True, claim_pages: int | None = None, ack: bool = True,
              skip_deleted: bool = True, ack_first: bool = False, returns: bool = True
              ) -> Callable[..., Any]:
    def consume_stream(client: Any, stream: str, group: str, consumer: str, handle: Any,
                       min_idle_ms: int) -> Any:
        handled = 0

        def run(entries: Any) -> None:
            nonlocal handled
            for entry_id, fields in entries:
                if ack_first:
                    client.xack(stream, group, entry_id)
                if fields or not skip_deleted:
                    handle(entry_id, fields)
                    handled += 1
                if ack and not ack_first:
                    client.xack(stream, group, entry_id)

        def drain(start: str) -> None:
            while reply := client.xreadgroup(group, consumer, {stream: start}, count=100):
                if not reply[0][1]:
                    return
                run(reply[0][1])
                if not ack:
                    return

        if own_pending:
            drain("0")
        cursor, pages = "0-0", 0
        while claim_pages is None or pages < claim_pages:
            reply = client.xautoclaim(stream, group, consumer, min_idle_ms, cursor)
            cursor, pages = reply[0], pages + 1
            run(reply[1])
            if cursor == "0-0":
                break
        drain(">")
        return handled if returns else None
    return consume_stream


@pytest.mark.parametrize(("number", "mistake", "step", "words"), [
    ("01", {"cache_user": _no_ttl}, 4, "never expires"),
    ("01", {"get_cached_user": _raw_text}, 5, "json.loads"),
    ("01", {"invalidate_user": _flush_prefix}, 6, "selective"),
    ("03", {"update_ticket": _forgets_to_delete}, 2, "still cached"),
    ("03", {"update_ticket": _delete_first}, 4, "before the database"),
    ("04", {"warm_users": _one_by_one}, 4, "one wait per user"),
    ("04", {"warm_users": _execute_per_user}, 4, "sent once per user"),
    ("04", {"warm_users": _execute_every_ten}, 4, "once at the end"),
    ("06", {"enqueue_task": _lpush}, 4, "oldest task goes first"),
    ("06", {"enqueue_task": _in_seconds}, 3, "milliseconds"),
    ("06", {"enqueue_task": _drops_the_id}, 3, "keep everything"),
    ("06", {"dequeue_task": _text}, 4, "json.loads"),
    ("06", {"dequeue_task": _peek}, 4, "left it on the list"),
    ("07", {"reserve_task": _pop}, 2, "in no list at all"),
    ("07", {"reserve_task": _one_list_for_all}, 2, "its own processing list"),
    ("07", {"reserve_task": _as_dict}, 3, "the text itself"),
    ("07", {"ack_task": _every_copy}, 5, "a count of 1"),
    ("07", {"recover_tasks": _recovery("LEFT", "RIGHT")}, 7, "back to the front"),
    ("07", {"recover_tasks": _recovery("LEFT", "LEFT")}, 7, "in the order they were taken"),
    ("12", {"listen_notifications": _listener(channel="notifications")}, 1, "nobody"),
    ("12", {"listen_notifications": _listener(envelope=True)}, 2, "envelope"),
    ("12", {"listen_notifications": _listener(decode=False)}, 2, "raw text"),
    ("12", {"listen_notifications": _listener()}, 3, "raised JSONDecodeError"),
    ("12", {"listen_notifications": _tolerant(dedupe=False)}, 4, "twice"),
    ("12", {"listen_notifications": _tolerant(close=False)}, 5, "still open"),
    ("12", {"listen_notifications": _tolerant(stop=False)}, 5, "still listening"),
    ("13", {"allow_ticket": _lua("")}, 2, "never expires"),
    ("13", {"allow_ticket": _lua("EXPIRE")}, 2, "PEXPIRE, not EXPIRE"),
    ("13", {"allow_ticket": _lua("PEXPIRE", refuse_at=">=")}, 3, "only 2 calls passed"),
    ("13", {"allow_ticket": _lua("PEXPIRE", every_call=True)}, 4, "pushed the window"),
    ("13", {"allow_ticket": _python_limiter}, 6, "both took the last slot"),
    ("13", {"allow_ticket": _incr_then_pexpire}, 7, "locked out for good"),
    ("14", {"consume_stream": _consumer(ack=False)}, 1, "XACK each entry"),
    ("14", {"consume_stream": _consumer(returns=False)}, 1, "return how many"),
    ("14", {"consume_stream": _consumer(own_pending=False)}, 3, "ID 0"),
    ("14", {"consume_stream": _consumer(skip_deleted=False)}, 4, "no fields"),
    ("14", {"consume_stream": _consumer(claim_pages=1)}, 5, "cursor"),
    ("14", {"consume_stream": _consumer(ack_first=True)}, 6, "acked anyway"),
])
def test_a_mistake_breaks_the_step_that_names_it(number: str, mistake: dict[str, Any],
                                                 step: int, words: str,
                                                 lesson: Lesson) -> None:
    with pytest.raises(ConformanceError) as broken:
        verify(number, {**solution_pieces(), **mistake}, workspace(lesson))
    assert broken.value.number == step, str(broken.value)
    assert words in str(broken.value)


def test_a_piece_that_raises_is_named_with_its_error(lesson: Lesson) -> None:
    def broken(*args: Any) -> None:
        raise KeyError("id")

    with pytest.raises(ConformanceError, match="cache_user raised KeyError"):
        verify("01", {**KIT, "cache_user": broken}, workspace(lesson))


# --- the app, running on the solutions' pieces ----------------------------------------------
def test_the_app_runs_on_the_solutions_pieces(lesson: Lesson) -> None:
    calls: list[str] = []
    helpdesk = spied_solutions(calls)
    app = lesson.make_app(pieces=helpdesk)
    assert app.get_user(5)["user"] == lesson.store.get_user(5)  # a miss: GET, then SET
    assert app.get_user(5)["user"] == lesson.store.get_user(5)  # a hit
    assert calls == ["get_cached_user", "cache_user", "get_cached_user"]
    assert app.cache.stats()["user"].hits == 1  # type: ignore[union-attr]
    created = app.create_ticket(5, "Printer on fire")  # reads the requester: a hit
    assert created["success"] and calls[-2:] == ["get_cached_user", "enqueue_task"]
    assert app.update_ticket(3, status="closed")["ticket"].status == "closed"
    assert "update_ticket" in calls
    assert app.get_ticket(3)["ticket"].status == "closed"
    app.cache.warm_users(lesson.store)  # type: ignore[union-attr]
    assert calls[-1] == "warm_users"
    assert lesson.client.exists(lesson.keys.user(1))
    app.cache.invalidate_user(1)  # type: ignore[union-attr]
    assert calls[-1] == "invalidate_user" and not lesson.client.exists(lesson.keys.user(1))


def test_without_learner_pieces_the_app_is_the_kits(lesson: Lesson) -> None:
    helpdesk = Helpdesk([Choice(p, KIT[p.name], False, "not written") for p in PIECES], "t")
    app = lesson.make_app(pieces=helpdesk)
    assert type(app.cache).__name__ == "Cache" and app.store is lesson.store


def test_the_apps_workers_run_on_the_solutions_queue_pieces(lesson: Lesson) -> None:
    """Lesson 06's and 07's pieces in the app: its notifications go through enqueue_task, a
    seed worker drains with dequeue_task, a reliable one with reserve_task and ack_task, and a
    crashed worker's tasks come back through recover_tasks: LPOP loses one, LMOVE none."""
    from helpdesk_kit.db.sample import SAMPLE_NOW
    from helpdesk_kit.lessons import capture_logs
    from helpdesk_kit.lessons.assembly import PieceQueue
    from helpdesk_kit.queue import Worker
    from helpdesk_kit.widgets.crash import crash_and_recover

    calls: list[str] = []
    helpdesk = spied_solutions(calls)
    app = lesson.make_app(pieces=helpdesk)
    assert isinstance(app.queue, PieceQueue)
    context = app.task_context(SAMPLE_NOW)
    with capture_logs():
        for title in ("Printer on fire", "VPN down"):
            assert app.create_ticket(5, title)["notification"] == "queued"
        assert calls.count("enqueue_task") == 2
        assert Worker(app.queue, context, mode="seed").process_all() == {"processed": 2}
        assert calls.count("dequeue_task") == 3  # two tasks, then None: the queue is empty
        app.create_ticket(5, "Mouse")
        assert Worker(app.queue, context, mode="reliable").process_all() == {"processed": 1}
        assert calls.count("reserve_task") >= 2 and calls.count("ack_task") == 1
        seed = crash_and_recover(app.queue, context, mode="seed", tasks=6, batch=1,
                                 crash_at=3, heartbeat_ttl_s=0.05)
        reliable = crash_and_recover(app.queue, context, mode="reliable", tasks=6, batch=2,
                                     crash_at=3, heartbeat_ttl_s=0.05)
    assert (seed.lost, reliable.lost) == (1, 0)
    assert reliable.recovered == 2 and "recover_tasks" in calls
    assert not lesson.client.exists(lesson.keys.tasks_pending)


def test_lesson_08s_load_runs_on_the_solutions_pieces_as_on_the_kits(
        open_lesson: Callable[..., Lesson]) -> None:
    """The part of lesson 08 the stored notebook runs on the kit's pieces (its workbook is
    empty): the same load on every solution piece - each one called - counts the same."""
    from helpdesk_kit.widgets.app_load import app_load

    calls: list[str] = []
    runs = {}
    for whose, helpdesk in (("kit", None), ("solutions", spied_solutions(calls))):
        lesson = open_lesson("08_monitoring_tuning", users=40, tickets=300)
        app = lesson.make_app(pieces=helpdesk)
        report = app_load(app, created=20, ticket_reads=100, user_reads=30, updated=4, hot=10)
        stats = app.cache.stats()  # type: ignore[union-attr]
        runs[whose] = (report, {entity: (s.hits, s.misses) for entity, s in stats.items()},
                       lesson.store.counts()["notifications"])
    assert runs["solutions"] == runs["kit"]
    used = {"warm_users", "get_cached_user", "update_ticket", "enqueue_task", "reserve_task",
            "ack_task"}
    assert used <= set(calls), used - set(calls)
