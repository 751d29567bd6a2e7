"""my_helpdesk.py, the learner's workbook: what check() keeps, what a later lesson loads.

The functions under test are written the way a learner writes them: in an IPython cell (the
source is then only in IPython's cell cache, as in a notebook), so ``inspect.getsource``,
the imports a piece needs and a helper left outside it are tried for real.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from helpdesk_kit.lessons import Lesson
from helpdesk_kit.lessons.conformance import pieces_of
from helpdesk_kit.lessons.exercises import lesson01
from helpdesk_kit.lessons.helpdesk import load_helpdesk
from helpdesk_kit.lessons.workbook import Workbook, WorkbookError, section_source

CACHE_CELL = '''
import json

user = "a notebook global with the name of an attribute the pieces use (keys.user)"


def cache_user(client, keys, user_id, user_data):
    client.set(keys.user(user_id), json.dumps(user_data), ex=300)


def get_cached_user(client, keys, user_id):
    cached = client.get(keys.user(user_id))
    return None if cached is None else json.loads(cached)


def invalidate_user(client, keys, user_id):
    client.delete(keys.user(user_id))
'''


@pytest.fixture
def shell() -> Iterator[Any]:
    from IPython.core.interactiveshell import InteractiveShell

    instance: Any = InteractiveShell.instance()
    yield instance
    instance.reset()


def run_cell(shell: Any, source: str) -> dict[str, Any]:
    result = shell.run_cell(source)
    assert result.success, result.error_in_exec
    return shell.user_ns  # type: ignore[no-any-return]


def pieces(namespace: dict[str, Any], number: str) -> tuple[Any, ...]:
    return tuple(namespace[piece.name] for piece in pieces_of(number))


@pytest.fixture
def lesson(open_lesson: Callable[..., Lesson]) -> Lesson:
    return open_lesson("01_cache_aside", users=30, tickets=200)


def test_a_passing_check_keeps_the_cells_functions_with_their_imports(
        shell: Any, lesson: Lesson, _workbook_in_tmp: Path) -> None:
    namespace = run_cell(shell, CACHE_CELL)
    result = lesson01.check(lesson, *pieces(namespace, "01"))
    assert result.ok is True and "Kept in my_helpdesk.py" in result.message
    text = _workbook_in_tmp.read_text()
    assert "import json\n" in text and "def get_cached_user(client, keys, user_id):" in text
    before = text
    assert lesson01.check(lesson, *pieces(namespace, "01")).ok is True
    assert _workbook_in_tmp.read_text() == before, "a re-run rewrites the same text"
    loaded = Workbook().load()
    assert sorted(name for name in loaded if name in namespace) == sorted(
        p.name for p in pieces_of("01"))


def test_an_edit_that_passes_replaces_one_that_fails_does_not(
        shell: Any, lesson: Lesson, _workbook_in_tmp: Path) -> None:
    namespace = run_cell(shell, CACHE_CELL)
    assert lesson01.check(lesson, *pieces(namespace, "01")).ok is True
    run_cell(shell, "def cache_user(client, keys, user_id, user_data):\n"
                    "    client.set(keys.user(user_id), json.dumps(user_data), ex=300)  # v2\n")
    assert lesson01.check(lesson, *pieces(namespace, "01")).ok is True
    assert "# v2" in _workbook_in_tmp.read_text()
    run_cell(shell, "def cache_user(client, keys, user_id, user_data):\n"
                    "    client.set(keys.user(user_id), json.dumps(user_data))  # v3\n")
    failed = lesson01.check(lesson, *pieces(namespace, "01"))
    assert failed.ok is False and "still has your last version" in failed.message
    assert "# v2" in _workbook_in_tmp.read_text() and "# v3" not in _workbook_in_tmp.read_text()


def test_a_piece_that_leans_on_a_helper_cell_is_checked_but_not_kept(
        shell: Any, lesson: Lesson, _workbook_in_tmp: Path) -> None:
    namespace = run_cell(shell, CACHE_CELL + '''

def key_of(keys, user_id):
    return keys.user(user_id)


def invalidate_user(client, keys, user_id):
    client.delete(key_of(keys, user_id))
''')
    result = lesson01.check(lesson, *pieces(namespace, "01"))
    assert result.ok is True and "Not kept" in result.message and "key_of" in result.message
    assert not _workbook_in_tmp.exists() or "01" not in Workbook().sections()


def test_what_cannot_live_in_a_file_is_refused() -> None:
    def outer() -> Callable[..., Any]:
        captured = 3

        def inner(client: Any) -> int:
            return captured

        return inner

    with pytest.raises(WorkbookError, match="lambda"):
        section_source("01", {"cache_user": lambda client: None})
    with pytest.raises(WorkbookError, match="captured"):
        section_source("01", {"cache_user": outer()})


def test_a_renamed_function_keeps_the_pieces_name() -> None:
    def my_cache(client: Any, keys: Any, user_id: int, user_data: Any) -> None:
        client.set(keys.user(user_id), str(user_data), ex=300)

    text = section_source("01", {"cache_user": my_cache})
    assert "\ncache_user = my_cache\n" in text


# --- what a later lesson loads ---------------------------------------------------------------
def test_no_workbook_means_the_kits_pieces_and_says_so(lesson: Lesson) -> None:
    helpdesk = load_helpdesk(lesson)
    assert helpdesk.mine == {}
    table = repr(helpdesk)
    assert "the kit's reference" in table and "not written yet" in table


def test_a_workbook_broken_by_hand_falls_back_to_the_kit_with_the_reason(
        shell: Any, lesson: Lesson, _workbook_in_tmp: Path) -> None:
    namespace = run_cell(shell, CACHE_CELL)
    lesson01.check(lesson, *pieces(namespace, "01"))
    assert set(load_helpdesk(lesson).mine) == {p.name for p in pieces_of("01")}
    text = _workbook_in_tmp.read_text().replace(", ex=300)", ")")
    _workbook_in_tmp.write_text(text)
    helpdesk = load_helpdesk(lesson)
    assert helpdesk.mine == {} and "yours fail now: step 4" in repr(helpdesk)
    _workbook_in_tmp.write_text(text + "\ndef broken(:\n")
    assert "does not run (line" in repr(load_helpdesk(lesson))
