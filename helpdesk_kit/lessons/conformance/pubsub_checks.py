"""The conformance check of lesson 12's piece: the notification listener.

``listen_notifications(client, keys, on_notification, stop)`` subscribes to the app's channel
(``keys.notifications_channel``), decodes each message, hands every notification - a JSON
object with a ``taskId`` - to ``on_notification`` once (a retried task publishes the same one
again), and returns when ``stop`` (a :class:`threading.Event`) is set, unsubscribed.

The check runs the piece in a thread of its own, as the app runs a listener, publishes on the
channel the way ``send_notifications`` does - and what anyone else may publish there - and
judges what reached the callback, and whether the subscription is gone once stopped.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any

from .steps import Pieces, Steps, Workspace

__all__ = ["NOTES", "check_listener", "note"]

#: How long the check waits for the piece to subscribe, hear, or stop (seconds). A wait, not
#: a measurement: a right piece answers in milliseconds.
PATIENCE = 3.0


def note(n: int) -> dict[str, Any]:
    """The ``n``-th notification the check publishes, shaped as ``send_notifications``'s."""
    return {"taskId": f"task-{n}", "ticketId": 100 + n, "usuarioId": 3,
            "tipo": "ticket_creado", "createdAt": "2026-06-01T12:00:00+00:00"}


NOTES = [note(n) for n in range(3)]


class _Running:
    """The piece, running in its own thread until ``stop`` is set."""

    def __init__(self, function: Callable[..., Any], ws: Workspace) -> None:
        self.heard: list[Any] = []
        self.stop = threading.Event()
        self.error: str | None = None
        self._lock = threading.Lock()
        self.thread = threading.Thread(target=self._run, args=(function, ws), daemon=True,
                                       name="conformance-listener")
        self.thread.start()

    def _run(self, function: Callable[..., Any], ws: Workspace) -> None:
        try:
            function(ws.client, ws.keys, self._hear, self.stop)
        except Exception as exc:  # the learner's code: its error becomes the step's reason
            self.error = f"listen_notifications raised {type(exc).__name__}: {exc}"

    def _hear(self, value: Any) -> None:
        with self._lock:
            self.heard.append(value)

    def until(self, holds: Callable[[], bool]) -> bool:
        """Wait (up to PATIENCE) until ``holds()`` or the thread ended; returns ``holds()``."""
        deadline = time.monotonic() + PATIENCE
        while not holds() and self.thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.01)
        return holds()


def _subscribers(ws: Workspace, channel: str) -> int:
    return int(ws.client.pubsub_numsub(channel)[0][1])


def _publish(ws: Workspace, channel: str, *messages: Any) -> None:
    for message in messages:
        ws.client.publish(channel, message if isinstance(message, str) else json.dumps(message))


def _why_silent(running: _Running, what: str) -> str:
    if running.error:
        return running.error
    if not running.thread.is_alive():
        return ("listen_notifications returned before stop was set: keep reading in a loop "
                "until stop.is_set().")
    return what


def check_listener(pieces: Pieces, ws: Workspace) -> list[str]:
    """Subscribe, decode, skip what is not a notification, drop repeats, stop when told."""
    run = Steps(pieces)
    channel = ws.keys.notifications_channel
    function = pieces.get("listen_notifications")
    if not callable(function):
        with run.step("it subscribes to the app's channel"):
            run.expect(False, "there is no function listen_notifications to call")
    running = _Running(function, ws)  # type: ignore[arg-type]
    try:
        with run.step("it subscribes to the app's channel"):
            _subscribes(run, ws, channel, running)
        with run.step("a notification reaches on_notification, decoded"):
            _decodes(run, ws, channel, running)
        with run.step("what is not a notification is skipped, and listening goes on"):
            _skips(run, ws, channel, running)
        with run.step("a repeat (the same taskId again) is dropped"):
            _drops_repeats(run, ws, channel, running)
        with run.step("it returns when stop is set, unsubscribed"):
            _stops(run, ws, channel, running)
    finally:
        running.stop.set()
        running.thread.join(PATIENCE)
    return run.done


def _subscribes(run: Steps, ws: Workspace, channel: str, running: _Running) -> None:
    if running.until(lambda: _subscribers(ws, channel) >= 1):
        return
    elsewhere = [str(c) for c in ws.client.pubsub_channels(f"{ws.keys.prefix}*")]
    where = f" (it subscribed to {elsewhere[0]!r})" if elsewhere else ""
    run.expect(False, _why_silent(running, f"nobody subscribed to {channel!r}{where}: "
                                  "client.pubsub(), then .subscribe(keys.notifications_channel)."))


def _decodes(run: Steps, ws: Workspace, channel: str, running: _Running) -> None:
    _publish(ws, channel, NOTES[0])
    running.until(lambda: len(running.heard) >= 1)
    run.expect(bool(running.heard), _why_silent(running, "nothing reached on_notification "
               "after a PUBLISH: read with get_message(timeout=...) in a loop and call "
               "on_notification with each notification."))
    first = running.heard[0]
    run.expect(not (isinstance(first, dict) and first.get("type") in ("message", "subscribe")),
               "on_notification got redis-py's message envelope: the notification is the "
               "JSON in its 'data', decoded (json.loads).")
    run.expect(not isinstance(first, str | bytes), "on_notification got the raw text: decode "
               "it with json.loads and hand over the dict.")
    run.expect(first == NOTES[0], f"on_notification got {first!r}, not the notification that "
               "was published.")


def _skips(run: Steps, ws: Workspace, channel: str, running: _Running) -> None:
    _publish(ws, channel, "hello, this is not JSON", "[1, 2]", {"hello": "no taskId"},
             NOTES[1])
    running.until(lambda: NOTES[1] in running.heard)
    for heard in running.heard:
        run.expect(heard in NOTES, f"on_notification got {heard!r}: anyone may publish on a "
                   "channel - hand over only JSON objects that have a taskId.")
    run.expect(NOTES[1] in running.heard, _why_silent(running, "after some messages that are "
               "not notifications, the next notification never arrived."))


def _drops_repeats(run: Steps, ws: Workspace, channel: str, running: _Running) -> None:
    _publish(ws, channel, NOTES[1], NOTES[2])
    running.until(lambda: NOTES[2] in running.heard)
    run.expect(running.heard.count(NOTES[1]) == 1, "the same notification reached "
               "on_notification twice: a retried task publishes again - remember the taskIds "
               "you handed over and drop a repeat.")
    run.expect(running.heard == NOTES, _why_silent(running, f"on_notification got "
               f"{running.heard!r}: expected the three notifications, once each, in the order "
               "they were published."))


def _stops(run: Steps, ws: Workspace, channel: str, running: _Running) -> None:
    running.stop.set()
    running.thread.join(PATIENCE)
    run.expect(not running.thread.is_alive(), "it was still listening after stop was set: look "
               "at stop.is_set() each time round the loop, and read with a timeout "
               "(get_message(timeout=0.1)) so the loop comes round.")
    run.expect(running.error is None, str(running.error))
    run.expect(_subscribers(ws, channel) == 0, "it returned, but its subscription is still open "
               "on the server: close the pubsub (pubsub.close()) before returning.")
