"""The stored notebooks, as a learner and as nbval read them: every rule checked on every one.

These run over each ``notebooks/*.ipynb`` that exists - every lesson and the instructor's
dashboard - so a lesson written later is held to the same rules the day it is added:

* every figure is an image (a bare matplotlib ``Figure`` stores only ``<Figure size ...>``);
* no output shows a machine's paths (``/root/``, ``/home/<you>/``, ``/tmp/``);
* the test machinery stays out of sight: no "nbval" in the prose, markers are cell tags, and
  quiz answers live in the package, not in a cell's ``why=``;
* a cell whose output nbval ignores is followed by a code cell that *asserts* - an ``assert``
  statement or a ``check...(...)`` call, found by parsing the cell, not by searching a word;
* each lesson has one coding exercise, stored unanswered, with a folded hint and a solution;
* no progress bar is stored at "0%", and no quiz's answer is in an earlier cell's output.

Every lesson also teaches Redis before the kit: Redis called directly - redis-py or a
``%%redis`` cell - on the lesson's idea before the kit's helper for it, hints in three tiers,
and no line of the solution's code in a hint.
"""

from __future__ import annotations

import ast
import importlib
import json
import re
from pathlib import Path
from typing import Any

import pytest

from helpdesk_kit.lessons import LESSONS

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
ALL = sorted(NOTEBOOKS.glob("*.ipynb"))
LESSON_STEMS = {stem for stem, _ in LESSONS}
STORED_LESSONS = [p for p in ALL if p.stem in LESSON_STEMS]
#: Lessons 00-09: the single-server course, which also carries the reader's header.
FIRST_TEN = [p for p in STORED_LESSONS if p.stem[:2] <= "09"]
MACHINE_PATHS = re.compile(r"/root/|/home/|/tmp/")
EXERCISE_IMPORT = re.compile(
    r"^from helpdesk_kit\.lessons\.exercises\.lesson(\d\d) import (.*)$", re.M)

def _cells(path: Path) -> list[dict[str, Any]]:
    return json.loads(path.read_text())["cells"]


def _text(cell: dict[str, Any]) -> str:
    source = cell["source"]
    return source if isinstance(source, str) else "".join(source)


def _tags(cell: dict[str, Any]) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


def _output_texts(output: dict[str, Any]) -> list[str]:
    """Every piece of text an output holds (stream, text/plain, text/html, a traceback)."""
    texts = []
    if "text" in output:
        texts.append("".join(output["text"]) if isinstance(output["text"], list)
                     else output["text"])
    for mime, value in output.get("data", {}).items():
        if mime.startswith("text/") or mime.endswith("json"):
            texts.append(value if isinstance(value, str) else json.dumps(value))
    texts += output.get("traceback", [])
    return texts


def _parse(source: str) -> ast.Module:
    """A code cell as Python: IPython's ``%magic`` and ``!shell`` lines are left out."""
    lines = [line for line in source.splitlines() if not line.lstrip().startswith(("%", "!"))]
    return ast.parse("\n".join(lines))


def asserts_something(source: str) -> bool:
    """Does the cell hold an ``assert`` statement, or call a ``check...`` function?"""
    for node in ast.walk(_parse(source)):
        if isinstance(node, ast.Assert):
            return True
        if isinstance(node, ast.Call):
            name = getattr(node.func, "id", None) or getattr(node.func, "attr", "")
            if name.startswith("check"):
                return True
    return False


def ids(paths: list[Path]) -> list[str]:
    return [p.stem for p in paths]


# --- what the outputs show ------------------------------------------------------------------
@pytest.mark.parametrize("path", ALL, ids=ids(ALL))
def test_every_figure_is_an_image(path: Path) -> None:
    for cell in _cells(path):
        for output in cell.get("outputs", []):
            plain = output.get("data", {}).get("text/plain", "")
            plain = "".join(plain) if isinstance(plain, list) else plain
            if plain.startswith("<Figure"):
                assert "image/png" in output["data"], \
                    f"a figure stored as text only (wrap it: picture(fig)): {_text(cell)[:80]}"


