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
``listen_notifica-    :class:`.assembly_messaging.PieceListener`  the live feed of lesson 12
tions`` (12)          (in a thread, read like ``app.Listener``)   hears what the app publishes
``allow_ticket``      :class:`.assembly_messaging.                ``create_ticket``, first,
(13)                  PieceRateLimiter` as ``app.rate_limiter``   with ``make_app(rate_limit=)``
``consume_stream``    :class:`.assembly_messaging.                its ``run()``: each task on the
(14)                  PieceStreamWorker`                          app's stream runs its handler
====================  ==========================================  ==============================

What the kit's own cache would add around a user read, and these pieces do not have, is
lesson 03's and 09's story: the stale-set guard, the load lock, negative caching and
fail-open reads (a Redis error in a learner's piece reaches the caller).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

import redis

from ..cache import Cache
from ..db import HelpdeskStore
from ..keys import KeySchema
from ..models import Ticket, User
from ..vocab import Entity
from .conformance.reference import user_data, user_from_data

__all__ = ["PieceCache", "PieceStore"]

log = logging.getLogger("helpdesk_kit.cache")

#: The pieces PieceCache plugs in (PieceStore takes update_ticket).
USER_PIECES = ("cache_user", "get_cached_user", "invalidate_user")


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
        self.internals.count(Entity.USER, "misses" if data is None else "hits")
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
