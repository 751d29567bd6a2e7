"""Lesson 16's exercise: an invalidation listener in plain redis-py, checked against a live writer.

The check runs on a Redis server of its own (it kills a connection and flushes the database),
whatever backend the lesson runs on: the solution passes it on both (tests/test_solutions.py);
here, the usual mistakes each break the step that names them, a listener that keeps tracking
on its own connection passes too, and a function that waits for ever does not hang it.
"""

from __future__ import annotations

from typing import Any

import pytest
import redis
from test_solutions import SOLUTIONS, load_solution

from helpdesk_kit.backends import RedisServer
from helpdesk_kit.lessons import CheckResult, Lesson
from helpdesk_kit.lessons.exercises import lesson16

SOLUTION = load_solution(SOLUTIONS / "lesson16.py")
#: The check reads nothing from the lesson: it starts a server of its own.
NO_LESSON: Lesson = None  # type: ignore[assignment]


@pytest.fixture(autouse=True)
def _short_patience(monkeypatch: pytest.MonkeyPatch, redis_server: RedisServer) -> None:
    """A wrong answer waits out the check's patience; loopback messages take microseconds.
    (``redis_server`` makes the test skip, or fail in CI, where no server program exists.)"""
    monkeypatch.setattr(lesson16, "PATIENCE", 0.5)


def _check(listen: Any = None, apply: Any = None) -> CheckResult:
    return lesson16.check(NO_LESSON, listen or SOLUTION.listen_for_changes,
                          apply or SOLUTION.apply_invalidations)


# --- listen_for_changes: what Redis must end up holding ---------------------------------------
def _only_subscribes(client: Any, prefix: str) -> Any:
    listener = client.pubsub()
    listener.subscribe(lesson16.CHANNEL)
    return listener


def _subscribed(client: Any) -> tuple[Any, int]:
    """A listener subscribed to the channel, and its id (asked before it subscribed)."""
    listener = client.pubsub()
    listener.execute_command("CLIENT ID")
    listener_id = listener.parse_response()
    listener.subscribe(lesson16.CHANNEL)
    return listener, listener_id


def _default_mode(client: Any, prefix: str) -> Any:
    listener, listener_id = _subscribed(client)
    client.client_tracking_on(clientid=listener_id)  # no BCAST: only keys it read itself
    return listener


def _redirects_to_itself(client: Any, prefix: str) -> Any:
    listener = client.pubsub()
    listener.subscribe(lesson16.CHANNEL)
    client.client_tracking_on(clientid=client.client_id(), bcast=True, prefix=[prefix])
    return listener


def _subscribes_first(client: Any, prefix: str) -> Any:
    listener = client.pubsub()
    listener.subscribe(lesson16.CHANNEL)
    listener.execute_command("CLIENT ID")  # too late: what comes back is the confirmation
    client.client_tracking_on(clientid=listener.parse_response(), bcast=True, prefix=[prefix])
    return listener


def _prefix_as_a_string(client: Any, prefix: str) -> Any:
    listener, listener_id = _subscribed(client)
    client.client_tracking_on(clientid=listener_id, bcast=True, prefix=prefix)
    return listener


def _every_key(client: Any, prefix: str) -> Any:
    listener, listener_id = _subscribed(client)
    client.client_tracking_on(clientid=listener_id, bcast=True)  # no PREFIX: every key
    return listener


def _one_connection(client: Any, prefix: str) -> Any:
    """The kit's way: tracking on the listener's own connection, redirected to itself."""
    listener = client.pubsub()
    listener.execute_command("CLIENT ID")
    own_id = listener.parse_response()
    listener.execute_command("CLIENT TRACKING", "ON", "REDIRECT", own_id, "BCAST", "PREFIX",
                             prefix)
    listener.parse_response()
    listener.subscribe(lesson16.CHANNEL)
    return listener


# --- apply_invalidations: what local must hold -----------------------------------------------
def _clears_everything(listener: Any, local: dict[str, Any]) -> bool:
    while (message := listener.get_message(timeout=0.01)) is not None:
        if message["type"] == "message":
            local.clear()
    return True


def _ignores_flushes(listener: Any, local: dict[str, Any]) -> bool:
    try:
        while (message := listener.get_message(timeout=0.01)) is not None:
            if message["type"] == "message" and message["data"] is not None:
                for key in message["data"]:
                    local.pop(key, None)
    except redis.ConnectionError:
        local.clear()
        return False
    return True


def _lets_the_error_through(listener: Any, local: dict[str, Any]) -> bool:
    while (message := listener.get_message(timeout=0.01)) is not None:
        if message["type"] == "message":
            for key in message["data"] or list(local):
                local.pop(key, None)
    return True


def _waits_for_ever(listener: Any, local: dict[str, Any]) -> bool:
    for message in listener.listen():
        if message["type"] == "message":
            for key in message["data"] or ():
                local.pop(key, None)
    return True


def _returns_nothing(listener: Any, local: dict[str, Any]) -> None:
    SOLUTION.apply_invalidations(listener, local)


@pytest.mark.parametrize(("listen", "apply", "step", "words"), [
    (_subscribes_first, None, 1, "ask CLIENT ID before SUBSCRIBE"),
    (_prefix_as_a_string, None, 1, "one prefix per character"),
    (_only_subscribes, None, 2, "no connection has tracking on"),
    (_default_mode, None, 2, "not in broadcast mode"),
    (_redirects_to_itself, None, 2, "but the subscribed listener is client"),
    (_every_key, None, 4, "outside the prefix"),
    (None, _clears_everything, 3, "keys nobody wrote"),
    (None, _returns_nothing, 2, "returned None while the connection was fine"),
    (None, _waits_for_ever, 2, "never wait for the next one"),
    (None, _ignores_flushes, 5, "data is None"),
    (None, _lets_the_error_through, 6, "catch it, empty local and return False"),
])
def test_a_mistake_breaks_the_step_that_names_it(listen: Any, apply: Any, step: int,
                                                 words: str) -> None:
    result = _check(listen, apply)
    assert result.ok is False
    assert result.message.startswith(f"step {step} "), result.message
    assert words in result.message


def test_the_solution_and_a_one_connection_listener_pass() -> None:
    assert _check().ok is True
    assert _check(_one_connection).ok is True


def test_unanswered_says_so_without_the_algorithm() -> None:
    def listen_for_changes(client, prefix): ...  # type: ignore[no-untyped-def]

    def apply_invalidations(listener, local): ...  # type: ignore[no-untyped-def]

    empty = lesson16.check(NO_LESSON, listen_for_changes, apply_invalidations)
    assert empty.ok is None
    assert empty.message == "replace ... with your answer and run the cell again."
    half = lesson16.check(NO_LESSON, SOLUTION.listen_for_changes, apply_invalidations)
    assert half.ok is None and "apply_invalidations is still only" in half.message
    assert lesson16.check(NO_LESSON, SOLUTION.listen_for_changes).ok is False  # one of two
