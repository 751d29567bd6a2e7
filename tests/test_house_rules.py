"""The house rules a reader can see: modules of one concept and at most 300 lines of *code*,
lines of at most 100 characters, and nothing squeezed to fit either.

Docstrings and comments do not count as code: here they teach. A long line is not excused by
a ``# type: ignore`` at its end (ruff's E501 would excuse it), and two values are not packed
into one statement (``a, b = x, y``) to save a line.
"""

from __future__ import annotations

import ast
import io
import tokenize
from pathlib import Path

import pytest
from conftest import ROOT

PACKAGE = ROOT / "helpdesk_kit"
MODULES = sorted(PACKAGE.rglob("*.py"))
MAX_CODE_LINES = 300
MAX_LINE_LENGTH = 100
#: Tokens that are not code on their own line: comments and the line structure itself.
_NOT_CODE = {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT,
             tokenize.ENDMARKER}


def _name(path: Path) -> str:
    return str(path.relative_to(ROOT))


def code_lines(source: str) -> int:
    """Lines that hold code: not blank, not only a comment, not part of a docstring (any
    string that stands alone as a statement)."""
    docstrings: set[int] = set()
    for node in ast.walk(ast.parse(source)):
        if (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
                and isinstance(node.value.value, str)):
            docstrings.update(range(node.lineno, (node.end_lineno or node.lineno) + 1))
    lines: set[int] = set()
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type in _NOT_CODE:
            continue
        lines.update(n for n in range(token.start[0], token.end[0] + 1) if n not in docstrings)
    return len(lines)


def test_the_measure_counts_code_and_nothing_else() -> None:
    source = '''"""A docstring
over two lines."""

# a comment
import os  # a comment after code


def f() -> str:
    """Its docstring."""
    return (os.sep
            + "x")
'''
    assert code_lines(source) == 4  # import, def, and the two lines of the return


@pytest.mark.parametrize("path", MODULES, ids=_name)
def test_a_module_holds_at_most_300_lines_of_code(path: Path) -> None:
    count = code_lines(path.read_text(encoding="utf-8"))
    assert count <= MAX_CODE_LINES, (
        f"{_name(path)}: {count} lines of code; split it by concept (never squeeze it)")


def test_no_line_is_longer_than_100_characters() -> None:
    long = [f"{_name(path)}:{number}: {len(line)} characters"
            for path in MODULES
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
            if len(line) > MAX_LINE_LENGTH]
    assert long == [], "\n".join(long)


def test_no_values_are_packed_into_one_assignment() -> None:
    packed = []
    for path in MODULES:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Tuple)
                    and isinstance(node.value, ast.Tuple)):
                packed.append(f"{_name(path)}:{node.lineno}: {ast.unparse(node)[:60]}")
    assert packed == [], "one assignment per line:\n" + "\n".join(packed)
