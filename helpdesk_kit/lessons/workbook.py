"""``my_helpdesk.py``: the learner's pieces that passed their checks, kept in a file they can read.

When a lesson's ``check(...)`` passes, the pieces' source (``inspect.getsource``) is written
into ``my_helpdesk.py`` beside the lessons (``my-lessons/``), one section per lesson::

    # ==== lesson 01: cache_user, get_cached_user, invalidate_user ====
    import json


    def cache_user(client, keys, user_id, user_data):
        ...
    # ==== end of lesson 01 ====

Later lessons load the file and run the app on what it holds. The rules, so that nothing a
learner wrote is lost or half-kept:

* **re-running** a passing check rewrites that lesson's section with the same text: nothing
  changes;
* **an edit that passes** replaces the section; **an edit that fails** leaves the section as
  it was - the file always holds the last version that passed;
* a section is only written if it **runs on its own**: the pieces are re-loaded from the file
  and checked again, and if that fails (a helper the function used is defined in another
  cell) the section is taken out again and the check says why;
* the learner may **edit the file** by hand: every load checks the pieces again, and a piece
  that fails then is replaced by the kit's (:mod:`helpdesk_kit.lessons.helpdesk` says so).

Where the file is: ``HELPDESK_WORKBOOK`` if set (the tests and the stored-notebook runs point
it at a temporary file), else ``my_helpdesk.py`` in the current folder - the notebook's.
"""

from __future__ import annotations

import builtins
import dis
import importlib.util
import inspect
import os
import re
import textwrap
import types
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

__all__ = ["Workbook", "WorkbookError", "workbook_path"]

HEADER = '''"""My helpdesk: the pieces I wrote in the lessons, kept by check() when they passed.

The lessons run the app on them: lesson.make_app(pieces=lesson.my_helpdesk()). To change a
piece, edit it in its lesson and run that lesson's check again (or edit it here: the next
lesson checks it again before using it). Each section is rewritten as a whole.
"""
'''
_SECTION = re.compile(r"^# ==== lesson (\d\d): .*? ====\n.*?^# ==== end of lesson \1 ====\n",
                      re.M | re.S)


class WorkbookError(Exception):
    """The workbook cannot keep or load a piece; the message says why and what to do."""


def workbook_path() -> Path:
    """``$HELPDESK_WORKBOOK``, else ``./my_helpdesk.py`` (the notebook's folder)."""
    return Path(os.environ.get("HELPDESK_WORKBOOK") or Path.cwd() / "my_helpdesk.py")


def _global_names(code: types.CodeType) -> set[str]:
    """The global names a function's code reads (its nested code too: comprehensions).

    Read from the bytecode: ``inspect.getclosurevars`` also counts attribute names, so a
    notebook global ``user`` would look used by ``keys.user(user_id)``.
    """
    names = {ins.argval for ins in dis.get_instructions(code)
             if ins.opname in ("LOAD_GLOBAL", "LOAD_NAME")}
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _global_names(const)
    return names


def _import_line(name: str, value: Any) -> str | None:
    """The import that gives a function the global ``name`` it uses, or None if none can."""
    if isinstance(value, types.ModuleType):
        full = value.__name__
        if full == name:
            return f"import {full}"
        if "." in full and full.rsplit(".", 1)[1] == name:
            return f"from {full.rsplit('.', 1)[0]} import {name}"
        return f"import {full} as {name}"
    home = getattr(value, "__module__", None)
    if home and home != "__main__" and getattr(value, "__qualname__", None) == name:
        return f"from {home} import {name}"
    return None


