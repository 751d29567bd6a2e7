"""Lesson 16's exercise and quizzes: your own invalidation listener, checked against a live writer.

The learner writes the two halves of a near cache's freshness in plain redis-py::

    listen_for_changes(client, prefix)    # CLIENT ID, SUBSCRIBE __redis__:invalidate,
                                          # CLIENT TRACKING ON REDIRECT <id> BCAST PREFIX prefix
    apply_invalidations(listener, local)  # drop from the dict the keys the waiting messages
                                          # name; None (a FLUSHDB) or a lost connection: empty it

``check(lesson, listen_for_changes, apply_invalidations)`` starts a Redis server of its own - it
kills a connection and flushes the database, which must never happen on a Redis the lesson or
a class shares - and plays the life of the listener against it: another client writes keys
under the prefix while the learner's ``apply_invalidations`` is polled, then a key outside the
prefix, then ``FLUSHDB``, then ``CLIENT KILL`` of the listener's connection. It judges what
the local copy holds after each, and explains a failure from what Redis says about its
clients (``CLIENT LIST``: who is subscribed, who tracks, where the messages go). The client
it hands over is made with ``from_url`` in RESP2: it makes no retries, so a lost connection
shows as ``redis.ConnectionError`` from ``get_message``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import redis

from ...backends import RedisServer
from ...backends.binaries import no_server_reason
from ..checks import CheckResult, Quiz, is_unanswered, not_answered, right, wrong
from ..conformance.steps import ConformanceError, Steps
from ..lesson import Lesson

__all__ = ["CHANNEL", "NAMES", "check", "check_quiz", "check_quiz_2"]

#: Where Redis publishes invalidations for a RESP2 connection that tracking redirects to.
CHANNEL = "__redis__:invalidate"
#: The learner's two functions, in the template's order.
NAMES = ("listen_for_changes", "apply_invalidations")
#: The prefix the check tracks, and a key just outside it.
PREFIX = "lesson16:exercise:ticket:"
OUTSIDE = "lesson16:exercise:tickets:1"
#: What a lost connection means, and what to do.
LOST = ("when the listener's connection is lost, get_message raises redis.ConnectionError and "
        "the messages sent meanwhile are gone: catch it, empty local and return False.")
#: How long the check waits for messages that should come (a bound, never a measurement).
PATIENCE = 2.0

WHY = ("CLIENT ID, SUBSCRIBE __redis__:invalidate and CLIENT TRACKING ON REDIRECT <id> BCAST "
       "PREFIX: this process now hears the name of every key under the prefix that changes, "
       "whoever changes it, and drops its copy; a flush or a lost connection empties the copy, "
       "because what was missed cannot be known. The kit's NearCache does the same on one "
       "connection (redirecting to itself) and adds a lease (PING when idle), a guard against "
       "keeping a value whose key changed while it was read, and tracking switched back on.")


def _apply(run: Steps, listener: Any, local: dict[str, Any]) -> object:
    """One call of ``apply_invalidations``, in a thread of its own: a call that waits for the
    next message (``listen()``, ``get_message(timeout=None)``) must not hang the check."""
    returned: list[object] = []
    raised: list[Exception] = []

    def call() -> None:
        try:
            returned.append(run.call("apply_invalidations", listener, local))
        except Exception as exc:  # the step's reason, raised again below
            raised.append(exc)

    thread = threading.Thread(target=call, daemon=True, name="lesson16-apply")
    thread.start()
    thread.join(PATIENCE)
    if raised:
        if isinstance(raised[0].__cause__, redis.ConnectionError):
            run.expect(False, LOST)
        raise raised[0]
    run.expect(bool(returned), f"apply_invalidations did not return within {PATIENCE:g} s: "
               "read only the messages already waiting and return; never wait for the next "
               "one (listen() and get_message(timeout=None) wait for ever).")
    return returned[0]


def _poll(run: Steps, listener: Any, local: dict[str, Any], done: Callable[[], bool]
          ) -> list[object]:
    """Call ``apply_invalidations`` until ``done()`` or the patience runs out; its returns."""
    returned: list[object] = []
    deadline = time.monotonic() + PATIENCE
    while True:
        returned.append(_apply(run, listener, local))
        if returned[-1] is False or done() or time.monotonic() > deadline:
            return returned
        time.sleep(0.01)


def _why_unheard(admin: redis.Redis) -> str:
    """What Redis says about the clients, as the reason nothing was heard."""
    clients = admin.client_list()
    listeners = [c for c in clients if int(c.get("sub", 0)) > 0]
    tracking = [c for c in clients if "t" in c.get("flags", "")]
    if not listeners:
        return (f"no connection is subscribed to {CHANNEL}: the listener subscribes to it "
                "(and keeps that connection open).")
    if not tracking:
        return ("no connection has tracking on: one connection must send CLIENT TRACKING ON "
                "... REDIRECT <the listener's id>.")
    if not any("B" in c["flags"] for c in tracking):
        return ("tracking is on but not in broadcast mode: without BCAST Redis names only keys "
                "that connection read itself, and yours read none. Add BCAST and the PREFIX.")
    ids = {c["id"] for c in listeners}
    if not any(c.get("redir") in ids for c in tracking):
        return (f"tracking sends its messages to client {tracking[0].get('redir')}, but the "
                f"subscribed listener is client {', '.join(sorted(ids))}: REDIRECT to the id "
                "CLIENT ID gave on the listener's own connection, asked before it subscribed.")
    return ("Redis sends the messages to your listener, but the keys stayed in local: read "
            "every waiting message (get_message until it returns None) and pop each key named "
            "in its data.")


def _play(run: Steps, url: str) -> None:
    """The listener's life, step by step, against the server at ``url``."""
    admin = redis.Redis.from_url(url, decode_responses=True)
    yours = redis.Redis.from_url(url, protocol=2, decode_responses=True)
    writer = redis.Redis.from_url(url, decode_responses=True)
    listener: Any = None
    try:
        with run.step("listen_for_changes returns a listener"):
            try:
                listener = run.call("listen_for_changes", yours, PREFIX)
            except Exception as broken:
                if isinstance(broken.__cause__, redis.DataError) and "list" in str(broken):
                    run.expect(False, f"{broken} - was the id a Pub/Sub message? Once "
                               "subscribed, what the listener reads back are Pub/Sub "
                               "messages: ask CLIENT ID before SUBSCRIBE.")
                if "overlaps with another provided prefix" in str(broken):
                    run.expect(False, f"{broken} - redis-py's prefix= takes a list of "
                               "prefixes: a string is read as one prefix per character.")
                raise
            run.expect(callable(getattr(listener, "get_message", None)),
                       f"listen_for_changes returned {listener!r}: return the PubSub object "
                       f"(client.pubsub()) you subscribed to {CHANNEL}.")
        local = {f"{PREFIX}{n}": f"old {n}" for n in range(1, 11)}
        local[OUTSIDE] = "old outside"
        written = [f"{PREFIX}{n}" for n in range(1, 6)]
        with run.step("another client's writes under the prefix leave local"):
            _writes_heard(run, admin, writer, listener, local, written)
        with run.step("only the keys that changed leave local"):
            kept = sorted(k for k in local if k.startswith(PREFIX))
            run.expect(len(kept) == 5, f"local lost keys nobody wrote (it holds {len(kept)} of "
                       "the 5 untouched ones): drop only the keys a message names.")
        with run.step("a write outside the prefix is not named"):
            writer.set(OUTSIDE, "new")
            marker = f"{PREFIX}10"
            writer.set(marker, "new")  # named after the outside write, if that was named at all
            _poll(run, listener, local, lambda: marker not in local)
            run.expect(marker not in local, f"a write to {marker} never left local.")
            run.expect(OUTSIDE in local, f"a write to {OUTSIDE}, outside the prefix, was named: "
                       "track only keys under the prefix you were given (PREFIX).")
        with run.step("FLUSHDB (a message naming no key) empties local"):
            admin.flushdb()
            _poll(run, listener, local, lambda: not local)
            run.expect(not local, f"after FLUSHDB local still holds {len(local)} keys: Redis "
                       "sent a message whose data is None, meaning every key - empty local.")
        with run.step("a lost connection empties local and returns False"):
            _connection_lost(run, admin, writer, listener)
    finally:
        for closing in (listener, yours, writer, admin):
            close = getattr(closing, "close", None)
            if callable(close):
                close()


