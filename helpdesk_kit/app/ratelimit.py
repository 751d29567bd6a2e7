"""A rate limiter in Lua: how many tickets one user may create per window (lesson 13).

The classic race: "read the count, compare, then add" in Python is three round trips, and
two requests of the same user that run at the same time both read "4 of 5" and both create
a ticket. A Lua script runs inside Redis *atomically*: no other command runs between its
steps, so check-and-add is one step, however many clients hammer it.

This one keeps a **sliding log**: a sorted set ``ratelimit:tickets:{user}`` of the moments
(microseconds, from Redis's own clock: ``TIME``) of the user's recent tickets. A call drops
the moments older than the window, counts the rest, and adds this one only if the count is
under the limit - so a user gets exactly ``limit`` tickets in any window, not ``2 x limit``
across the edge of two fixed windows (the fixed window is lesson 13's exercise). The key
expires with its window, so idle users cost nothing.

Redis down: the limiter *fails open* (allows, and logs why): a helpdesk that cannot take
tickets when its cache is down is worse than one that is briefly unlimited.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass

import redis

from ..backends.scripts import Library, ScriptRunner
from ..errors import InputError
from ..keys import KeySchema

__all__ = ["RATE_LIMIT_LIBRARY", "SLIDING_LOG", "RateDecision", "RateLimiter"]

log = logging.getLogger("helpdesk_kit.app")

#: KEYS[1] the user's log (ZSET); ARGV[1] limit, ARGV[2] window in ms, ARGV[3] a unique member.
#: Returns {allowed (1/0), used in this window, ms until a slot frees up (0 if allowed)}.
SLIDING_LOG = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local window = tonumber(ARGV[2]) * 1000
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local used = redis.call('ZCARD', KEYS[1])
if used >= tonumber(ARGV[1]) then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return {0, used, math.ceil((tonumber(oldest[2]) + window - now) / 1000)}
end
redis.call('ZADD', KEYS[1], now, ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return {1, used + 1, 0}
"""

#: The rate limiter's script as a Functions library (:mod:`helpdesk_kit.backends.scripts`).
RATE_LIMIT_LIBRARY = Library("helpdesk_kit_ratelimit", {"sliding_log": SLIDING_LOG})


@dataclass(frozen=True)
class RateDecision:
    """One call's verdict: allowed or not, how much of the window is used, when to retry."""

    allowed: bool
    used: int
    limit: int
    retry_after_s: float = 0.0

    def __str__(self) -> str:
        if self.allowed:
            return f"allowed ({self.used} of {self.limit} in this window)"
        return f"refused ({self.limit} of {self.limit} used; a slot frees in " \
               f"{self.retry_after_s:.1f} s)"


class RateLimiter:
    """At most ``limit`` calls of ``action`` per user in any ``window_s`` seconds."""

    def __init__(self, client: redis.Redis, keys: KeySchema | None = None, *,
                 action: str = "tickets", limit: int = 5, window_s: float = 60.0) -> None:
        if limit < 1 or window_s <= 0:
            raise ValueError("limit must be at least 1 and window_s positive")
        self.client = client
        self.keys = keys or KeySchema()
        self.action = action
        self.limit = limit
        self.window_s = window_s
        #: The limiter's script: FCALL of its library, or EVALSHA.
        self.scripts = ScriptRunner(client, RATE_LIMIT_LIBRARY)

    def __repr__(self) -> str:
        return f"RateLimiter({self.action!r}, {self.limit} per {self.window_s:g} s)"

    def hit(self, user_id: object) -> RateDecision:
        """Count one call for ``user_id`` if there is room; the verdict either way."""
        key = self.keys.rate_limit(self.action, user_id)
        try:
            window_ms = max(1, int(self.window_s * 1000))
            reply = self.scripts.run("sliding_log", [key],
                                     [self.limit, window_ms, secrets.token_hex(8)])
            allowed, used, wait_ms = reply
        except (redis.RedisError, ImportError) as exc:  # ImportError: fakeredis without lupa
            log.warning("rate limiter unavailable (%s: %s); allowing", type(exc).__name__, exc)
            return RateDecision(True, 0, self.limit)
        return RateDecision(bool(allowed), int(used), self.limit, int(wait_ms) / 1000)

    def allow(self, user_id: object) -> bool:
        return self.hit(user_id).allowed

    def require(self, user_id: object) -> RateDecision:
        """:meth:`hit`, raising :class:`~helpdesk_kit.errors.InputError` when refused (the
        action then answers ``success: False`` with the reason and when to try again)."""
        decision = self.hit(user_id)
        if not decision.allowed:
            raise InputError(f"user {user_id} may create {self.limit} {self.action} per "
                             f"{self.window_s:g} s: try again in "
                             f"{decision.retry_after_s:.1f} s")
        return decision

    def reset(self, user_id: object) -> None:
        """Forget a user's window (an admin lifting the limit)."""
        self.client.delete(self.keys.rate_limit(self.action, user_id))
