"""The streams queue's dead letters: what it gave up on, with the reason, in a list.

The same :class:`~helpdesk_kit.queue.DeadLetter` JSON as the list queue's, in a list of its
own (``tasks:stream:dead``): an entry that is not a task, a task with invalid input, one whose
handler failed ``max_attempts`` times, or one that workers kept dying on. Burying acks the
entry in the same MULTI, so a buried entry is never delivered again. ``retry_dead`` adds the
real tasks back to the stream on purpose; ``purge_dead`` throws the letters away.

:class:`StreamLetters` is mixed into :class:`~helpdesk_kit.queue.stream_queue.StreamQueue`.
"""

from __future__ import annotations

from typing import Any

import redis

from ..backends.raw import bytes_reply
from ..backends.transaction import watched
from ..keys import KeySchema
from .dead_letters import DeadLetter
from .stream_entries import FIELD, GROUP, StreamTask
from .task import Task, now_ms

__all__ = ["StreamLetters"]


class StreamLetters:
    """Dead-letter operations of the streams queue on ``self.client`` under ``self.keys``."""

    client: redis.Redis
    keys: KeySchema

    def add_entry(self, pipe: Any, *pairs: Any) -> Any:  # StreamQueue's XADD
        raise NotImplementedError

    def bury(self, raw: str | bytes, task: Task | None, error: str,
             worker_id: str | None = None, *, entry_id: str | None = None) -> None:
        """Make ``raw`` a dead letter and ``XACK`` its entry, atomically (one MULTI).

        The entry is ``entry_id``, or the one ``task`` was read from; ``worker_id`` is
        accepted for the list queue's signature (the group knows who held the entry).
        """
        if entry_id is None and isinstance(task, StreamTask) and task.entry_id:
            entry_id = task.entry_id
        text = raw if isinstance(raw, str) else raw.decode("utf-8", "backslashreplace")
        letter = DeadLetter(text, task, error or "no reason given", now_ms())
        pipe = self.client.pipeline(transaction=True)
        pipe.rpush(self.keys.tasks_stream_dead, letter.to_json())
        pipe.hincrby(self.keys.tasks_stream_stats, "failed", 1)
        pipe.hincrby(self.keys.tasks_stream_stats, "dead", 1)
        if entry_id:
            pipe.xack(self.keys.tasks_stream, GROUP, entry_id)
        pipe.execute()

    def dead_letters(self, limit: int = 100) -> list[DeadLetter]:
        """The oldest ``limit`` dead letters (read only)."""
        texts = bytes_reply(self.client, "LRANGE", self.keys.tasks_stream_dead, 0, limit - 1)
        return [DeadLetter.from_json(t) for t in texts]

    def retry_dead(self, limit: int = 100) -> int:
        """Add up to ``limit`` dead letters' tasks to the stream again, attempts reset.

        Letters whose text never parsed as a task stay dead. One WATCH/MULTI transaction.
        """
        dead = self.keys.tasks_stream_dead

        def move(pipe: Any) -> int:
            texts = bytes_reply(pipe, "LRANGE", dead, 0, limit - 1)
            letters = [DeadLetter.from_json(t) for t in texts]
            revived = [letter.task for letter in letters if letter.task is not None]
            kept = [t for t, letter in zip(texts, letters, strict=True) if letter.task is None]
            pipe.multi()
            pipe.ltrim(dead, len(texts), -1)
            for task in revived:
                task.attempts = task.crashes = 0
                self.add_entry(pipe, FIELD, task.to_json())
            if kept:
                pipe.lpush(dead, *reversed(kept))
            return len(revived)

        return watched(self.client, move, dead)

    def purge_dead(self) -> int:
        """Delete every dead letter; returns how many there were."""
        pipe = self.client.pipeline(transaction=True)
        pipe.llen(self.keys.tasks_stream_dead)
        pipe.delete(self.keys.tasks_stream_dead)
        return int(pipe.execute()[0])