@pytest.mark.parametrize("path", ALL, ids=ids(ALL))
def test_no_output_shows_a_machine_path(path: Path) -> None:
    for cell in _cells(path):
        for output in cell.get("outputs", []):
            for text in _output_texts(output):
                found = MACHINE_PATHS.search(text)
                assert not found, f"{found.group(0)} in the output of: {_text(cell)[:80]}"


# --- test machinery out of sight --------------------------------------------------------------
@pytest.mark.parametrize("path", ALL, ids=ids(ALL))
def test_the_prose_never_mentions_nbval(path: Path) -> None:
    for cell in _cells(path):
        if cell["cell_type"] == "markdown":
            assert "nbval" not in _text(cell).lower(), _text(cell)[:120]


@pytest.mark.parametrize("path", ALL, ids=ids(ALL))
def test_markers_are_tags_not_comments(path: Path) -> None:
    for cell in _cells(path):
        if cell["cell_type"] == "code":
            assert "NBVAL_" not in _text(cell), f"use a cell tag: {_text(cell)[:80]}"


@pytest.mark.parametrize("path", ALL, ids=ids(ALL))
def test_quiz_answers_live_in_the_package(path: Path) -> None:
    """A ``check(answer, expected, why=...)`` in a cell shows the answer to whoever reads it."""
    for cell in _cells(path):
        if cell["cell_type"] == "code":
            assert "why=" not in _text(cell), f"answers go in the package: {_text(cell)[:80]}"


def _checked(cell: dict[str, Any]) -> bool:
    """A cell whose run is checked: it asserts, or it prints a fact that is compared (its
    output is not ignored and not empty: strict nbval fails if the fact changes)."""
    if asserts_something(_text(cell)):
        return True
    return "nbval-ignore-output" not in _tags(cell) and bool(cell.get("outputs"))


@pytest.mark.parametrize("path", ALL, ids=ids(ALL))
def test_an_ignored_output_is_followed_by_a_checked_cell(path: Path) -> None:
    code = [c for c in _cells(path) if c["cell_type"] == "code"]
    for i, cell in enumerate(code):
        if "nbval-ignore-output" not in _tags(cell):
            continue
        assert i + 1 < len(code), f"the last cell's output is ignored: {_text(cell)[:80]}"
        assert _checked(code[i + 1]), \
            f"the cell after this ignored one should check what matters: {_text(cell)[:80]}"


@pytest.mark.parametrize("path", ALL, ids=ids(ALL))
def test_ci_only_cells_assert_and_are_folded(path: Path) -> None:
    for cell in _cells(path):
        if "ci-only" in _tags(cell):
            assert asserts_something(_text(cell)), _text(cell)[:80]
            assert cell["metadata"].get("jupyter", {}).get("source_hidden") is True


def test_the_asserting_cell_rule_is_parsed_not_searched() -> None:
    assert asserts_something("x = 1\nassert x == 1")
    assert asserts_something("check(lesson, answer)")
    assert asserts_something("from m import check_quiz\ncheck_quiz(answer)")
    assert not asserts_something("# assert nothing here\nprint('assert')")
    assert not asserts_something("asserted = True")


# --- the coding exercise ----------------------------------------------------------------------
def _exercise_cells(path: Path) -> list[tuple[int, dict[str, Any]]]:
    """(index, cell) of the cells that import the lesson's exercise ``check``."""
    found = []
    for i, cell in enumerate(_cells(path)):
        for number, names in EXERCISE_IMPORT.findall(_text(cell)):
            assert number == path.stem[:2], f"{path.name} imports lesson {number}'s exercise"
            if re.search(r"\bcheck\b(?!_)", names):
                found.append((i, cell))
    return found


@pytest.mark.parametrize("path", STORED_LESSONS, ids=ids(STORED_LESSONS))
def test_one_coding_exercise_stored_unanswered_with_a_hint_and_a_solution(path: Path) -> None:
    exercises = _exercise_cells(path)
    assert len(exercises) == 1, "one coding exercise per lesson"
    index, cell = exercises[0]
    stored = "".join(t for o in cell.get("outputs", []) for t in _output_texts(o))
    assert "Not answered yet" in stored, "stored unanswered: the learner writes the answer"
    following = _cells(path)[index + 1]
    assert following["cell_type"] == "markdown"
    assert "<details><summary>Hint" in _text(following), "a folded hint after it"
    assert (NOTEBOOKS / "solutions" / f"lesson{path.stem[:2]}.py").exists(), "its solution"


