"""The kit's own implementation of every piece: a thin adapter over the kit's ``Cache`` and
``TaskQueue``.

The pieces speak plain data (a user is the dict the seed's ``JSON.stringify`` would write, a
task the dict its JSON holds); the kit speaks rows (:class:`~helpdesk_kit.models.User`) and
:class:`~helpdesk_kit.queue.Task` objects. These functions convert at the edge and call the
kit, so the conformance suite can hold the kit to the very steps a
learner's pieces must pass. An app built with no learner pieces (the stored lessons) runs on
the kit itself, never on these: they exist for the suite, and to show that the kit and the
exercise agree on what each piece must do.
"""

from __future__ import annotations

import json
from typing import Any

import redis

from ...app import helpdesk_queue
from ...cache import Cache
from ...cache.codec import decode_user, encode_user
from ...db import HelpdeskStore
from ...keys import KeySchema
from ...models import Ticket, User
from ...queue import Task
from ..output import capture_logs

__all__ = ["ack_task", "cache_user", "dequeue_task", "enqueue_task", "get_cached_user",
           "invalidate_user", "recover_tasks", "reserve_task", "update_ticket", "user_data",
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