def section_source(lesson: str, functions: Mapping[str, Callable[..., Any]],
                   defined: frozenset[str] = frozenset()) -> str:
    """The section for ``lesson``: its imports, then each function as written, named for its
    piece. ``defined``: names the workbook itself defines (the other pieces), which a piece
    may call. Raises WorkbookError for a function that cannot live on its own in a file."""
    imports: set[str] = set()
    bodies = []
    for piece, function in functions.items():
        if getattr(function, "__name__", "") == "<lambda>":
            raise WorkbookError(f"{piece} is a lambda: write it with def to keep it")
        code = function.__code__
        if code.co_freevars:
            raise WorkbookError(f"{piece} uses {', '.join(code.co_freevars)} from the "
                                "function around it: write it at the top of a cell")
        for name in sorted(_global_names(code)):
            if name not in function.__globals__:
                continue  # a builtin, or a name nobody defined: the re-check will say
            value = function.__globals__[name]
            if name in defined and inspect.isfunction(value):
                continue  # another piece: my_helpdesk.py defines it too
            line = _import_line(name, value)
            if line is None:
                raise WorkbookError(
                    f"{piece} uses {name}, which is defined in the notebook: put it inside "
                    "the function (or import it there), so the piece runs on its own")
            imports.add(line)
        try:
            source = textwrap.dedent(inspect.getsource(function))
        except (OSError, TypeError) as exc:
            raise WorkbookError(f"the source of {piece} cannot be read ({exc})") from None
        if function.__name__ != piece:
            source += f"\n\n{piece} = {function.__name__}\n"
        bodies.append(source.rstrip("\n"))
    title = ", ".join(functions)
    parts = [f"# ==== lesson {lesson}: {title} ===="]
    if imports:
        parts.append("\n".join(sorted(imports)))
    parts += bodies
    return "\n\n\n".join(parts) + f"\n# ==== end of lesson {lesson} ====\n"


class Workbook:
    """The file ``path`` (default :func:`workbook_path`): its sections, saved and loaded."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or workbook_path()

    def __repr__(self) -> str:
        return f"Workbook({self.path.name!r}: lessons {', '.join(self.sections()) or 'none'})"

    def sections(self) -> dict[str, str]:
        """Lesson number -> its section's text, as the file holds them now."""
        if not self.path.exists():
            return {}
        text = self.path.read_text(encoding="utf-8")
        return {match.group(1): match.group(0) for match in _SECTION.finditer(text)}

    def _write(self, sections: Mapping[str, str]) -> None:
        body = "\n\n".join(sections[lesson] for lesson in sorted(sections))
        self.path.write_text(HEADER + ("\n\n" + body if body else ""), encoding="utf-8")

    def save(self, lesson: str, functions: Mapping[str, Callable[..., Any]],
             defined: frozenset[str] = frozenset()) -> str | None:
        """Write (or rewrite) ``lesson``'s section; returns the text it replaced, if any.

        ``defined``: the names of the other pieces, which a piece may call."""
        sections = self.sections()
        previous = sections.get(lesson)
        sections[lesson] = section_source(lesson, functions, defined)
        self._write(sections)
        return previous

    def restore(self, lesson: str, previous: str | None) -> None:
        """Put ``lesson``'s section back as it was before a :meth:`save` (None: none)."""
        sections = self.sections()
        if previous is None:
            sections.pop(lesson, None)
        else:
            sections[lesson] = previous
        self._write(sections)

    def load(self) -> dict[str, Callable[..., Any]]:
        """Every function the file defines, by name, from a fresh run of the file.

        Raises WorkbookError when the file does not run (a syntax error, a failing import).
        """
        if not self.path.exists():
            return {}
        spec = importlib.util.spec_from_file_location("my_helpdesk", self.path)
        if spec is None or spec.loader is None:
            raise WorkbookError(f"{self.path.name} cannot be loaded as Python")
        module = importlib.util.module_from_spec(spec)
        try:
            spec.loader.exec_module(module)
        except Exception as exc:  # the learner's file: any error is theirs to fix
            where = f" (line {exc.lineno})" if isinstance(exc, SyntaxError) else ""
            raise WorkbookError(f"{self.path.name} does not run{where}: "
                                f"{type(exc).__name__}: {exc}") from None
        return {name: value for name, value in vars(module).items()
                if inspect.isfunction(value) and not hasattr(builtins, name)}
