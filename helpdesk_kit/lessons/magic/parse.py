"""A ``%%redis`` cell as redis-cli reads it: one command per line, quoted arguments, comments.

The rules are redis-cli's own (``sdssplitargs`` in Redis's ``sds.c``), so a line copied from
redis.io or from a terminal means the same thing here:

* arguments are separated by spaces or tabs; a bare argument is taken as typed, backslashes
  and all (``SET k a\\b`` stores the three characters ``a\\b``);
* ``"double quotes"`` understand ``\\n``, ``\\r``, ``\\t``, ``\\b``, ``\\a``, ``\\xHH`` (one
  byte) and a backslash before any other character (``\\"`` is a quote);
* ``'single quotes'`` take everything literally except ``\\'``;
* a closing quote must be followed by a space or the end of the line (``"a"b`` is an error,
  as in redis-cli), and a quote left open is an error;
* a quote in the middle of a bare argument starts quoting there (``a"b c"`` is ``ab c``).

Two things are the magic's, not redis-cli's: a line whose first character (after spaces) is
``#`` is a comment, and a blank line is skipped. Arguments are bytes: text is sent as UTF-8, a
``\\xHH`` escape as that one byte, so any value can be written, UTF-8 or not.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Command", "ParseError", "parse_cell", "parse_line", "quote", "render"]

#: What C's isspace() calls space: skipped between arguments.
_SPACE = " \t\n\v\f\r"
#: What ends a bare argument (sdssplitargs: space, newline, carriage return, tab).
_BARE_END = " \n\r\t"
#: The one-letter escapes inside double quotes.
_ESCAPES = {"n": b"\n", "r": b"\r", "t": b"\t", "b": b"\b", "a": b"\a"}
_HEX = "0123456789abcdefABCDEF"


class ParseError(ValueError):
    """A line redis-cli would refuse too (an open quote, a quote not followed by a space)."""


@dataclass(frozen=True)
class Command:
    """One command of a cell: its line number (from 1), the line as typed, its arguments."""

    line: int
    source: str
    args: tuple[bytes, ...]


def _encode(char: str) -> bytes:
    """One typed character as bytes (UTF-8; a lone surrogate from undecodable input as its
    byte, the way Python's ``surrogateescape`` reads it)."""
    try:
        return char.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        raise ParseError(f"the character U+{ord(char):04X} cannot be sent "
                         "(write the bytes you mean as \\xHH inside double quotes)") from None


class _Reader:
    """Walks one line, character by character, building arguments as sdssplitargs does."""

    def __init__(self, line: str) -> None:
        if "\0" in line:
            raise ParseError("a NUL character: write it as \"\\x00\" inside double quotes")
        self.text = line
        self.at = 0

    def peek(self, ahead: int = 0) -> str:
        index = self.at + ahead
        return self.text[index] if index < len(self.text) else ""

    def args(self) -> list[bytes]:
        found: list[bytes] = []
        while True:
            while self.peek() and self.peek() in _SPACE:
                self.at += 1
            if not self.peek():
                return found
            found.append(self.argument())

    def argument(self) -> bytes:
        """One argument: bare text, with quoted parts wherever a quote opens."""
        parts: list[bytes] = []
        while True:
            char = self.peek()
            if char == "" or char in _BARE_END:
                return b"".join(parts)
            self.at += 1
            if char == '"':
                parts.append(self.double_quoted())
                return b"".join(parts)
            if char == "'":
                parts.append(self.single_quoted())
                return b"".join(parts)
            parts.append(_encode(char))

    def closing_quote(self) -> None:
        """After a closing quote only a space or the end of the line may follow."""
        self.at += 1
        if self.peek() and self.peek() not in _SPACE:
            raise ParseError(f"a closing quote must be followed by a space, not {self.peek()!r}")

    def double_quoted(self) -> bytes:
        parts: list[bytes] = []
        while True:
            char = self.peek()
            if char == "":
                raise ParseError('a double quote is never closed (unbalanced ")')
            if char == "\\" and self.peek(1) == "x" and self.peek(2) and self.peek(3) and \
                    self.peek(2) in _HEX and self.peek(3) in _HEX:
                parts.append(bytes([int(self.peek(2) + self.peek(3), 16)]))
                self.at += 4
            elif char == "\\" and self.peek(1):
                escaped = self.peek(1)
                parts.append(_ESCAPES.get(escaped) or _encode(escaped))
                self.at += 2
            elif char == '"':
                self.closing_quote()
                return b"".join(parts)
            else:
                parts.append(_encode(char))
                self.at += 1

    def single_quoted(self) -> bytes:
        parts: list[bytes] = []
        while True:
            char = self.peek()
            if char == "":
                raise ParseError("a single quote is never closed (unbalanced ')")
            if char == "\\" and self.peek(1) == "'":
                parts.append(b"'")
                self.at += 2
            elif char == "'":
                self.closing_quote()
                return b"".join(parts)
            else:
                parts.append(_encode(char))
                self.at += 1


def parse_line(line: str) -> list[bytes]:
    """The arguments of one line (``[]`` for a blank line); raises :class:`ParseError`."""
    return _Reader(line).args()


def parse_cell(text: str) -> list[Command]:
    """Every command of a cell, in order; comments and blank lines are left out.

    The whole cell is read before anything runs: one bad line stops the cell with its line
    number, and no command of it has been sent.
    """
    commands = []
    for number, raw in enumerate(text.split("\n"), start=1):
        line = raw.removesuffix("\r")
        if line.lstrip(_SPACE).startswith("#"):
            continue
        try:
            args = parse_line(line)
        except ParseError as exc:
            raise ParseError(f"line {number}: {exc}: {line[:80]!r}") from None
        if args:
            commands.append(Command(number, line, tuple(args)))
    return commands


# --- the way back: arguments as a line redis-cli would read -------------------------------
def _printable(byte: int) -> bool:
    return 0x20 <= byte < 0x7F


def quote(arg: bytes) -> str:
    """``arg`` as redis-cli shows a string: in double quotes, escaped like ``sdscatrepr``
    (``\\n``, ``\\"``, ``\\\\``, any byte outside printable ASCII as ``\\xHH``)."""
    out = ['"']
    for byte in arg:
        char = chr(byte)
        if char in '\\"':
            out.append("\\" + char)
        elif char in "\n\r\t\a\b":
            out.append({"\n": "\\n", "\r": "\\r", "\t": "\\t", "\a": "\\a", "\b": "\\b"}[char])
        elif _printable(byte):
            out.append(char)
        else:
            out.append(f"\\x{byte:02x}")
    out.append('"')
    return "".join(out)


def _bare(arg: bytes) -> bool:
    """Can ``arg`` be written without quotes and read back the same?"""
    return bool(arg) and all(_printable(b) and chr(b) not in " \"'" for b in arg)


def render(args: tuple[bytes, ...] | list[bytes]) -> str:
    """A command as one line: bare words where they read back the same, quoted otherwise."""
    return " ".join(arg.decode("ascii") if _bare(arg) else quote(arg) for arg in args)
