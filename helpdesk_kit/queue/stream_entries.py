"""What a streams-mode task looks like inside Redis, and how any stream entry is read back.

A stream entry is an id (``1718000000000-0``: milliseconds, then a sequence number) and a
list of field/value pairs. The kit writes one field, ``task``, holding the task's JSON - the
very text the list queue pushes - so :meth:`Task.from_json` reads both. Anyone can ``XADD``
anything (``redis-cli XADD tasks:stream '*' hello world``), so :func:`decode_entry` turns
*any* fields and bytes into a :class:`StreamTask` or a :class:`TaskValidationError` with the
reason, never another exception: the queue buries what does not decode and goes on.

Replies are read as bytes (:func:`~helpdesk_kit.backends.raw.bytes_reply`), so a value that is
not UTF-8 reaches :func:`decode_entry` instead of failing inside redis-py.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import TaskValidationError
from .task import Task

__all__ = ["FIELD", "GROUP", "Fields", "StreamTask", "decode_entry", "entries", "entry_text",
           "read_entries", "script_entries", "text"]

#: The consumer group every streams-mode worker reads through (one per queue).
GROUP = "workers"
#: The one field of a task entry: the task's JSON.
FIELD = "task"

Fields = Mapping[Any, Any]


@dataclass
class StreamTask(Task):
    """A task taken from the stream: a :class:`Task`, plus the entry id ``XACK`` must name."""

    entry_id: str = field(default="", kw_only=True, compare=False)

    @classmethod
    def of(cls, task: Task, entry_id: str) -> StreamTask:
        return cls(task.type, task.payload, task.timestamp, task.id, task.attempts, task.raw,
                   crashes=task.crashes, entry_id=entry_id)


def text(value: Any) -> str:
    """An id, field name or value as text; bytes that are not UTF-8 keep ``\\xff`` escapes."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "backslashreplace")
    return str(value)


def _field(fields: Fields, name: str) -> Any:
    """``fields[name]`` whether the names came back as bytes or as text (None if absent)."""
    if name.encode() in fields:
        return fields[name.encode()]
    return fields.get(name)


def entry_text(fields: Fields | None) -> str | bytes:
    """What a dead letter keeps of an entry: the ``task`` value as stored, or every field."""
    if not fields:
        return "{}"
    value = _field(fields, FIELD)
    if isinstance(value, bytes | str):
        return value
    return json.dumps({text(k): text(v) for k, v in fields.items()})


def decode_entry(entry_id: Any, fields: Fields | None, max_bytes: int | None = None
                 ) -> StreamTask:
    """The task in one entry, or :class:`TaskValidationError` saying why it is not one.

    ``fields`` is what redis-py made of the entry's pairs (a dict; None or empty for an entry
    deleted meanwhile). Whatever it holds - other fields, bytes, deep JSON - only
    ``TaskValidationError`` comes out.
    """
    if not isinstance(fields, Mapping) or not fields:
        raise TaskValidationError("the stream entry has no fields (deleted or trimmed?)")
    value = _field(fields, FIELD)
    if value is None:
        names = ", ".join(sorted(text(k) for k in fields))[:200]
        raise TaskValidationError(f"the stream entry has no {FIELD!r} field (it has: {names})")
    if not isinstance(value, bytes | str):
        raise TaskValidationError(f"the {FIELD!r} field is not text")
    return StreamTask.of(Task.from_json(value, max_bytes), text(entry_id))


def entries(reply: Any) -> list[tuple[str, Fields | None]]:
    """The ``(id, fields)`` pairs of an XCLAIM / XAUTOCLAIM / XRANGE reply (RESP2)."""
    return [(text(item[0]), item[1]) for item in reply or () if item and item[0] is not None]


def read_entries(reply: Any) -> list[tuple[str, Fields | None]]:
    """The ``(id, fields)`` pairs of an XREADGROUP reply for one stream.

    RESP2 wraps them as ``[[stream, [(id, fields), ...]]]``; a dict ``{stream: [...]}`` (the
    shape some redis-py versions give) is read too. Nothing new: ``[]``.
    """
    if not reply:
        return []
    streams = reply.values() if isinstance(reply, Mapping) else (s[1] for s in reply)
    return [pair for stream in streams for pair in entries(stream)]


def script_entries(reply: Any) -> list[tuple[str, Fields | None]]:
    """The ``(id, fields)`` pairs of an entry a Lua script read with ``XREADGROUP`` and
    returned as it was (the streams queue's ack-and-read), fields as redis-py's dict.

    Redis answers ``[[stream, [[id, [field, value, ...]]]]]`` (nil: nothing new); fakeredis'
    Lua drops the outer list (``[stream, [...]]``, and ``[]`` for nothing): both are read.
    """
    if not reply:
        return []
    if isinstance(reply[0], bytes | str):
        reply = [reply]
    return [(found, _fields(flat)) for found, flat in read_entries(reply)]


def _fields(flat: Any) -> dict[Any, Any] | None:
    """An entry's flat ``[field, value, ...]`` list as a dict (None if it is not a list)."""
    if not isinstance(flat, list):
        return None
    return dict(zip(flat[::2], flat[1::2], strict=False))
