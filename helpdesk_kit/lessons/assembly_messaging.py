"""The app's messaging side, running on the learner's pieces of lessons 12, 13 and 14.

The cache pieces plug into the app's cache and store (:mod:`.assembly`). These three plug into
what the app does *around* a request:

* ``listen_notifications`` (12) is the subscriber of the notifications the app publishes:
  :class:`PieceListener` runs it in a thread of its own and reads like the kit's
  :class:`~helpdesk_kit.app.Listener`, so the live feed of lesson 12
  (:class:`helpdesk_kit.widgets.pubsub.NotificationFeed`) runs either;
* ``allow_ticket`` (13) is the limiter ``create_ticket`` asks before it writes:
  :class:`PieceRateLimiter` is the kit's :class:`~helpdesk_kit.app.RateLimiter` with its
  decision made by the piece (``lesson.make_app(pieces=..., rate_limit=(3, 60))``);
* ``consume_stream`` (14) works the app's queue when it is a stream
  (``lesson.make_app(queue="streams")``): :class:`PieceStreamWorker` hands it the stream, the
  group the kit's workers share, and a ``handle`` that runs each task's helpdesk handler - what
  the kit's ``Worker(mode="streams")`` does with its own reads.

Nothing here catches the learner's errors: a piece that raises reaches the cell that called it,
which is where the learner looks.
"""

from __future__ import annotations

import json
import queue as queues
import threading
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

import redis

from ..app import Notification, RateLimiter
from ..app.ratelimit import RateDecision
from ..keys import KeySchema
from ..queue import StreamQueue, Task
from ..queue.stream_entries import GROUP

if TYPE_CHECKING:
    from ..app import HelpdeskApp

__all__ = ["PieceListener", "PieceRateLimiter", "PieceStreamWorker", "window_used"]


# --- lesson 12: the listener ----------------------------------------------------------------
class PieceListener:
    """``listen_notifications`` in a background thread, read like the kit's ``Listener``:
    ``start()``, ``get(timeout)`` (a :class:`~helpdesk_kit.app.Notification`, or None),
    ``close()``. ``repeats`` is None: what the piece dropped, only the piece knows."""

    repeats: int | None = None

    def __init__(self, client: redis.Redis, keys: KeySchema,
                 listen_notifications: Callable[..., object]) -> None:
        self.client = client
        self.keys = keys
        self.channel = keys.notifications_channel
        self.listen = listen_notifications
        self.error: BaseException | None = None
        self._heard: queues.Queue[Notification] = queues.Queue()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __repr__(self) -> str:
        state = "listening" if self._thread is not None else "closed"
        return f"PieceListener({self.channel!r}, {state})"

    def _subscribers(self) -> int:
        return int(self.client.pubsub_numsub(self.channel)[0][1])

    def _run(self) -> None:
        try:
            self.listen(self.client, self.keys, self._hear, self._stop)
        except Exception as exc:  # shown by get() and close(): the learner's to fix
            self.error = exc

    def _hear(self, data: Mapping[str, Any]) -> None:
        note = Notification.parse(json.dumps(dict(data)))
        if note is not None:
            self._heard.put(note)

    def start(self, timeout: float = 5.0) -> PieceListener:
        """Start the piece's thread; return once the channel has one subscriber more."""
        if self._thread is not None:
            return self
        before = self._subscribers()
        self._thread = threading.Thread(target=self._run, daemon=True, name="piece-listener")
        self._thread.start()
        deadline = time.monotonic() + timeout
        while self._subscribers() <= before and time.monotonic() < deadline:
            if not self._thread.is_alive():
                break
            time.sleep(0.01)
        if self._subscribers() <= before:
            self.close()
            raise redis.TimeoutError(f"listen_notifications did not subscribe to "
                                     f"{self.channel!r} within {timeout} s ({self.error!r})")
        return self

    def get(self, timeout: float = 0.0) -> Notification | None:
        try:
            return self._heard.get(timeout=timeout)
        except queues.Empty:
            return None

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None


# --- lesson 13: the rate limiter -------------------------------------------------------------
def window_used(client: redis.Redis, key: str, limit: int) -> int:
    """How much of a window a limiter's key says is used, whatever it keeps there: the kit's
    sorted set of moments, or the count of a fixed window (capped at ``limit``)."""
    kind = client.type(key)
    kind = kind.decode() if isinstance(kind, bytes) else kind
    if kind == "zset":
        return int(client.zcard(key))
    if kind == "string":
        raw = client.get(key)
        try:
            return min(limit, int(raw or 0))
        except (TypeError, ValueError):
            return 0
    return 0


class PieceRateLimiter(RateLimiter):
    """The kit's limiter, with each decision made by the learner's ``allow_ticket``."""

    def __init__(self, client: redis.Redis, keys: KeySchema,
                 allow_ticket: Callable[..., object], *, limit: int, window_s: float) -> None:
        super().__init__(client, keys, limit=limit, window_s=window_s)
        self.allow_ticket = allow_ticket

    def __repr__(self) -> str:
        return f"PieceRateLimiter(yours: {self.limit} per {self.window_s:g} s)"

    def hit(self, user_id: object) -> RateDecision:
        allowed = self.allow_ticket(self.client, self.keys, user_id, self.limit,
                                    max(1, int(self.window_s * 1000)))
        key = self.keys.rate_limit(self.action, user_id)
        used = window_used(self.client, key, self.limit)
        wait_ms = 0 if allowed else max(0, int(self.client.pttl(key)))
        return RateDecision(bool(allowed), used, self.limit, wait_ms / 1000)


# --- lesson 14: the stream consumer ----------------------------------------------------------
class PieceStreamWorker:
    """The app's stream of tasks worked by ``consume_stream`` as consumer ``consumer``: each
    entry's task runs the helpdesk's handler. ``run()`` is one pass; it returns how many
    tasks ran."""

    def __init__(self, app: HelpdeskApp, consume_stream: Callable[..., Any], consumer: str, *,
                 min_idle_ms: int = 10_000, now: datetime | None = None) -> None:
        if not isinstance(app.queue, StreamQueue):
            raise ValueError("the app's queue is not a stream: lesson.make_app(queue='streams')")
        self.app = app
        self.queue: StreamQueue = app.queue
        self.consume_stream = consume_stream
        self.consumer = consumer
        self.min_idle_ms = min_idle_ms
        self.now = now

    def __repr__(self) -> str:
        return f"PieceStreamWorker({self.consumer!r} on {self.queue.keys.tasks_stream!r})"

    def run(self) -> int:
        self.queue.ensure_group()
        context = self.app.task_context(self.now)

        def handle(entry_id: str, fields: Mapping[str, Any]) -> None:
            task = Task.from_json(fields["task"])
            self.queue.registry.validate(task.type, task.payload).handler(context, task)

        return int(self.consume_stream(self.queue.client, self.queue.keys.tasks_stream, GROUP,
                                       self.consumer, handle, self.min_idle_ms))
