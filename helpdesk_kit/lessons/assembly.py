"""The app, running on the learner's pieces: where each piece plugs into the kit's app.

:class:`~helpdesk_kit.app.HelpdeskApp` takes a store, a cache and a queue. A learner's
pieces replace parts of them, and nothing else changes:

====================  ==========================================  ==============================
piece (lesson)        plugs in as                                 the app calls it when
====================  ==========================================  ==============================
``cache_user``,       :class:`PieceCache`'s ``cache_user`` /      ``app.get_user``, and every
``get_cached_user``,  ``get_cached_user`` / ``invalidate_user``   action that reads a user
``invalidate_user``   and ``get_user`` (cache-aside on them)      (``create_ticket`` checks the
(01)                                                              requester)
``update_ticket``     :class:`PieceStore`'s ``update_ticket``     ``app.update_ticket``; the
(03)                  (the write *and* the ``DEL``)               app's cache then also bumps
                                                                  the ticket's generation and
                                                                  the lists' (lesson 03's guard)
``warm_users`` (04)   :class:`PieceCache`'s ``warm_users``        ``app.cache.warm_users(store)``
``enqueue_task``,     :class:`PieceQueue`'s ``enqueue_task`` and  every action that notifies
``dequeue_task``      ``dequeue`` (the kit validates the task     (``create_ticket``,
(06)                  first; a malformed entry is buried)         ``add_comment``); a seed-mode
                                                                  ``Worker`` on ``app.queue``
``reserve_task``,     :class:`PieceQueue`'s ``reserve``, ``ack``  a reliable ``Worker`` on
``ack_task``,         (one ``ack_task`` per task of a batch) and  ``app.queue``: each take, each
``recover_tasks``     ``release``; ``requeue_orphans`` calls      ack, a graceful exit, and the
(07)                  ``recover_tasks`` for each worker whose     recovery of a dead worker's
                      heartbeat expired                           tasks
``listen_notifica-    ``PieceListener`` (in a thread, read like   the live feed of lesson 12
tions`` (12)          ``app.Listener``)                           hears what the app publishes
``allow_ticket``      ``PieceRateLimiter`` as                     ``create_ticket``, first,
(13)                  ``app.rate_limiter``                        with ``make_app(rate_limit=)``
``consume_stream``    ``PieceStreamWorker``                       its ``run()``: each task on the
(14)                                                              app's stream runs its handler
====================  ==========================================  ==============================

The last three classes are in :mod:`helpdesk_kit.lessons.assembly_messaging`.

What the kit's own cache would add around a user read, and these pieces do not have, is
lesson 03's and 09's story: the stale-set guard, the load lock, negative caching and
fail-open reads (a Redis error in a learner's piece reaches the caller). What the kit's queue
adds around the queue pieces stays the kit's: validation before the push, retries with
backoff and dead letters (``fail``), the heartbeats that say which worker is gone, and - the
one thing a learner's recovery does not do - counting a worker's death as a failed attempt of
each task it held, so a task that kills every worker ends as a dead letter instead of coming
back for ever.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import redis

from ..cache import Cache
from ..db import HelpdeskStore
from ..keys import KeySchema
from ..models import Ticket, User
from ..queue import RetryPolicy, Task, TaskQueue, TaskRegistry
from ..vocab import CacheCounter, Entity
from .conformance.reference import user_data, user_from_data

__all__ = ["CACHE_PIECES", "QUEUE_PIECES", "PieceCache", "PieceQueue", "PieceStore"]

log = logging.getLogger("helpdesk_kit.cache")

#: The user cache's pieces (lesson 01); PieceStore takes update_ticket (lesson 03).
USER_PIECES = ("cache_user", "get_cached_user", "invalidate_user")
#: The pieces :class:`PieceCache` runs; the others plug in elsewhere (the table above).
CACHE_PIECES = (*USER_PIECES, "warm_users")
#: The queue pieces of lesson 06 (the seed's) and of lesson 07 (the reliable queue).
SEED_QUEUE_PIECES = ("enqueue_task", "dequeue_task")
RELIABLE_QUEUE_PIECES = ("reserve_task", "ack_task", "recover_tasks")
QUEUE_PIECES = SEED_QUEUE_PIECES + RELIABLE_QUEUE_PIECES


class PieceCache(Cache):
    """The kit's cache, with the user cache and user warming done by the learner's pieces.

    ``pieces`` holds only the learner's own; anything it lacks is the kit's, unchanged.
    """

    def __init__(self, client: redis.Redis, keys: KeySchema,
                 pieces: Mapping[str, Callable[..., Any]], **options: Any) -> None:
        super().__init__(client, keys, **options)
        self.pieces = dict(pieces)

    def __repr__(self) -> str:
        return f"PieceCache(prefix={self.keys.prefix!r}, yours: {', '.join(self.pieces)})"

    def _users_are_yours(self) -> bool:
        return all(name in self.pieces for name in USER_PIECES)

    def cache_user(self, user: User) -> None:
        if not self._users_are_yours():
            return super().cache_user(user)
        self.pieces["cache_user"](self.client, self.keys, user.id, user_data(user))
        return None

    def get_cached_user(self, user_id: int) -> User | None:
        if not self._users_are_yours():
            return super().get_cached_user(user_id)
        data = self.pieces["get_cached_user"](self.client, self.keys, user_id)
        self.book.count(Entity.USER, CacheCounter.MISSES if data is None else CacheCounter.HITS)
        return None if data is None else user_from_data(data)

    def invalidate_user(self, user_id: int) -> None:
        if not self._users_are_yours():
            return super().invalidate_user(user_id)
        self.pieces["invalidate_user"](self.client, self.keys, user_id)
        return None

    def get_user(self, user_id: int, loader: Callable[[], User | None]) -> User | None:
        """Cache-aside on the learner's pieces: their GET, on a miss the loader and their SET."""
        if not self._users_are_yours():
            return super().get_user(user_id, loader)
        user = self.get_cached_user(user_id)
        if user is None:
            user = loader()
            if user is not None:
                self.cache_user(user)
        return user

    def warm_users(self, store: HelpdeskStore, **options: Any) -> int:
        """The learner's ``warm_users`` over the store's (active) users."""
        if "warm_users" not in self.pieces:
            return super().warm_users(store, **options)
        users = store.list_users(active_only=options.get("active_only", True),
                                 limit=options.get("limit") or store.counts()["users"])
        self.pieces["warm_users"](self.client, self.keys, [user_data(u) for u in users])
        log.info("Cache precargado: %d usuarios", len(users))
        return len(users)