@pytest.mark.parametrize("path", FIRST_TEN, ids=ids(FIRST_TEN))
def test_each_lesson_says_how_long_what_it_needs_and_links_its_commands(path: Path) -> None:
    title = next(_text(c) for c in _cells(path) if _text(c).startswith("# "))
    assert "**Time:**" in title and "**Before you start:**" in title
    assert "https://redis.io/docs/latest/" in title, "links to the commands it introduces"


# --- no progress bar stored at 0%, no quiz answered by an earlier output --------------------
@pytest.mark.parametrize("path", ALL, ids=ids(ALL))
def test_no_progress_bar_is_stored_at_zero(path: Path) -> None:
    for cell in _cells(path):
        for output in cell.get("outputs", []):
            for text in _output_texts(output):
                assert not re.search(r"(?<!\d)0%\|", text), \
                    f"a progress bar stored at 0%: {_text(cell)[:80]}"


def _quizzes(cell: dict[str, Any]) -> list[Any]:
    """The Quiz objects a code cell imports from its lesson's exercise module."""
    from helpdesk_kit.lessons.checks import Quiz

    found = []
    for number, names in EXERCISE_IMPORT.findall(_text(cell)):
        module = importlib.import_module(f"helpdesk_kit.lessons.exercises.lesson{number}")
        for name in re.findall(r"\w+", names):
            if isinstance(getattr(module, name, None), Quiz):
                found.append(getattr(module, name))
    return found


@pytest.mark.parametrize("path", STORED_LESSONS, ids=ids(STORED_LESSONS))
def test_no_quiz_is_answered_by_an_earlier_output(path: Path) -> None:
    shown = ""
    asked = 0
    for cell in _cells(path):
        if cell["cell_type"] != "code":
            continue
        for quiz in _quizzes(cell):
            asked += 1
            for text in quiz.revealing_texts():
                found = re.search(rf"(?<![\w.]){re.escape(text)}(?![\w])", shown)
                assert not found, f"{text!r} is printed before the quiz {quiz.hint[:40]!r}"
        shown += "\n".join(t for o in cell.get("outputs", []) for t in _output_texts(o))
    assert asked, "the quizzes are Quiz objects from the lesson's exercise module"


# --- Redis before the kit, hints in tiers (every lesson) ---------------------------------------
#: Per lesson: the Redis commands of the idea it teaches (redis-py method names, or the
#: commands of a %%redis cell, lower case; CLIENT TRACKING is client_tracking), and the kit's
#: helpers for that idea (names called). A direct call of one of the commands must come in an
#: earlier cell than the first call of a helper. Rewriting a lesson: check its row.
IDEAS: dict[str, tuple[set[str], set[str]]] = {
    "00": ({"set", "get", "ping"}, {"make_app", "Cache"}),
    "01": ({"get", "set"}, {"make_app", "trace", "Cache"}),
    "02": ({"set", "ttl", "pttl", "getex", "type"},
           {"make_app", "Cache", "key_table", "watch_expiry", "cache_session"}),
    "03": ({"delete", "del", "eval"}, {"make_app", "Cache", "stale_read_race", "naive_update"}),
    "04": ({"pipeline"}, {"warm_tickets", "warm_users", "start", "time_loop_vs_pipeline"}),
    "05": ({"config_get", "config_set", "info", "object"}, {"simulate", "HitRateLab", "make_app"}),
    "06": ({"rpush", "lpop", "blpop"}, {"helpdesk_queue", "TaskQueue", "Worker", "enqueue"}),
    "07": ({"lmove", "blmove", "lrem"},
           {"helpdesk_queue", "TaskQueue", "reserve", "crash_and_recover"}),
    "08": ({"info"}, {"MetricsCollector", "snapshot", "snapshot_json", "dashboard", "make_app"}),
    "09": ({"get", "set"}, {"make_app", "compare", "where_redis_pays", "load_test"}),
    "10": ({"role", "info", "wait", "config_set"},
           {"topology", "offsets_table", "sentinel_drill", "replication_gap", "make_app"}),
    "11": ({"cluster_keyslot", "cluster_shards", "get"},
           {"topology", "slot_table", "SlotExplorer", "keys_per_node", "cluster_drill",
            "make_app"}),
    "12": ({"publish", "subscribe", "pubsub"},
           {"Notifier", "Listener", "make_app", "LiveNotifications", "NotificationFeed"}),
    "13": ({"eval", "fcall", "evalsha", "script_load"},
           {"RateLimiter", "make_app", "race_limiters", "KitScripts"}),
    "14": ({"xadd", "xgroup_create", "xreadgroup", "xack", "xautoclaim", "xpending"},
           {"StreamQueue", "make_app", "StreamLab", "stream_rows", "Worker"}),
    "15": ({"xadd", "xrange", "xrevrange"},
           {"EventLog", "OpenByPriority", "make_app", "rebuild", "ReadModelLab"}),
    "16": ({"client_tracking", "client_tracking_on"}, {"NearCache", "make_app"}),
    "17": ({"shutdown", "bgsave", "config_set", "info"}, {"crash_under_load", "CrashLab"}),
    "18": ({"slowlog_get", "keys", "scan", "memory_usage", "object"},
           {"triage", "TriagePanel", "stage_slow_command", "stage_big_keys", "stage_full_memory",
            "morning_rush"}),
    "19": ({"get", "set", "del", "rpush", "lmove", "lrem"}, {"CapstoneBoard", "run_capstone"}),
}
#: What a redis-py client is called in the lessons' cells (the receiver of a command call).
CLIENT_NAMES = re.compile(r"(client|redis|pipe|pipeline|counted|down|^r)$")


