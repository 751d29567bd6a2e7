"""A generic task queue on Redis: tasks, the list queue (pop and reliable modes), the streams
queue (a consumer group on one stream), the worker.

It knows nothing of the helpdesk: which task types exist, and what runs them, comes in a
:class:`TaskRegistry` (the helpdesk's three live in :mod:`helpdesk_kit.app.handlers`).
"""

from __future__ import annotations

from .dead_letters import DeadLetter
from .list_queue import QueueStats, RetryPolicy, TaskQueue
from .stream_queue import StreamQueue, StreamTask
from .task import Task, TaskRegistry, TaskType
from .worker import Mode, Worker

__all__ = [
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
