"""The conformance check of lesson 13's piece: the rate limiter of ticket creation.

``allow_ticket(client, keys, user_id, limit, window_ms)`` answers whether ``user_id`` may
create one more ticket: at most ``limit`` per window of ``window_ms`` milliseconds, counted
under ``keys.rate_limit("tickets", user_id)``, a key that expires with the window. The seed
calls this "operaciones atómicas complejas": the check holds the piece to the two things
that make it a Lua script rather than a few commands from Python -

* **another request between two of its commands** changes nothing: the check runs a whole
  second call of the piece right after the piece's first reply (a client that gets a turn
  in between, as on a busy server), and exactly one of the two may take the last slot;
* **a crash between two of its commands** leaves no count without an expiry (a user locked
  out for good): the check drops the connection right after the piece's first reply.

Both are staged, not raced, so the verdict is the same on every run. The kit's
:class:`~helpdesk_kit.app.RateLimiter` (a sliding log) passes the same steps as the
exercise's fixed window: the check judges what Redis holds and what the calls answered.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import redis

from ..output import capture_logs
from .steps import Pieces, Steps, Workspace

__all__ = ["check_rate_limit"]

#: The windows the check uses (ms): long enough that none ends by itself during the check.
WINDOW_MS = 5000
#: What the check shortens a window's remaining time to, to see whether a call pushes it back.
SHORTENED_MS = 1000


class _Interrupted(redis.Redis):
    """A client on the same connections that runs ``after()`` once, right after its first
    reply (a plain command, or a pipeline's ``execute()``)."""

    def __init__(self, base: redis.Redis, after: Callable[[], None]) -> None:
        super().__init__(connection_pool=base.connection_pool)
        self._after: Callable[[], None] | None = after

    def fire(self) -> None:
        after = self._after
        self._after = None
        if after is not None:
            after()

    def execute_command(self, *args: Any, **options: Any) -> Any:
        reply = super().execute_command(*args, **options)
        self.fire()
        return reply

    def pipeline(self, transaction: bool = True, shard_hint: Any = None) -> Any:
        return _InterruptedPipeline(self, transaction, shard_hint)


class _InterruptedPipeline(redis.client.Pipeline):
    def __init__(self, owner: _Interrupted, transaction: bool, shard_hint: Any) -> None:
        super().__init__(owner.connection_pool, owner.response_callbacks, transaction,
                         shard_hint)
        self._owner = owner

    def execute(self, raise_on_error: bool = True) -> Any:
        replies = super().execute(raise_on_error)
        self._owner.fire()
        return replies


def _verdict(value: Any) -> bool | None:
    """True (allowed), False (refused), or None for an answer that is neither."""
    if value is None or value is False or (isinstance(value, int) and value == 0):
        return False
    if value is True or (isinstance(value, int) and value == 1):
        return True
    return None


class _Limiter:
    """Calls the piece for the check, turning its answers into verdicts."""

    def __init__(self, run: Steps, ws: Workspace) -> None:
        self.run = run
        self.ws = ws

    def key(self, user_id: int) -> str:
        return self.ws.keys.rate_limit("tickets", user_id)

    def allow(self, user_id: int, limit: int, client: redis.Redis | None = None) -> bool:
        with capture_logs():  # the kit's limiter logs when it fails open
            value = self.run.call("allow_ticket", client or self.ws.client, self.ws.keys,
                                  user_id, limit, WINDOW_MS)
        verdict = _verdict(value)
        self.run.expect(verdict is not None, f"allow_ticket returned {value!r}: return True "
                        "(allowed) or False (refused). A Lua `return 1` reaches Python as 1: "
                        "compare it (== 1).")
        return bool(verdict)


def check_rate_limit(pieces: Pieces, ws: Workspace) -> list[str]:
    """At most ``limit`` per window, one atomic step per call, a window that always ends."""
    run = Steps(pieces)
    limiter = _Limiter(run, ws)
    with run.step("the first call of a window is allowed"):
        run.expect(limiter.allow(1, 3), "the first call of a fresh window was refused.")
    with run.step("it counts under keys.rate_limit('tickets', user_id), expiring with the "
                  "window"):
        _counts_with_expiry(run, ws, limiter.key(1))
    with run.step("calls up to the limit pass, the next one is refused"):
        got = [limiter.allow(2, 3) for _ in range(4)]
        run.expect(got != [True, True, False, False], "with a limit of 3 only 2 calls passed: "
                   "the count after this call may equal the limit.")
        run.expect(got != [True] * 4, "with a limit of 3, the 4th call passed too: refuse "
                   "once the count is over the limit (remember ARGV values are strings: "
                   "tonumber).")
        run.expect(got == [True, True, True, False], f"with a limit of 3, four calls answered "
                   f"{got}: expected the first three allowed and the 4th refused.")
    with run.step("a refused call does not push the window's end back"):
        ws.client.pexpire(limiter.key(2), SHORTENED_MS)  # as if most of the window had passed
        refused = [limiter.allow(2, 3) for _ in range(3)]
        run.expect(not any(refused), "a call was allowed after the limit was used up.")
        left = int(ws.client.pttl(limiter.key(2)))
        run.expect(left <= SHORTENED_MS, "each refused call pushed the window's end back: a "
                   "user who keeps trying is locked out for good. Start the window's expiry "
                   "only on its first call.")
    with run.step("once the window's key is gone, the user may create again"):
        ws.client.delete(limiter.key(2))  # what the end of the window does
        run.expect(limiter.allow(2, 3), "the key had expired, yet the call was refused.")
    with run.step("a request between two of your commands changes nothing"):
        _interleaved(run, limiter)
    with run.step("a crash between two of your commands leaves no count that never expires"):
        _crashed(run, ws, limiter)
    return run.done


def _counts_with_expiry(run: Steps, ws: Workspace, key: str) -> None:
    if not ws.client.exists(key):
        written = sorted(str(k) for k in ws.client.scan_iter(match=f"{ws.keys.prefix}*"))
        where = f" (Redis has {written[0]!r})" if written else ""
        run.expect(False, f"there is no key {key!r} after a call{where}: count under "
                   "keys.rate_limit('tickets', user_id).")
    ttl = int(ws.client.pttl(key))
    run.expect(ttl != -1, f"{key!r} never expires: the user would be limited for ever. Give it "
               "the window as its expiry when the window starts (PEXPIRE).")
    run.expect(ttl <= WINDOW_MS, f"{key!r} expires in {ttl} ms, after the {WINDOW_MS} ms "
               "window: window_ms is in milliseconds (PEXPIRE, not EXPIRE).")


def _interleaved(run: Steps, limiter: _Limiter) -> None:
    """Two requests for the last slot: the other one runs between our first two commands."""
    for _ in range(2):
        limiter.allow(3, 3)
    function = run.pieces["allow_ticket"]
    other: list[Any] = []

    def another_request() -> None:
        try:
            other.append(function(limiter.ws.client, limiter.ws.keys, 3, 3, WINDOW_MS))
        except Exception as exc:  # reported below, not inside the piece's own call
            other.append(exc)

    ours = limiter.allow(3, 3, _Interrupted(limiter.ws.client, another_request))
    run.expect(len(other) == 1, "allow_ticket sent no command to Redis.")
    run.expect(not isinstance(other[0], Exception), f"the other request raised {other[0]!r}.")
    both = [ours, _verdict(other[0])]
    run.expect(both.count(True) < 2, "two requests at the same moment both took the last "
               "slot: another client's commands ran between yours (your check and your "
               "count are separate commands). Make the call one atomic step: a Lua script.")
    run.expect(both.count(True) == 1, "two requests at the same moment for the last slot: "
               "neither got it.")


def _crashed(run: Steps, ws: Workspace, limiter: _Limiter) -> None:
    """The connection drops right after the piece's first reply, on a fresh user's call."""
    def connection_lost() -> None:
        raise redis.ConnectionError("the connection dropped (the check's doing)")

    function = run.pieces["allow_ticket"]
    try:
        with capture_logs():  # the kit's limiter logs that it fails open
            function(_Interrupted(ws.client, connection_lost), ws.keys, 4, 3, WINDOW_MS)
    except Exception:  # noqa: S110 - the crash itself; what it left in Redis is judged below
        pass
    key = limiter.key(4)
    run.expect(not (ws.client.exists(key) and int(ws.client.pttl(key)) == -1),
               f"a crash right after your first command left {key!r} counting with no "
               "expiry: that user is locked out for good. The count and its expiry must "
               "happen together: one Lua script.")