def _receiver(node: ast.expr) -> str:
    if isinstance(node, ast.Attribute):
        return node.attr
    return node.id if isinstance(node, ast.Name) else ""


def direct_commands(source: str) -> set[str]:
    """The Redis commands a cell sends itself: ``%%redis`` lines, or redis-py calls on a
    client (``client.set(...)``, ``lesson.client.get(...)``, ``execute_command("PING")``)."""
    if source.lstrip().startswith("%%redis"):
        found = set()
        for line in source.splitlines()[1:]:
            words = line.split()
            if words and not words[0].startswith("#"):
                name = words[0].lower()
                if name in {"client", "cluster", "config", "object", "memory"} and len(words) > 1:
                    name = f"{name}_{words[1].lower()}"
                found.add(name)
        return found
    found = set()
    for node in ast.walk(_parse(source)):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        if not CLIENT_NAMES.search(_receiver(node.func.value)):
            continue
        name = node.func.attr.lower()
        if name == "execute_command" and node.args and isinstance(node.args[0], ast.Constant):
            words = str(node.args[0].value).lower().split()
            name = "_".join(words)
        found.add(name)
    return found


def helper_calls(source: str) -> set[str]:
    if source.lstrip().startswith("%%"):
        return set()
    names = set()
    for node in ast.walk(_parse(source)):
        if isinstance(node, ast.Call):
            names.add(_receiver(node.func))
    return names


@pytest.mark.parametrize("path", STORED_LESSONS, ids=ids(STORED_LESSONS))
def test_redis_is_called_directly_before_the_kits_helper(path: Path) -> None:
    commands, helpers = IDEAS[path.stem[:2]]
    code = [_text(c) for c in _cells(path) if c["cell_type"] == "code"]
    plain = [i for i, source in enumerate(code) if direct_commands(source) & commands]
    kit = [i for i, source in enumerate(code) if helper_calls(source) & helpers]
    assert plain, f"no cell calls {sorted(commands)} on a redis-py client or in %%redis"
    assert not kit or plain[0] < kit[0], \
        f"the kit's helper comes first: {code[kit[0]][:80]!r}"


def test_direct_commands_are_parsed_not_searched() -> None:
    assert direct_commands("%%redis\n# GET x\nSET k v\nCLIENT TRACKING on") == \
        {"set", "client_tracking"}
    assert direct_commands("lesson.client.get('k')\npipe = client.pipeline()") == \
        {"get", "pipeline"}
    assert direct_commands("app.cache.get_ticket(7, load)\nstore.get_ticket(7)") == set()
    assert direct_commands('r.execute_command("CLIENT TRACKING", "ON")') == {"client_tracking"}


