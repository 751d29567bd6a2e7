"""The kit's own implementation of every piece: a thin adapter over the kit.

The pieces speak plain data (a user is the dict the seed's ``JSON.stringify`` would write, a
task the dict its JSON holds); the kit speaks rows (:class:`~helpdesk_kit.models.User`) and
:class:`~helpdesk_kit.queue.Task` objects. These functions convert at the edge and call the
kit - ``Cache``, ``TaskQueue``, the app's ``Listener`` and ``RateLimiter`` - so the
conformance suite can hold the kit to the very steps a learner's pieces must pass. An app
built with no learner pieces (the stored lessons) runs on the kit itself, never on these:
they exist for the suite, and to show that the kit and the exercise agree on what each piece
must do.

One is not an adapter: ``consume_stream`` works on any stream and group, and the kit's
:class:`~helpdesk_kit.queue.StreamQueue` is bound to its own (``tasks:stream``, ``workers``)
and adds heartbeats, dead letters and trimming. So it is the three reads that queue's worker
makes, in plain redis-py.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

import redis

from ...app import Listener, Notification, RateLimiter, helpdesk_queue
from ...cache import Cache
from ...cache.codec import decode_user, encode_user
from ...db import HelpdeskStore
from ...keys import KeySchema
from ...models import Ticket, User
from ...queue import Task
from ..output import capture_logs

__all__ = ["ack_task", "allow_ticket", "cache_user", "consume_stream", "dequeue_task",
           "enqueue_task", "get_cached_user", "invalidate_user", "listen_notifications",
           "notification_data", "recover_tasks", "reserve_task", "update_ticket", "user_data",
           "user_from_data", "warm_users"]


def user_data(user: User) -> dict[str, Any]:
    """A user row as the dict the pieces store: the kit's own JSON, read back."""
    data: dict[str, Any] = json.loads(encode_user(user))
    return data


def user_from_data(data: dict[str, Any]) -> User:
    """The dict a piece gives back, as a row (raises if it is not a whole user)."""
    return decode_user(json.dumps(data))


def cache_user(client: redis.Redis, keys: KeySchema, user_id: int,
               user_data: dict[str, Any]) -> None:
    Cache(client, keys).cache_user(user_from_data(user_data))


def get_cached_user(client: redis.Redis, keys: KeySchema, user_id: int
                    ) -> dict[str, Any] | None:
    user = Cache(client, keys).get_cached_user(user_id)
    return None if user is None else user_data(user)


def invalidate_user(client: redis.Redis, keys: KeySchema, user_id: int) -> None:
    Cache(client, keys).invalidate_user(user_id)


def update_ticket(store: HelpdeskStore, client: redis.Redis, keys: KeySchema, ticket_id: int,
                  **changes: Any) -> Ticket | None:
    ticket = store.update_ticket(ticket_id, **changes)
    if ticket is not None:
        Cache(client, keys).invalidate_ticket(ticket_id)
    return ticket


class _GivenUsers:
    """The store methods :meth:`Cache.warm_users` reads, over a list of users given."""

    def __init__(self, users: list[User]) -> None:
        self._users = users

    def counts(self) -> dict[str, int]:
        return {"users": len(self._users)}

    def list_users(self, *, active_only: bool = True, limit: int = 1000, offset: int = 0
                   ) -> list[User]:
        return self._users[offset:offset + limit]


def warm_users(client: redis.Redis, keys: KeySchema, users: list[dict[str, Any]]) -> None:
    given = _GivenUsers([user_from_data(user) for user in users])
    with capture_logs():  # the kit logs "Cache precargado: N usuarios"; a piece says nothing
        Cache(client, keys).warm_users(given, progress=False)  # type: ignore[arg-type]


# --- the queue (lessons 06 and 07): the helpdesk's TaskQueue -------------------------------
def enqueue_task(client: redis.Redis, keys: KeySchema, task: dict[str, Any]) -> None:
    given = Task(task["type"], dict(task["payload"]))
    if "id" in task:
        given.id = str(task["id"])
    helpdesk_queue(client, keys).enqueue_task(given)


def dequeue_task(client: redis.Redis, keys: KeySchema) -> dict[str, Any] | None:
    task = helpdesk_queue(client, keys).dequeue()
    if task is None:
        return None
    data: dict[str, Any] = json.loads(task.raw or task.to_json())
    return data


def reserve_task(client: redis.Redis, keys: KeySchema, worker_id: str) -> str | None:
    task = helpdesk_queue(client, keys).reserve(worker_id)
    return None if task is None else task.raw


def ack_task(client: redis.Redis, keys: KeySchema, worker_id: str, raw: str) -> None:
    helpdesk_queue(client, keys).ack(worker_id, Task.from_json(raw))


def recover_tasks(client: redis.Redis, keys: KeySchema, worker_id: str) -> int:
    return helpdesk_queue(client, keys).release(worker_id)


# --- messaging (lessons 12, 13 and 14): the app's Listener and RateLimiter, a stream's reads --
def notification_data(note: Notification) -> dict[str, Any]:
    """A notification as ``send_notifications`` publishes it: the seed's JSON, as a dict."""
    return {"taskId": note.task_id, "ticketId": note.ticket_id, "usuarioId": note.user_id,
            "tipo": note.kind, "createdAt": note.created_at}


def listen_notifications(client: redis.Redis, keys: KeySchema,
                         on_notification: Callable[[dict[str, Any]], object],
                         stop: threading.Event) -> None:
    with Listener(client, keys) as listener:  # SUBSCRIBE; UNSUBSCRIBE when the block ends
        while not stop.is_set():
            note = listener.get(timeout=0.1)  # drops what is not a notification, and repeats
            if note is not None:
                on_notification(notification_data(note))


def allow_ticket(client: redis.Redis, keys: KeySchema, user_id: int, limit: int,
                 window_ms: int) -> bool:
    return RateLimiter(client, keys, limit=limit, window_s=window_ms / 1000).allow(user_id)


#: How many entries each XREADGROUP and XAUTOCLAIM of consume_stream asks for.
BATCH = 100


def consume_stream(client: redis.Redis, stream: str, group: str, consumer: str,
                   handle: Callable[[str, dict[str, Any]], object], min_idle_ms: int) -> int:
    handled = 0

    def run(entries: list[Any]) -> None:
        nonlocal handled
        for entry_id, fields in entries:
            if fields:  # empty: deleted or trimmed while pending - nothing to handle
                handle(entry_id, fields)
                handled += 1
            client.xack(stream, group, entry_id)

    def read(start: str) -> list[Any]:
        reply: Any = client.xreadgroup(group, consumer, {stream: start}, count=BATCH)
        return list(reply[0][1]) if reply else []

    while entries := read("0"):  # mine, from before a restart
        run(entries)
    cursor = "0-0"
    while True:  # a dead consumer's: one page per call, until the cursor comes back to 0-0
        claimed: Any = client.xautoclaim(stream, group, consumer, min_idle_ms, cursor,
                                         count=BATCH)
        cursor = claimed[0].decode() if isinstance(claimed[0], bytes) else str(claimed[0])
        run(claimed[1])
        if cursor == "0-0":
            break
    while entries := read(">"):  # new
        run(entries)
    return handled