def _writes_heard(run: Steps, admin: redis.Redis, writer: redis.Redis, listener: Any,
                  local: dict[str, Any], written: list[str]) -> None:
    """A live writer: another client writes the keys, 5 ms apart, while local is polled."""
    def write() -> None:
        for key in written:
            writer.set(key, "new")
            time.sleep(0.005)

    thread = threading.Thread(target=write, name="lesson16-writer")
    thread.start()
    try:
        returned = _poll(run, listener, local,
                         lambda: not thread.is_alive() and not set(written) & set(local))
    finally:
        thread.join()
    left = [key for key in written if key in local]
    run.expect(not left, f"{len(left)} of the {len(written)} keys another client wrote are "
               f"still in local ({left[0] if left else ''} first): {_why_unheard(admin)}")
    odd = [r for r in returned if r is not True]
    run.expect(not odd, f"apply_invalidations returned {odd[0] if odd else None!r} while the "
               "connection was fine: return True then, False only when it was lost.")


def _connection_lost(run: Steps, admin: redis.Redis, writer: redis.Redis, listener: Any) -> None:
    """CLIENT KILL of the listener's connection; a write it can no longer hear."""
    local = {f"{PREFIX}{n}": f"old {n}" for n in range(1, 4)}
    for client in admin.client_list():
        if int(client.get("sub", 0)) > 0:
            admin.client_kill_filter(_id=client["id"])
    writer.set(f"{PREFIX}2", "changed while nobody listened")
    returned = _poll(run, listener, local, lambda: False)
    run.expect(returned[-1] is False, "the listener's connection was killed and "
               f"apply_invalidations never returned False: {LOST}")
    run.expect(not local, "apply_invalidations returned False but local still holds "
               f"{len(local)} keys: one of them changed while nobody listened, and nobody can "
               "say which - empty it.")


