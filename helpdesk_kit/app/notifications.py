"""The ``send_notifications`` side effect of an action: queued, or run inline as a fallback.

The row is already committed when a notification is sent, so a failed notification never
turns the action into ``success: False`` (a retry would create a second ticket or comment): it
answers ``"notification": "failed"`` with a ``warning``, logs the error, and hands the same
task to the queue for a worker to retry, when there is a queue to take it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import redis

from ..errors import HelpdeskError
from ..queue import StreamQueue, Task, TaskQueue
from .handlers import REGISTRY, TaskContext
from .results import Result

__all__ = ["Notifier"]

log = logging.getLogger("helpdesk_kit.app")


class Notifier:
    """Sends the notification of one action through ``queue``, or inline with ``context()``."""

    def __init__(self, queue: TaskQueue | StreamQueue | None,
                 context: Callable[[], TaskContext]) -> None:
        self.queue = queue
        self.context = context

    def notify(self, ticket_id: int, user_id: int, kind: str, inline: bool) -> Result:
        """Enqueue ``send_notifications`` - or run it here (``inline``, or no queue)."""
        payload = {"ticketId": ticket_id, "usuarioId": user_id, "tipo": kind}
        use_redis = True
        if self.queue is not None and not inline:
            try:
                task = self.queue.enqueue("send_notifications", payload)
                return {"taskId": task.id, "notification": "queued"}
            except redis.RedisError as exc:
                # Documented fallback: the row is committed; do not lose its notification.
                log.warning("could not enqueue the notification (%s); sending it inline", exc)
                use_redis = False
        task = Task("send_notifications", payload)
        try:
            self._run_inline(task, use_redis=use_redis)
            return {"taskId": task.id, "notification": "inline"}
        except (HelpdeskError, redis.RedisError) as exc:
            return self._failed(task, exc, can_queue=use_redis)

    def _run_inline(self, task: Task, *, use_redis: bool) -> None:
        """Validate and run the handler in this call, as if a worker had taken the task.

        ``use_redis=False`` gives the handler no Redis (nothing published): the fallback when
        Redis itself is what failed.
        """
        registry = self.queue.registry if self.queue is not None else REGISTRY
        task_type = registry.validate(task.type, task.payload)
        context = self.context()
        if not use_redis:
            context.redis = None
        task_type.handler(context, task)

    def _failed(self, task: Task, exc: Exception, *, can_queue: bool) -> Result:
        """The inline notification failed: log it, queue it for a retry if we can, warn."""
        log.error("ticket %s was saved, but its notification failed: %s (task %s)",
                  task.payload["ticketId"], exc, task.to_json())
        warning = f"saved, but the notification failed: {exc}"
        if self.queue is None or not can_queue:  # nowhere to put it: the log line keeps it
            return {"taskId": task.id, "notification": "failed", "warning": warning}
        try:
            self.queue.enqueue_task(task)  # same id: a half-done first run is not repeated
        except (HelpdeskError, redis.RedisError) as again:
            log.error("could not queue it for a retry either: %s", again)
            return {"taskId": task.id, "notification": "failed", "warning": warning}
        return {"taskId": task.id, "notification": "failed",
                "warning": f"{warning}; queued for a worker to retry"}
