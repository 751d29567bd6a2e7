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

from ..keys import KeySchema
from .dead_letters import DeadLetter, file_letter, purge_letters, read_letters, revive_letters
from .stream_entries import FIELD, GROUP, StreamTask
from .task import Task

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
        pipe = self.client.pipeline(transaction=True)
        file_letter(pipe, self.keys.tasks_stream_dead, self.keys.tasks_stream_stats, raw, task,
                    error)
        if entry_id:
            pipe.xack(self.keys.tasks_stream, GROUP, entry_id)
        pipe.execute()

    def dead_letters(self, limit: int = 100) -> list[DeadLetter]:
        """The oldest ``limit`` dead letters (read only)."""
        return read_letters(self.client, self.keys.tasks_stream_dead, limit)

    def retry_dead(self, limit: int = 100) -> int:
        """Add up to ``limit`` dead letters' tasks to the stream again, attempts reset.

        Letters whose text never parsed as a task stay dead (fix and push them by hand).
        One WATCH/MULTI transaction: a crash halfway cannot lose or double a letter.
        """
        def requeue(pipe: Any, tasks: list[Task]) -> None:
            for task in tasks:
                self.add_entry(pipe, FIELD, task.to_json())

        return revive_letters(self.client, self.keys.tasks_stream_dead, limit, requeue)

    def purge_dead(self) -> int:
        """Delete every dead letter; returns how many there were."""
        return purge_letters(self.client, self.keys.tasks_stream_dead)
