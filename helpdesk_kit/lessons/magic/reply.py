"""Redis's replies, printed the way redis-cli prints them at a terminal.

redis-cli tells its reply types apart on screen (``cliFormatReplyTTY`` in ``redis-cli.c``),
and so does the magic:

==================  ======================  =============================================
RESP2 reply         shown as                example
==================  ======================  =============================================
simple string       the text, bare          ``OK``, ``PONG``, ``string`` (TYPE's answer)
error               ``(error)`` + the text  ``(error) WRONGTYPE Operation against a key...``
integer             ``(integer)`` + number  ``(integer) 1``
bulk string         quoted, escaped         ``"Noa Mart\\xc3\\xadn"`` (bytes, not letters)
null                ``(nil)``               a GET of a missing key
array               numbered lines          ``1) "a"`` / ``2) "b"``; ``(empty array)``
==================  ======================  =============================================

Nested arrays are indented under their number, as redis-cli does (``1) 1) "a"``).
"""

from __future__ import annotations

from dataclasses import dataclass

from .parse import quote

__all__ = ["ErrorReply", "Reply", "Status", "format_reply"]


@dataclass(frozen=True)
class Status:
    """A simple-string reply (``+OK``): shown bare, unlike a bulk string with the same text."""

    text: bytes


@dataclass(frozen=True)
class ErrorReply:
    """An error reply (``-ERR ...``), with its code, exactly as the server sent it."""

    text: str


#: A reply as the magic keeps it: bulk strings are bytes, null is None, arrays are lists.
Reply = Status | ErrorReply | int | bytes | None | list


def _index_width(count: int) -> int:
    return len(str(count))


def format_reply(reply: Reply, indent: str = "") -> str:
    """``reply`` as redis-cli shows it; every line ends with a newline."""
    if isinstance(reply, Status):
        return reply.text.decode("utf-8", "replace") + "\n"
    if isinstance(reply, ErrorReply):
        return f"(error) {reply.text}\n"
    if isinstance(reply, bool):  # never from Redis; kept apart from int on purpose
        raise TypeError("a bool is not a Redis reply")
    if isinstance(reply, int):
        return f"(integer) {reply}\n"
    if isinstance(reply, bytes):
        return quote(reply) + "\n"
    if reply is None:
        return "(nil)\n"
    if isinstance(reply, list):
        return _format_array(reply, indent)
    raise TypeError(f"not a Redis reply: {type(reply).__name__}")


def _format_array(items: list, indent: str) -> str:
    if not items:
        return "(empty array)\n"
    width = _index_width(len(items))
    nested = indent + " " * (width + 2)  # an element's own lines start under its text
    out = []
    for number, item in enumerate(items, start=1):
        lead = "" if number == 1 else indent  # the caller already wrote the first line's start
        out.append(f"{lead}{number:>{width}}) {format_reply(item, nested)}")
    return "".join(out)
