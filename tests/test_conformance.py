"""The conformance suite of the learner's pieces: one suite, every implementation, both backends.

The kit's own pieces (``conformance.reference``, a thin adapter over ``Cache``) and the
solutions in ``notebooks/solutions/`` pass every lesson's check on a real redis-server and on
fakeredis; pieces with the usual mistakes break at the step that names the mistake; and the
app runs on the solutions' pieces (each call reaches them).
"""

from __future__ import annotations

import json
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


@pytest.mark.parametrize(("number", "mistake", "step", "words"), [
    ("01", {"cache_user": _no_ttl}, 4, "never expires"),
    ("01", {"get_cached_user": _raw_text}, 5, "json.loads"),
    ("01", {"invalidate_user": _flush_prefix}, 6, "selective"),
    ("03", {"update_ticket": _forgets_to_delete}, 2, "still cached"),
    ("03", {"update_ticket": _delete_first}, 4, "before the database"),
    ("04", {"warm_users": _one_by_one}, 4, "one wait per user"),
    ("04", {"warm_users": _execute_per_user}, 4, "sent once per user"),
    ("04", {"warm_users": _execute_every_ten}, 4, "once at the end"),
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
    pieces = solution_pieces()
    calls: list[str] = []

    def spy(name: str) -> Callable[..., Any]:
        def called(*args: Any, **kwargs: Any) -> Any:
            calls.append(name)
            return pieces[name](*args, **kwargs)
        return called

    helpdesk = Helpdesk([Choice(p, spy(p.name), True, "solutions") for p in PIECES], "test")
    app = lesson.make_app(pieces=helpdesk)
    assert app.get_user(5)["user"] == lesson.store.get_user(5)  # a miss: GET, then SET
    assert app.get_user(5)["user"] == lesson.store.get_user(5)  # a hit
    assert calls == ["get_cached_user", "cache_user", "get_cached_user"]
    assert app.cache.stats()["user"].hits == 1  # type: ignore[union-attr]
    created = app.create_ticket(5, "Printer on fire")  # reads the requester: a hit
    assert created["success"] and calls[-1] == "get_cached_user"
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