def _hint_cell(path: Path) -> tuple[str, str, str]:
    """(the exercise's statement, its template cell, the hint cell after it), as text."""
    index, cell = _exercise_cells(path)[0]
    cells = _cells(path)
    return _text(cells[index - 1]), _text(cell), _text(cells[index + 1])


def _squeeze(text: str) -> str:
    return re.sub(r"\s+", "", text)


def _solution_fragments(source: str) -> set[str]:
    """The solution's non-trivial lines and calls with arguments, without spaces."""
    tree = ast.parse(source)
    fragments = set()
    for line in source.splitlines():
        line = line.split("#", 1)[0].strip()
        if line.startswith(("def ", "import ", "from ", '"""', "return None", "pass")):
            continue
        if len(_squeeze(line)) >= 14:
            fragments.add(_squeeze(line))
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and (node.args or node.keywords):
            fragments.add(_squeeze(ast.get_source_segment(source, node) or ""))
    return {f for f in fragments if f}


@pytest.mark.parametrize("path", STORED_LESSONS, ids=ids(STORED_LESSONS))
def test_hints_come_in_tiers_and_never_hold_the_solutions_code(path: Path) -> None:
    statement, template, hint = _hint_cell(path)
    tiers = re.findall(r"<details><summary>Hint (\d)", hint)
    assert tiers == ["1", "2", "3"], "three folded hints: a nudge, the commands, the shape"
    second = hint.split("<summary>Hint 2")[1].split("</details>")[0]
    assert "https://redis.io/docs/latest/" in second, "hint 2 names the commands, linked"
    given = _squeeze(statement + template)
    solution = (NOTEBOOKS / "solutions" / f"lesson{path.stem[:2]}.py").read_text()
    for fragment in _solution_fragments(solution):
        if fragment in given:
            continue  # the exercise itself hands this over
        assert fragment not in _squeeze(hint), f"the hint holds the solution's {fragment!r}"


def test_the_hint_rule_finds_code() -> None:
    fragments = _solution_fragments("def f(c, k):\n    c.set(k.user(7), 'x', ex=300)\n")
    assert "c.set(k.user(7),'x',ex=300)" in fragments and "k.user(7)" in fragments


# --- the learner's copy runs without the CI-only cells -----------------------------------------
def _names(tree: ast.Module) -> tuple[set[str], set[str]]:
    """(names a cell binds - imports, assignments, functions -, names it reads)."""
    bound: set[str] = set()
    read: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            bound |= {(alias.asname or alias.name).split(".")[0] for alias in node.names}
        elif isinstance(node, ast.FunctionDef | ast.ClassDef):
            bound.add(node.name)
        elif isinstance(node, ast.Name):
            (bound if isinstance(node.ctx, ast.Store) else read).add(node.id)
    return bound, read


@pytest.mark.parametrize("path", STORED_LESSONS, ids=ids(STORED_LESSONS))
def test_no_cell_of_the_learners_copy_reads_a_name_only_a_ci_only_cell_defines(path: Path
                                                                               ) -> None:
    """``scripts/learner-edition`` drops the ``ci-only`` cells: what they import or assign
    must not be what a later cell of the learner's copy needs."""
    only_in_ci: set[str] = set()
    visible: set[str] = set()
    for cell in _cells(path):
        if cell["cell_type"] != "code" or _text(cell).lstrip().startswith("%%"):
            continue
        bound, read = _names(_parse(_text(cell)))
        if "ci-only" in _tags(cell):
            only_in_ci |= bound
            continue
        missing = (read - bound) & (only_in_ci - visible)
        assert not missing, f"{sorted(missing)} come only from a ci-only cell: {_text(cell)[:80]}"
        visible |= bound


def test_the_ci_only_rule_finds_a_name_defined_only_there() -> None:
    bound, read = _names(_parse("from m import A\nx = [n for n in A]\nprint(B)"))
    assert {"A", "x", "n"} <= bound and {"A", "B", "n", "print"} <= read
