"""What a task is (the design's ``Task``) and which task types exist, with payload checks.

The design's task is ``{type, payload, timestamp}``. We add an ``id`` (so a handler can be
idempotent: "did I already do task X?") and ``attempts`` (so a retried task knows how often it
failed). Both have defaults when reading JSON, so a task pushed in the design's exact shape still
runs. ``crashes`` (how often a worker died holding it) is written only once it is not zero.

A :class:`TaskRegistry` maps a type name to its handler and the payload fields it needs. The
queue validates against it *before* anything reaches Redis, and the worker validates again on
the way out (someone may have pushed raw JSON with ``redis-cli``).
"""

from __future__ import annotations

import json
import math
import secrets
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from ..errors import TaskValidationError

__all__ = ["Task", "TaskRegistry", "TaskType", "now_ms"]

#: The encoder of every task's JSON, built once: ``json.dumps`` with ``separators`` builds a
#: new encoder at each call, and a queue encodes a task per enqueue.
_COMPACT = json.JSONEncoder(separators=(",", ":"))


def now_ms() -> int:
    """Milliseconds since the epoch: the design's ``Date.now()``."""
    return time.time_ns() // 1_000_000


def new_task_id() -> str:
    """A random 32-hex-digit id (as ``uuid4().hex``, at a third of the cost)."""
    return secrets.token_hex(16)


@dataclass
class Task:
    """One unit of work: the design's ``type``, ``payload``, ``timestamp`` (ms); plus id and
    attempts."""

    type: str
    payload: dict[str, Any]
    timestamp: int = field(default_factory=now_ms)
    id: str = field(default_factory=new_task_id)
    attempts: int = 0  # how many times it already failed (a handler error or a worker death)
    #: The exact text stored in Redis (``LREM`` must name it to ack); never serialised.
    raw: str | None = field(default=None, repr=False, compare=False)
    #: How many of those attempts ended with the worker dying (see ``requeue_orphans``).
    crashes: int = field(default=0, kw_only=True)

    def raw_text(self) -> str:
        """The text as Redis holds it (``raw``, what ``LREM`` must name exactly), or the
        task's JSON for a task that was never stored."""
        return self.raw if self.raw is not None else self.to_json()

    def to_dict(self) -> dict[str, Any]:
        data = {"id": self.id, "type": self.type, "payload": self.payload,
                "timestamp": self.timestamp, "attempts": self.attempts}
        if self.crashes:
            data["crashes"] = self.crashes
        return data

    def to_json(self) -> str:
        """The task as JSON; a payload JSON cannot hold raises :class:`TaskValidationError`."""
        try:
            return _COMPACT.encode(self.to_dict())
        except (TypeError, ValueError, RecursionError) as exc:  # a set, NaN is fine, deep nesting
            raise TaskValidationError(
                f"the payload cannot be JSON ({type(exc).__name__}: {exc})") from None

    @classmethod
    def from_json(cls, raw: str | bytes, max_bytes: int | None = None) -> Task:
        """Parse a task; anything that is not a task raises :class:`TaskValidationError`.

        "Anything" means any text or bytes at all: not UTF-8, not JSON, JSON nested deeper
        than the parser goes, larger than ``max_bytes``, or of the wrong shape and types.
        """
        if max_bytes is not None and len(raw) > max_bytes:
            raise TaskValidationError(f"the task is {len(raw):,} bytes, over the "
                                      f"{max_bytes:,}-byte limit (HELPDESK_MAX_TASK_BYTES)")
        try:
            text = raw if isinstance(raw, str) else raw.decode("utf-8")
            data = json.loads(text)
        except UnicodeDecodeError as exc:
            raise TaskValidationError(f"not UTF-8 text: {exc}") from None
        except (TypeError, ValueError, RecursionError) as exc:
            raise TaskValidationError(f"not JSON: {type(exc).__name__}: {exc}") from None
        if not isinstance(data, dict):
            raise TaskValidationError(f"a task is a JSON object, got {type(data).__name__}")
        kind = data.get("type")
        payload = data.get("payload", {})
        if not isinstance(kind, str) or not kind:
            raise TaskValidationError("the task has no 'type' string")
        if not isinstance(payload, dict):
            raise TaskValidationError("the task's 'payload' must be a JSON object")
        timestamp = data.get("timestamp", 0)
        attempts = data.get("attempts", 0)
        crashes = data.get("crashes", 0)
        if not _finite(timestamp) or not _count(attempts) or not _count(crashes):
            raise TaskValidationError("'timestamp' must be a number, 'attempts' and 'crashes' "
                                      "whole numbers >= 0")
        ident = data.get("id")
        if ident is not None and not isinstance(ident, str | int):
            raise TaskValidationError(f"the task's 'id' must be text, got {ident!r}")
        # A task in the design's exact shape has no id: derive a stable one from its text, so
        # retries match.
        ident = ident or uuid.uuid5(uuid.NAMESPACE_OID, text).hex
        return cls(kind, payload, int(timestamp), str(ident), attempts, text, crashes=crashes)


