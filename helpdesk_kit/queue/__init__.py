"""A generic task queue on Redis: tasks, one base queue (validation, enqueue, retries, dead
letters) with two storages - the list queue (pop and reliable modes) and the streams queue (a
consumer group on one stream) - and the worker, which talks to them through a small protocol.

It knows nothing of the helpdesk: which task types exist, and what runs them, comes in a
:class:`TaskRegistry` (the helpdesk's three live in :mod:`helpdesk_kit.app.handlers`).
"""

from __future__ import annotations

from .base import BaseQueue
from .dead_letters import DeadLetter
from .list_queue import QueueStats, RetryPolicy, TaskQueue
from .stream_queue import StreamQueue, StreamTask
from .task import Task, TaskRegistry, TaskType
from .worker import Mode, Worker

__all__ = [
    "BaseQueue",
    "DeadLetter",
    "Mode",
    "QueueStats",
    "RetryPolicy",
    "StreamQueue",
    "StreamTask",
    "Task",
    "TaskQueue",
    "TaskRegistry",
    "TaskType",
    "Worker",
]
