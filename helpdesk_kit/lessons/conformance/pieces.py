"""The pieces of the learner's helpdesk: which lesson asks for each, and what it must do.

A *piece* is one function of the helpdesk written in plain redis-py: the seed's
``cacheUser`` becomes ``cache_user(client, keys, user_id, user_data)``. A lesson's exercise
asks for its pieces (lesson 01: the three of the user cache), the conformance suite checks
them (:mod:`.checks`), ``check()`` keeps the ones that pass in the learner's
``my_helpdesk.py``, and later lessons run the app on them. The kit's own implementation of
every piece (:mod:`.reference`) passes the same suite.

Every piece takes what it works with as arguments - the redis-py ``client``, the ``keys``
(:class:`~helpdesk_kit.keys.KeySchema`: ``keys.user(7)`` is ``<prefix>user:7``), the
``store`` when it writes the database - and nothing else: no globals, so a piece runs the
same in a notebook cell, in ``my_helpdesk.py`` and inside the app.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["PIECES", "Piece", "lessons_with_pieces", "pieces_of"]


@dataclass(frozen=True)
class Piece:
    """One function of the learner's helpdesk."""

    #: The function's name, in the notebook template, ``my_helpdesk.py`` and the reference.
    name: str
    #: The lesson whose exercise asks for it (``"01"``).
    lesson: str
    #: How it is called.
    signature: str
    #: The seed's name for it, when the seed has one.
    seed: str
    #: What it must do, in one line (the suite checks exactly this).
    does: str


#: Every piece, in the order the lessons ask for them. Later lessons add theirs here.
PIECES: tuple[Piece, ...] = (
    Piece("cache_user", "01", "cache_user(client, keys, user_id, user_data) -> None",
          "cacheUser", "SET user:{id} to the JSON of user_data, expiring in 300 s"),
    Piece("get_cached_user", "01", "get_cached_user(client, keys, user_id) -> dict | None",
          "getCachedUser", "GET user:{id}: the dict it holds, or None on a miss"),
    Piece("invalidate_user", "01", "invalidate_user(client, keys, user_id) -> None",
          "invalidateUserCache", "DEL user:{id}, and no other key"),
    Piece("update_ticket", "03",
          "update_ticket(store, client, keys, ticket_id, **changes) -> Ticket | None",
          "actualizarTicket",
          "write the database, then DEL ticket:{id}; return the updated row"),
    Piece("warm_users", "04", "warm_users(client, keys, users) -> None",
          "warmupCache", "cache every user dict as cache_user does, in a few round trips"),
    Piece("enqueue_task", "06", "enqueue_task(client, keys, task) -> None",
          "enqueueTask", "RPUSH tasks:pending the JSON of task with a timestamp (ms) added"),
    Piece("dequeue_task", "06", "dequeue_task(client, keys) -> dict | None",
          "dequeueTask", "LPOP tasks:pending: the oldest task as a dict, or None"),
    Piece("reserve_task", "07", "reserve_task(client, keys, worker_id) -> str | None",
          "", "LMOVE the oldest pending task into tasks:processing:{worker}; its text"),
    Piece("ack_task", "07", "ack_task(client, keys, worker_id, raw) -> None",
          "", "LREM one copy of that text from tasks:processing:{worker}"),
    Piece("recover_tasks", "07", "recover_tasks(client, keys, worker_id) -> int",
          "", "move a dead worker's tasks back to the front of tasks:pending, in order"),
    Piece("listen_notifications", "12",
          "listen_notifications(client, keys, on_notification, stop) -> None",
          "PubSub: notificaciones en tiempo real",
          "SUBSCRIBE to the app's channel; each notification (a JSON object with a taskId) "
          "to on_notification once; return unsubscribed when stop is set"),
    Piece("allow_ticket", "13",
          "allow_ticket(client, keys, user_id, limit, window_ms) -> bool",
          "Lua Scripts: operaciones atómicas complejas",
          "at most limit calls per window under rate_limit('tickets', user_id), one atomic "
          "step per call, a window that always ends"),
    Piece("consume_stream", "14",
          "consume_stream(client, stream, group, consumer, handle, min_idle_ms) -> int",
          "Streams: event sourcing",
          "its own pending entries (ID 0), then a dead consumer's (XAUTOCLAIM to cursor 0-0), "
          "then new ones (>); handle and XACK each; return how many were handled"),
)


def pieces_of(lesson: str) -> tuple[Piece, ...]:
    """The pieces lesson ``lesson`` (``"01"``) asks for, in the template's order."""
    return tuple(piece for piece in PIECES if piece.lesson == lesson)


def lessons_with_pieces(up_to: str = "99") -> tuple[str, ...]:
    """The lessons that ask for pieces, in order, up to and including ``up_to``."""
    return tuple(sorted({piece.lesson for piece in PIECES if piece.lesson <= up_to}))
