"""The Lua rate limiter (app.ratelimit): exactly N per window under threads, on both backends."""

from __future__ import annotations

import threading
import time

import redis

from helpdesk_kit.app import HelpdeskApp, helpdesk_queue
from helpdesk_kit.app.ratelimit import RateLimiter
from helpdesk_kit.cache import Cache
from helpdesk_kit.db import HelpdeskStore
from helpdesk_kit.keys import KeySchema


def _hammer(limiter: RateLimiter, user: int, threads: int = 8, calls: int = 40) -> list[bool]:
    results: list[bool] = []
    lock = threading.Lock()
    start = threading.Barrier(threads)

    def run() -> None:
        start.wait()  # all at once: the race a non-atomic limiter loses
        for _ in range(calls):
            allowed = limiter.allow(user)
            with lock:
                results.append(allowed)

    crew = [threading.Thread(target=run) for _ in range(threads)]
    for thread in crew:
        thread.start()
    for thread in crew:
        thread.join()
    return results


def test_exactly_n_allowed_per_window_from_many_threads(redis_client: redis.Redis,
                                                        keys: KeySchema) -> None:
    limiter = RateLimiter(redis_client, keys, limit=10, window_s=30)
    results = _hammer(limiter, user=7)
    assert len(results) == 320 and results.count(True) == 10
    assert limiter.allow(8)  # another user has a window of their own
    ttl = redis_client.pttl(keys.rate_limit("tickets", 7))
    assert 0 < ttl <= 30_000  # the log expires with its window


def test_the_window_slides(redis_client: redis.Redis, keys: KeySchema) -> None:
    limiter = RateLimiter(redis_client, keys, limit=3, window_s=0.3)
    assert [limiter.hit(1).allowed for _ in range(3)] == [True, True, True]
    refused = limiter.hit(1)
    assert not refused.allowed and refused.used == 3
    assert 0 < refused.retry_after_s <= 0.3 and "refused" in str(refused)
    time.sleep(0.35)
    again = limiter.hit(1)
    assert again.allowed and again.used == 1
    limiter.reset(1)
    assert redis_client.exists(keys.rate_limit("tickets", 1)) == 0


def test_create_ticket_is_refused_over_the_limit(redis_client: redis.Redis, keys: KeySchema,
                                                 store: HelpdeskStore) -> None:
    app = HelpdeskApp(store, Cache(redis_client, keys), helpdesk_queue(redis_client, keys))
    app.rate_limiter = RateLimiter(redis_client, keys, limit=2, window_s=60)
    before = store.counts()["tickets"]
    first, second, third = (app.create_ticket(3, f"ticket {n}") for n in range(3))
    assert first["success"] and second["success"]
    assert not third["success"] and "2 tickets per 60 s" in third["error"]
    assert store.counts()["tickets"] == before + 2  # the refused one wrote nothing
    assert app.create_ticket(4, "someone else")["success"]
    assert not app.create_ticket(3, "")["success"]  # bad input is refused before the limiter
    assert redis_client.zcard(keys.rate_limit("tickets", 3)) == 2


def test_the_limiter_fails_open_when_redis_is_down(dead_redis: redis.Redis) -> None:
    decision = RateLimiter(dead_redis, limit=1).hit(1)
    assert decision.allowed and decision.used == 0