def check(lesson: Lesson, *functions: Any) -> CheckResult:
    """``check(lesson, listen_for_changes, apply_invalidations)``, on a server of its own."""
    if is_unanswered(functions):
        return not_answered()
    if len(functions) != len(NAMES):
        return wrong(f"check takes the lesson and your {len(NAMES)} functions, in this order: "
                     f"{', '.join(NAMES)}.")
    for name, function in zip(NAMES, functions, strict=True):
        if is_unanswered(function):
            return not_answered(f"{name} is still only `...`.")
    missing = no_server_reason()
    if missing is not None:
        return wrong(f"this check starts a Redis server of its own, and cannot: {missing}.")
    run = Steps(dict(zip(NAMES, functions, strict=True)))
    try:
        with RedisServer() as server:
            _play(run, server.url)
    except ConformanceError as exc:
        return wrong(str(exc))
    return right(WHY)


#: Quiz 1: these commands, one at a time, from another client (tracking: BCAST PREFIX
#: lesson16:ticket:); how many invalidation messages reach the listener.
QUIZ_COMMANDS = (("SET", "lesson16:ticket:1", "a"), ("GET", "lesson16:ticket:1"),
                 ("DEL", "lesson16:ticket:1"), ("DEL", "lesson16:ticket:1"),
                 ("SET", "lesson16:tickets:1", "b"))

check_quiz = Quiz(
    2,
    why="the SET changes lesson16:ticket:1 (one message) and the first DEL deletes it (a "
        "second). A GET changes nothing; the second DEL finds no key, so nothing changed; and "
        "lesson16:tickets:1 does not start with the prefix lesson16:ticket: (its 's' comes "
        "where the prefix has ':'). Invalidations follow changes, not commands.",
    hint="go through the commands one by one: which of them changes a key, and is that key "
         "under the prefix, character for character?",
    giveaways=("2 messages", "two messages"))

check_quiz_2 = Quiz(
    "b",
    why="tracking belongs to the connection that sent CLIENT TRACKING: it stays on for that "
        "connection's life, and ends with it. The listener is still subscribed, but "
        "__redis__:invalidate is not a channel anybody broadcasts on: Redis writes there only "
        "for a connection some tracking redirects to. Nothing tells the listener - which is "
        "why the kit runs both on one connection, and reads it in one thread.",
    hint="whose state is the tracking: the connection that asked for it, or the one that "
         "receives the messages?",
    giveaways=("nothing arrives", "went with it"))
