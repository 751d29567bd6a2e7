"""Cache warming (the seed's warmupCache): pipelined and the seed's one-SET loop."""

from __future__ import annotations

import logging

import pytest
import redis

from helpdesk_kit.cache import Cache
from helpdesk_kit.keys import KeySchema


@pytest.mark.parametrize("pipelined", [True, False], ids=["pipelined", "seed-loop"])
def test_warm_users_caches_every_active_user_and_logs_the_seed_line(
        redis_client: redis.Redis, keys: KeySchema, store, caplog: pytest.LogCaptureFixture,
        pipelined: bool) -> None:
    cache = Cache(redis_client, keys)
    active = store.list_users()
    with caplog.at_level(logging.INFO, logger="helpdesk_kit.cache"):
        count = cache.warm_users(store, batch_size=7, pipelined=pipelined, progress=False)
    assert count == len(active) > 0
    assert f"Cache precargado: {len(active)} usuarios" in caplog.messages
    assert sum(1 for _ in redis_client.scan_iter(match=keys.pattern("user"))) == len(active)
    assert 0 < redis_client.ttl(keys.user(active[-1].id)) <= 300
    calls = []
    assert cache.get_user(active[0].id, lambda: calls.append(1)) == active[0]
    assert calls == []  # warmed: a hit, no database call


def test_warm_tickets_respects_the_limit(redis_client: redis.Redis, keys: KeySchema,
                                         store) -> None:
    cache = Cache(redis_client, keys)
    assert cache.warm_tickets(store, limit=25, batch_size=10, progress=False) == 25
    newest = store.list_tickets(limit=25)
    assert all(cache.get_cached_ticket(t.id) == t for t in newest)
    assert sum(1 for _ in redis_client.scan_iter(match=keys.pattern("ticket"))) == 25


def test_warming_everything_and_bad_batch_size(redis_client: redis.Redis, keys: KeySchema,
                                               store) -> None:
    cache = Cache(redis_client, keys)
    assert cache.warm_users(store, active_only=False, progress=False) == store.counts()["users"]
    assert cache.warm_tickets(store, limit=None, progress=False) == store.counts()["tickets"]
    with pytest.raises(ValueError, match="batch_size"):
        cache.warm_users(store, batch_size=0, progress=False)


@pytest.mark.parametrize("lua", [None, False], ids=["lua-script", "pipeline-fallback"])
def test_warming_by_script_or_pipeline_keeps_each_keys_jittered_ttl(
        redis_client: redis.Redis, keys: KeySchema, store, lua: bool | None) -> None:
    cache = Cache(redis_client, keys, ttl=300, jitter=0.5, lua=lua)
    count = cache.warm_users(store, active_only=False, batch_size=9, progress=False)
    assert count == store.counts()["users"]
    assert cache.lua is (lua is None)
    ttls = {redis_client.ttl(keys.user(u.id)) for u in store.list_users(active_only=False)}
    assert min(ttls) >= 295 and max(ttls) <= 450 and len(ttls) > 3  # jitter survived
    user = store.list_users(limit=1)[0]
    assert cache.get_cached_user(user.id) == user


def test_warming_falls_back_to_pipelines_when_scripts_are_refused(
        redis_client: redis.Redis, keys: KeySchema, store,
        monkeypatch: pytest.MonkeyPatch) -> None:
    cache = Cache(redis_client, keys)

    def refused(**kwargs: object) -> None:
        raise redis.ResponseError("unknown command 'evalsha'")

    monkeypatch.setattr(cache, "_warm_set", refused)
    assert cache.warm_tickets(store, limit=30, batch_size=10, progress=False) == 30
    assert cache.lua is False  # remembered: later pages go straight to the pipeline
    assert all(cache.get_cached_ticket(t.id) == t for t in store.list_tickets(limit=30))