class PieceStore:
    """The lesson's store, whose ``update_ticket`` is the learner's piece (write, then DEL)."""

    def __init__(self, store: HelpdeskStore, client: redis.Redis, keys: KeySchema,
                 update_ticket: Callable[..., Any]) -> None:
        self._store = store
        self._client = client
        self._keys = keys
        self._update_ticket = update_ticket

    def update_ticket(self, ticket_id: int, **changes: Any) -> Ticket | None:
        ticket: Ticket | None = self._update_ticket(self._store, self._client, self._keys,
                                                    ticket_id, **changes)
        return ticket

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


class PieceQueue(TaskQueue):
    """The kit's task queue, taking and giving tasks through the learner's queue pieces.

    ``pieces`` holds only the learner's own; a lesson's group that is missing (06's or 07's)
    is the kit's, unchanged. The kit keeps what surrounds the pieces: it validates a task
    before the learner's ``enqueue_task`` pushes it, parses what their pieces take (a
    malformed entry becomes a dead letter), and retries, buries and watches heartbeats itself.
    """

    def __init__(self, client: redis.Redis, keys: KeySchema,
                 pieces: Mapping[str, Callable[..., Any]], *, registry: TaskRegistry,
                 retry: RetryPolicy | None = None) -> None:
        super().__init__(client, keys, registry=registry, retry=retry)
        self.pieces = {name: pieces[name] for name in QUEUE_PIECES if name in pieces}

    def __repr__(self) -> str:
        return f"PieceQueue({self.keys.tasks_pending!r}, yours: {', '.join(self.pieces)})"

    def copy(self, client: redis.Redis | None = None,
             registry: TaskRegistry | None = None) -> PieceQueue:
        """The same pieces and keys on another client or registry (lesson 07's crash)."""
        return PieceQueue(client or self.client, self.keys, self.pieces,
                          registry=registry or self.registry, retry=self.retry)

    def _yours(self, group: tuple[str, ...]) -> bool:
        return all(name in self.pieces for name in group)

    # --- lesson 06: the seed's enqueueTask / dequeueTask --------------------------------
    def enqueue_task(self, task: Task) -> Task:
        """Validate (the kit), then push with the learner's ``enqueue_task``, id and all."""
        if not self._yours(SEED_QUEUE_PIECES):
            return super().enqueue_task(task)
        self.registry.prepare(task, self.max_task_bytes)  # TaskValidationError: nothing pushed
        self.pieces["enqueue_task"](self.client, self.keys,
                                    {"id": task.id, "type": task.type, "payload": task.payload})
        return task

    def enqueue_many(self, items: Iterable[tuple[str, dict[str, Any]]], chunk: int = 1000
                     ) -> list[Task]:
        """Validate every item first (all or nothing), then one ``enqueue_task`` each."""
        if not self._yours(SEED_QUEUE_PIECES):
            return super().enqueue_many(items, chunk)
        tasks = [self.make_task(kind, payload) for kind, payload in items]
        for task in tasks:
            self.enqueue_task(task)
        return tasks

    def dequeue(self, timeout: float = 0) -> Task | None:
        """The learner's ``dequeue_task`` (it never blocks: a Worker waits out ``timeout``)."""
        if not self._yours(SEED_QUEUE_PIECES):
            return super().dequeue(timeout)
        while True:
            data = self.pieces["dequeue_task"](self.client, self.keys)
            if data is None:
                return None
            try:
                raw = json.dumps(data)
            except (TypeError, ValueError):  # not even JSON: it goes to the dead letters too
                raw = repr(data)
            parsed = self.parse_or_bury(raw)  # not a task: a dead letter
            if parsed:
                return parsed[0]

    # --- lesson 07: redis.io's reliable queue -------------------------------------------
    def reserve(self, worker_id: str, timeout: float = 0) -> Task | None:
        """The learner's ``reserve_task`` (LMOVE; it never blocks either)."""
        if not self._yours(RELIABLE_QUEUE_PIECES):
            return super().reserve(worker_id, timeout)
        while True:
            raw = self.pieces["reserve_task"](self.client, self.keys, worker_id)
            if raw is None:
                return None
            parsed = self.parse_or_bury(raw, worker_id)
            if parsed:
                return parsed[0]

    def reserve_many(self, worker_id: str, count: int) -> list[Task]:
        if not self._yours(RELIABLE_QUEUE_PIECES):
            return super().reserve_many(worker_id, count)
        tasks: list[Task] = []
        while len(tasks) < count and (task := self.reserve(worker_id)) is not None:
            tasks.append(task)
        return tasks

    def ack(self, worker_id: str, tasks: Task | Iterable[Task]) -> None:
        """The learner's ``ack_task`` for each task, then the kit's ``done`` counter."""
        if not self._yours(RELIABLE_QUEUE_PIECES):
            return super().ack(worker_id, tasks)
        batch = [tasks] if isinstance(tasks, Task) else list(tasks)
        for task in batch:
            self.pieces["ack_task"](self.client, self.keys, worker_id,
                                    task.raw if task.raw is not None else task.to_json())
        if batch:
            self.client.hincrby(self.keys.tasks_stats, "done", len(batch))
        return None

    def ack_and_reserve(self, worker_id: str, done: Task | None) -> Task | None:
        """Two steps with the learner's pieces (the kit does both in one script)."""
        if not self._yours(RELIABLE_QUEUE_PIECES):
            return super().ack_and_reserve(worker_id, done)
        if done is not None:
            self.ack(worker_id, done)
        return self.reserve(worker_id)

    def release(self, worker_id: str) -> int:
        """The learner's ``recover_tasks``: the worker's tasks back to the front of the queue."""
        if not self._yours(RELIABLE_QUEUE_PIECES):
            return super().release(worker_id)
        return int(self.pieces["recover_tasks"](self.client, self.keys, worker_id))

    def requeue_orphans(self) -> int:
        """The tasks of every worker whose heartbeat expired, back through ``recover_tasks``.

        Unlike the kit's, a death is not counted as a failed attempt of the tasks it held.
        """
        if not self._yours(RELIABLE_QUEUE_PIECES):
            return super().requeue_orphans()
        moved = 0
        for worker_id in self.worker_ids():
            if self.client.exists(self.keys.worker_heartbeat(worker_id)):
                continue
            moved += self.release(worker_id)
            self.unregister_worker(worker_id)  # its list is empty: drops its registration
        if moved:
            self.client.hincrby(self.keys.tasks_stats, "recovered", moved)
        return moved
