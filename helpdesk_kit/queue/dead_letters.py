"""Dead letters: tasks the queue gave up on, kept with the reason so a person can decide.

A task lands in the dead letters (``tasks:dead``; the streams queue's ``tasks:stream:dead``)
when its text is not a task at all, when its input is invalid, when its handler failed
``max_attempts`` times, or when workers died ``max_attempts`` times while holding it (a
"poison" task that crashes whoever runs it). Nothing runs it again by itself: ``retry_dead``
puts it back on purpose, ``purge_dead`` throws the letters away.

This module is the letter box both queues share: a letter's format (:class:`DeadLetter`) and
filing, reading, reviving and purging letters on any list. The queues use it through their
common base (:class:`~helpdesk_kit.queue.base.BaseQueue`: ``queue.dead_letters()``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import redis

from ..backends.raw import bytes_reply
from ..backends.transaction import watched
from ..errors import TaskValidationError
from .task import Task, now_ms

__all__ = ["DeadLetter", "file_letter", "purge_letters", "read_letters", "revive_letters"]


@dataclass(frozen=True)
class DeadLetter:
    """A task that will not run again by itself: the raw text, the task if it parsed, why."""

    raw: str
    task: Task | None
    error: str
    failed_at: int  # ms

    def to_json(self) -> str:
        task = self.task.to_dict() if self.task else None
        return json.dumps({"raw": self.raw, "task": task, "error": self.error,
                           "failed_at": self.failed_at})

    @classmethod
    def from_json(cls, text: str | bytes) -> DeadLetter:
        """Read a letter back; one that is not ours (pushed by hand) is kept as its raw text."""
        try:
            data = json.loads(text)
            task = Task.from_json(json.dumps(data["task"])) if data.get("task") else None
            return cls(str(data["raw"]), task, str(data["error"]), int(data["failed_at"]))
        except (ValueError, KeyError, TypeError, AttributeError, RecursionError,
                TaskValidationError) as exc:
            shown = text if isinstance(text, str) else text.decode("utf-8", "backslashreplace")
            return cls(shown, None, f"not a dead letter of the kit ({type(exc).__name__})", 0)


# --- one letter box, for the list queue's ``tasks:dead`` and the stream queue's ---------------
def file_letter(pipe: Any, dead_key: str, stats_key: str, raw: str | bytes, task: Task | None,
                error: str) -> None:
    """Add to ``pipe`` (a MULTI the caller runs) the commands that file a dead letter.

    Bytes that are not UTF-8 are kept with backslash escapes (``\\xff``): the letter is JSON
    text, and nothing of the original is dropped.
    """
    text = raw if isinstance(raw, str) else raw.decode("utf-8", "backslashreplace")
    letter = DeadLetter(text, task, error or "no reason given", now_ms())
    pipe.rpush(dead_key, letter.to_json())
    pipe.hincrby(stats_key, "failed", 1)
    pipe.hincrby(stats_key, "dead", 1)


def read_letters(client: redis.Redis, dead_key: str, limit: int) -> list[DeadLetter]:
    """The oldest ``limit`` letters of ``dead_key`` (read only)."""
    return [DeadLetter.from_json(t) for t in bytes_reply(client, "LRANGE", dead_key, 0, limit - 1)]


def revive_letters(client: redis.Redis, dead_key: str, limit: int,
                   requeue: Callable[[Any, list[Task]], None]) -> int:
    """Up to ``limit`` letters' tasks, attempts reset, handed to ``requeue(pipe, tasks)`` in
    one WATCH/MULTI transaction with their removal: a crash halfway cannot lose or double one.
    Letters whose text never parsed as a task stay (fix and push them by hand)."""
    def move(pipe: Any) -> int:
        texts = bytes_reply(pipe, "LRANGE", dead_key, 0, limit - 1)
        letters = [DeadLetter.from_json(t) for t in texts]
        revived = [letter.task for letter in letters if letter.task is not None]
        kept = [t for t, letter in zip(texts, letters, strict=True) if letter.task is None]
        pipe.multi()
        pipe.ltrim(dead_key, len(texts), -1)
        for task in revived:
            task.attempts = task.crashes = 0
        if revived:
            requeue(pipe, revived)
        if kept:
            pipe.lpush(dead_key, *reversed(kept))
        return len(revived)

    return watched(client, move, dead_key)


def purge_letters(client: redis.Redis, dead_key: str) -> int:
    """Delete every letter of ``dead_key``; returns how many there were."""
    pipe = client.pipeline(transaction=True)
    pipe.llen(dead_key)
    pipe.delete(dead_key)
    return int(pipe.execute()[0])