def _finite(value: object) -> bool:
    """A JSON number that ``int()`` takes: not a bool, not NaN or infinite."""
    return (isinstance(value, int | float) and not isinstance(value, bool)
            and math.isfinite(value))


def _count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


Handler = Callable[[Any, Task], Any]  # (context, task) -> a small JSON-able result


@dataclass(frozen=True)
class TaskType:
    """A registered type: its handler and the payload fields it requires (name -> type)."""

    name: str
    handler: Handler
    fields: dict[str, type] = field(default_factory=dict)
    check: Callable[[dict[str, Any]], str | None] | None = None  # returns a reason or None

    def validate(self, payload: object) -> None:
        if not isinstance(payload, dict):
            raise TaskValidationError(f"{self.name}: the payload must be a dict")
        for name, wanted in self.fields.items():
            if name not in payload:
                raise TaskValidationError(f"{self.name}: payload field {name!r} is missing")
            value = payload[name]
            # bool is a subclass of int in Python, but True is not a number of days.
            if (isinstance(value, bool) and wanted is not bool) or not isinstance(value, wanted):
                raise TaskValidationError(
                    f"{self.name}: payload field {name!r} must be {wanted.__name__}, "
                    f"got {value!r}"
                )
        reason = self.check(payload) if self.check else None
        if reason:
            raise TaskValidationError(f"{self.name}: {reason}")


class TaskRegistry:
    """Task types by name. ``tasks.REGISTRY`` holds the design's three; add your own."""

    def __init__(self) -> None:
        self._types: dict[str, TaskType] = {}

    def register(self, name: str, handler: Handler, fields: dict[str, type] | None = None,
                 check: Callable[[dict[str, Any]], str | None] | None = None) -> TaskType:
        task_type = TaskType(name, handler, dict(fields or {}), check)
        self._types[name] = task_type
        return task_type

    def get(self, name: str) -> TaskType:
        try:
            return self._types[name]
        except KeyError:
            known = ", ".join(sorted(self._types)) or "none"
            raise TaskValidationError(f"unknown task type {name!r} (known: {known})") from None

    def validate(self, name: str, payload: object) -> TaskType:
        """The type for ``name`` after checking ``payload``; raises TaskValidationError."""
        task_type = self.get(name)
        task_type.validate(payload)
        return task_type

    def prepare(self, task: Task, max_bytes: int) -> Task:
        """Validate ``task``, check its size and keep its JSON in ``task.raw`` (what is pushed).

        Every queue mode prepares a task here, so "what may be enqueued" is written once.
        """
        self.validate(task.type, task.payload)
        raw = task.to_json()  # TaskValidationError if the payload cannot be JSON
        if len(raw) > max_bytes:
            raise TaskValidationError(
                f"{task.type}: the task is {len(raw):,} bytes, over the "
                f"{max_bytes:,}-byte limit (HELPDESK_MAX_TASK_BYTES)")
        task.raw = raw
        return task

    def copy(self) -> TaskRegistry:
        """A registry with the same types, to extend without changing the original."""
        other = TaskRegistry()
        other._types = dict(self._types)
        return other

    def __contains__(self, name: object) -> bool:
        return name in self._types

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._types))
