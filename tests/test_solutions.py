"""Every lesson's coding exercise: its solution passes, ``...`` is "not answered", and the
usual wrong answers get a hint that points at the mistake without giving the solution away.

Solutions are discovered: every ``notebooks/solutions/lessonNN.py`` that exists is
loaded as a module and checked by ``helpdesk_kit.lessons.exercises.lessonNN`` in a lesson
opened with ``setup``, on a real redis-server and on fakeredis. A lesson whose exercise asks for
pieces of the learner's helpdesk (``conformance.pieces_of``) is checked with those functions,
by name; the others with the module's ``answer``, or the functions the exercise module's
``NAMES`` lists (lesson 16). (The pieces' own suite, on every implementation:
tests/test_conformance.py.)
"""

from __future__ import annotations

import importlib
import importlib.util
import json
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from helpdesk_kit.lessons import LESSONS, Lesson
from helpdesk_kit.lessons.conformance import pieces_of
from helpdesk_kit.lessons.workbook import Workbook

SOLUTIONS = Path(__file__).resolve().parent.parent / "notebooks" / "solutions"
FOUND = sorted(SOLUTIONS.glob("lesson[0-9][0-9].py"))
STEMS = {stem[:2]: stem for stem, _ in LESSONS}


def load_solution(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"solution_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def exercise(number: str) -> ModuleType:
    return importlib.import_module(f"helpdesk_kit.lessons.exercises.lesson{number}")


def answers(number: str, module: ModuleType) -> tuple[Any, ...]:
    """What the lesson's check takes after the lesson: its pieces, or the one ``answer``."""
    pieces = pieces_of(number)
    if pieces:
        return tuple(getattr(module, piece.name) for piece in pieces)
    names = getattr(exercise(number), "NAMES", ("answer",))  # lesson 16: two functions
    return tuple(getattr(module, name) for name in names)


def test_every_lesson_00_to_09_has_a_solution() -> None:
    assert [p.stem for p in FOUND][:10] == [f"lesson{n:02d}" for n in range(10)]


@pytest.mark.parametrize("path", FOUND, ids=[p.stem for p in FOUND])
def test_the_solution_passes_and_nothing_is_not_answered(
        path: Path, open_lesson: Callable[..., Lesson]) -> None:
    number = path.stem[-2:]
    lesson = open_lesson(STEMS[number], users=30, tickets=2000)
    check = exercise(number).check
    result = check(lesson, *answers(number, load_solution(path)))
    assert result.ok is True, result.message
    assert check(lesson, ...).ok is None
    again = check(lesson, *answers(number, load_solution(path)))  # a re-run starts alike
    assert again.ok is True, again.message
    assert not list(lesson.client.scan_iter(match=f"{lesson.keys.prefix}exercise*")), \
        "the check leaves no keys behind"
    if pieces_of(number):
        assert "Kept in my_helpdesk.py" in result.message
        assert number in Workbook().sections(), "a passing piece is kept in the workbook"


# --- wrong answers: each gets the hint for its mistake ------------------------------------
def _lesson(open_lesson: Callable[..., Lesson], number: str) -> Lesson:
    return open_lesson(STEMS[number], users=30, tickets=2000)


def _wrong(open_lesson: Callable[..., Lesson], number: str, answer: Any, *words: str) -> str:
    given = answer if pieces_of(number) and isinstance(answer, tuple) else (answer,)
    result = exercise(number).check(_lesson(open_lesson, number), *given)
    assert result.ok is False, result.message
    for word in words:
        assert word in result.message, result.message
    return result.message


def test_00_a_key_without_the_prefix(open_lesson: Callable[..., Lesson]) -> None:
    def bare(lesson: Lesson, ticket_id: int) -> Any:
        lesson.client.set(f"title:{ticket_id}", lesson.store.get_ticket(ticket_id).title)
        return lesson.client.get(f"title:{ticket_id}")

    _wrong(open_lesson, "00", bare, "prefix")


def test_01_a_wrong_piece_gets_its_step_and_the_workbook_keeps_the_last_pass(
        open_lesson: Callable[..., Lesson]) -> None:
    solution = load_solution(SOLUTIONS / "lesson01.py")

    def forever(client: Any, keys: Any, user_id: int, data: Any) -> None:
        client.set(keys.user(user_id), json.dumps(data))

    lesson = _lesson(open_lesson, "01")
    first = exercise("01").check(lesson, *answers("01", solution))
    assert first.ok is True
    kept = Workbook().sections()["01"]
    message = _wrong(open_lesson, "01", (forever, solution.get_cached_user,
                                         solution.invalidate_user), "EX 300")
    assert "still has your last version that passed" in message
    assert Workbook().sections()["01"] == kept


def test_template_functions_are_not_answered_and_a_short_list_is_wrong(
        open_lesson: Callable[..., Lesson]) -> None:
    def cache_user(client: Any, keys: Any, user_id: int, user_data: Any) -> None:
        ...

    lesson = _lesson(open_lesson, "01")
    check = exercise("01").check
    assert check(lesson, cache_user, cache_user, cache_user).ok is None
    written = load_solution(SOLUTIONS / "lesson01.py").cache_user
    assert "3 function(s)" in check(lesson, written).message


def test_02_a_plain_get_does_not_slide(open_lesson: Callable[..., Lesson]) -> None:
    def plain_get(client: Any, key: str, ttl: int) -> Any:
        raw = client.get(key)
        return json.loads(raw) if raw else None

    message = _wrong(open_lesson, "02", plain_get, "did not slide")
    assert "getex" not in message.lower()  # the hint names the problem, not the command


def test_03_and_04_wrong_pieces_get_the_step_that_broke(
        open_lesson: Callable[..., Lesson]) -> None:
    def early(store: Any, client: Any, keys: Any, ticket_id: int, **changes: Any) -> Any:
        client.delete(keys.ticket(ticket_id))
        return store.update_ticket(ticket_id, **changes)

    def loop(client: Any, keys: Any, users: list[Any]) -> None:
        for user in users:
            client.set(keys.user(user["id"]), json.dumps(user), ex=300)

    _wrong(open_lesson, "03", early, "step 4", "before the database")
    _wrong(open_lesson, "04", loop, "step 4", "round trips", "pipeline")


def test_05_fifo_no_eviction_and_the_wrong_end_are_recognised(
        open_lesson: Callable[..., Lesson]) -> None:
    def fifo(client: Any, index: str, key: str, capacity: int, now: int) -> bool:
        added = client.zadd(index, {key: now}, nx=True)  # a hit keeps its old score
        if added and client.zcard(index) > capacity:
            client.zpopmin(index)
        return added == 0

    def unbounded(client: Any, index: str, key: str, capacity: int, now: int) -> bool:
        return client.zadd(index, {key: now}) == 0

    def newest_out(client: Any, index: str, key: str, capacity: int, now: int) -> bool:
        added = client.zadd(index, {key: now})
        if added and client.zcard(index) > capacity:
            client.zpopmax(index)
        return added == 0

    _wrong(open_lesson, "05", fifo, "FIFO")
    _wrong(open_lesson, "05", unbounded, "grew to")
    _wrong(open_lesson, "05", newest_out, "lowest")


def test_06_and_07_wrong_pieces_get_the_step_that_broke(
        open_lesson: Callable[..., Lesson]) -> None:
    def lpush(client: Any, keys: Any, task: dict[str, Any]) -> None:
        client.lpush(keys.tasks_pending, json.dumps({**task, "timestamp": 1780000000000}))

    def lpop(client: Any, keys: Any, worker_id: str) -> Any:
        return client.lpop(keys.tasks_pending)

    solution06 = load_solution(SOLUTIONS / "lesson06.py")
    solution07 = load_solution(SOLUTIONS / "lesson07.py")
    _wrong(open_lesson, "06", (lpush, solution06.dequeue_task), "step 4", "oldest task")
    _wrong(open_lesson, "07", (lpop, solution07.ack_task, solution07.recover_tasks),
           "step 2", "LPOP")


def test_08_the_seeds_zero_and_the_info_db_line_are_recognised(
        open_lesson: Callable[..., Lesson]) -> None:
    solution = load_solution(SOLUTIONS / "lesson08.py")

    def seeds_zero(client: Any, keys: Any, info: str) -> Any:
        metrics = solution.api_metrics(client, keys, info)
        metrics["redis"]["memory"]["used_percent"] = metrics["redis"]["memory"][
            "used_percent"] or 0
        return metrics

    def keys_from_info(client: Any, keys: Any, info: str) -> Any:
        metrics = solution.api_metrics(client, keys, info)
        db0 = next(line for line in info.splitlines() if line.startswith("db0:"))
        metrics["redis"]["keys"] = int(db0.split("keys=")[1].split(",")[0])
        return metrics

    def human(client: Any, keys: Any, info: str) -> Any:
        metrics = solution.api_metrics(client, keys, info)
        line = next(x for x in info.splitlines() if x.startswith("used_memory_human:"))
        metrics["redis"]["memory"]["used_bytes"] = line.split(":")[1]
        return metrics

    _wrong(open_lesson, "08", seeds_zero, "no limit", "None")
    _wrong(open_lesson, "08", keys_from_info, "DBSIZE")
    _wrong(open_lesson, "08", human, "int")


def test_09_a_forgotten_set_a_wrong_price_and_an_extra_trip_are_recognised(
        open_lesson: Callable[..., Lesson]) -> None:
    def no_set(client: Any, key: str, load: Any, db_ms: float, cache_ms: float) -> Any:
        cached = client.get(key)
        return (cached, cache_ms) if cached is not None else (load(), cache_ms + db_ms)

    def one_trip_per_miss(client: Any, key: str, load: Any, db_ms: float,
                          cache_ms: float) -> Any:
        cached = client.get(key)
        if cached is not None:
            return cached, cache_ms
        value = load()
        client.set(key, value, ex=300)
        return value, cache_ms + db_ms  # the SET is a round trip too

    def exists_first(client: Any, key: str, load: Any, db_ms: float, cache_ms: float) -> Any:
        if client.exists(key):
            return client.get(key), 2 * cache_ms
        value = load()
        client.set(key, value, ex=300)
        return value, 2 * cache_ms + db_ms

    _wrong(open_lesson, "09", no_set, "two")
    _wrong(open_lesson, "09", one_trip_per_miss, "priced it at")
    _wrong(open_lesson, "09", exists_first, "a hit took 2")


def test_a_function_that_raises_gets_its_error_as_the_hint(
        open_lesson: Callable[..., Lesson]) -> None:
    def broken(*args: Any) -> None:
        raise KeyError("usuarioId")

    assert "KeyError" in _wrong(open_lesson, "02", broken)


def test_09s_reference_is_the_cost_model_of_lab_compare() -> None:
    from helpdesk_kit.lab.compare import break_even_hit_rate
    from helpdesk_kit.lessons.exercises.lesson09 import NETWORKS, break_even

    for db_ms, cache_ms in NETWORKS:
        assert break_even(db_ms, cache_ms) == pytest.approx(break_even_hit_rate(db_ms, cache_ms))


@pytest.mark.parametrize(("number", "answer", "expected"), [
    ("09", False, True),
])
def test_quizzes_moved_out_of_the_notebooks(number: str, answer: Any, expected: bool) -> None:
    check_quiz = exercise(number).check_quiz
    assert check_quiz(answer).ok is expected
    assert check_quiz(...).ok is None
