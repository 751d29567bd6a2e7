"""Listening to the helpdesk's notifications: the subscriber side of ``send_notifications``.

The handler publishes each notification on the channel ``notifications`` (under the key
prefix) - the design's "PubSub: notificaciones en tiempo real". A :class:`Listener` subscribes
and yields each one as a :class:`Notification`, as it happens::

    with Listener(app.redis, app.keys) as listener:
        for note in listener.listen():
            print(note)

What Pub/Sub is, and is not (lesson 12 measures both):

- **fire and forget**: ``PUBLISH`` hands a message to whoever is subscribed *at that
  moment* and keeps nothing. A listener that was offline never sees what was published
  meanwhile (the reply to ``PUBLISH`` is how many subscribers got it: 0 means nobody).
  That is why the task queue is a list or a stream, never a channel;
- **at least once, from our side**: a retried task publishes again, so the message carries
  ``taskId`` and the listener drops repeats (``repeats`` counts them).

Messages are read as bytes (on a twin of the client that does not decode), so a message that
is not UTF-8 - anyone may ``PUBLISH`` on the channel - is counted in ``ignored``, never an
exception inside redis-py.
"""

from __future__ import annotations

import json
import time
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any

import redis

from ..keys import KeySchema

__all__ = ["Listener", "Notification", "binary_twin"]


@dataclass(frozen=True)
class Notification:
    """One notification as ``send_notifications`` publishes it (the design's payload)."""

    task_id: str
    ticket_id: int
    user_id: int
    kind: str
    created_at: str

    @classmethod
    def parse(cls, data: bytes | str) -> Notification | None:
        """The notification in ``data``, or None for anything that is not one of ours."""
        try:
            text = data if isinstance(data, str) else data.decode("utf-8")
            raw = json.loads(text)
        except (UnicodeDecodeError, ValueError, RecursionError):
            return None
        if not isinstance(raw, dict):
            return None
        task = raw.get("taskId")
        ticket = raw.get("ticketId")
        user = raw.get("usuarioId")
        kind = raw.get("tipo")
        created = raw.get("createdAt", "")
        if not (isinstance(task, str) and task and isinstance(kind, str) and kind
                and isinstance(created, str) and _whole(ticket) and _whole(user)):
            return None
        return cls(task, int(ticket), int(user), kind, created)  # type: ignore[arg-type]

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    def __str__(self) -> str:
        return (f"{self.created_at or '-'}  ticket {self.ticket_id}: {self.kind} "
                f"for user {self.user_id} (task {self.task_id[:8]})")


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def binary_twin(client: redis.Redis) -> redis.Redis:
    """A client on the same server (same pool settings) whose replies stay bytes."""
    pool = client.connection_pool
    kwargs = {**pool.connection_kwargs, "decode_responses": False}
    return redis.Redis(connection_pool=redis.ConnectionPool(
        connection_class=pool.connection_class, **kwargs))


class Listener:
    """Subscribed to the notifications channel while open (``with`` or :meth:`start`).

    ``received``, ``repeats`` (same ``taskId`` again) and ``ignored`` (not a notification)
    count what arrived; ``remember`` task ids are kept to spot repeats.
    """

    def __init__(self, client: redis.Redis, keys: KeySchema | None = None, *,
                 channel: str | None = None, remember: int = 10_000) -> None:
        self.keys = keys or KeySchema()
        self.channel = channel or self.keys.notifications_channel
        self.remember = remember
        self.received = self.repeats = self.ignored = 0
        self._twin = binary_twin(client)
        self._pubsub: Any = None
        self._seen: OrderedDict[str, None] = OrderedDict()

    def __repr__(self) -> str:
        state = "listening" if self._pubsub is not None else "closed"
        return f"Listener({self.channel!r}, {state}, received={self.received})"

    def start(self, timeout: float = 5.0) -> Listener:
        """SUBSCRIBE, and return once the server confirmed it: from then on nothing
        published on the channel is missed (before, it would be)."""
        if self._pubsub is not None:
            return self
        self._pubsub = self._twin.pubsub()
        self._pubsub.subscribe(self.channel)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            message = self._pubsub.get_message(timeout=0.05)
            if message is not None and message["type"] in (b"subscribe", "subscribe"):
                return self
        self.close()
        raise redis.TimeoutError(f"no SUBSCRIBE confirmation for {self.channel!r} "
                                 f"within {timeout} s")

    def get(self, timeout: float = 0.0) -> Notification | None:
        """The next new notification, waiting up to ``timeout`` s; None if none came."""
        if self._pubsub is None:
            self.start()
        deadline = time.monotonic() + timeout
        while True:
            message = self._pubsub.get_message(timeout=max(0.0, deadline - time.monotonic()))
            if message is not None and message["type"] in (b"message", "message"):
                note = self._accept(message["data"])
                if note is not None:
                    return note
            if time.monotonic() >= deadline:
                return None

    def _accept(self, data: bytes) -> Notification | None:
        note = Notification.parse(data)
        if note is None:
            self.ignored += 1
            return None
        if note.task_id in self._seen:
            self.repeats += 1
            return None
        self._seen[note.task_id] = None
        if len(self._seen) > self.remember:
            self._seen.popitem(last=False)
        self.received += 1
        return note

    def listen(self, *, count: int | None = None, seconds: float | None = None,
               poll: float = 0.2) -> Iterator[Notification]:
        """Yield notifications as they come: ``count`` of them, or for ``seconds``, or
        forever (until the caller stops iterating, or Ctrl-C)."""
        deadline = None if seconds is None else time.monotonic() + seconds
        given = 0
        while count is None or given < count:
            wait = poll if deadline is None else min(poll, deadline - time.monotonic())
            if wait <= 0:
                return
            note = self.get(wait)
            if note is not None:
                given += 1
                yield note

    def close(self) -> None:
        """UNSUBSCRIBE by closing the subscriber's connection."""
        if self._pubsub is not None:
            self._pubsub.close()
            self._pubsub = None
        self._twin.connection_pool.disconnect()  # our own pool: nobody else closes it

    def __enter__(self) -> Listener:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
