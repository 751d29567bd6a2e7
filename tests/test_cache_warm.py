"""Cache warming (the design's warmupCache): pipelined and the design's one-SET loop."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest
import redis
from conftest import refuse_scripts

from helpdesk_kit.cache import Cache
from helpdesk_kit.db import HelpdeskStore
from helpdesk_kit.keys import KeySchema
from helpdesk_kit.models import Ticket


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
    assert cache.scripts.lua is (lua is None)  # the script runner's record
    ttls = {redis_client.ttl(keys.user(u.id)) for u in store.list_users(active_only=False)}
    assert min(ttls) >= 295 and max(ttls) <= 450 and len(ttls) > 3  # jitter survived
    user = store.list_users(limit=1)[0]
    assert cache.get_cached_user(user.id) == user


def test_warming_falls_back_to_pipelines_when_scripts_are_refused(
        redis_client: redis.Redis, keys: KeySchema, store,
        monkeypatch: pytest.MonkeyPatch) -> None:
    cache = Cache(redis_client, keys)
    refuse_scripts(monkeypatch, redis_client, "unknown command 'evalsha'")
    assert cache.warm_tickets(store, limit=30, batch_size=10, progress=False) == 30
    assert cache.scripts.lua is False  # remembered: later pages go straight to the pipeline
    assert all(cache.get_cached_ticket(t.id) == t for t in store.list_tickets(limit=30))


class PausingStore:
    """The real store, but the warm-up's second read of the first page (the rows it stores)
    runs ``meanwhile`` right after reading: a writer acting between the DB read and the SET."""

    def __init__(self, store: HelpdeskStore, meanwhile: Callable[[], None]) -> None:
        self.store, self.meanwhile, self.reads = store, meanwhile, 0

    def counts(self) -> dict[str, int]:
        return self.store.counts()

    def list_tickets(self, **options: Any) -> list[Ticket]:
        rows = self.store.list_tickets(**options)
        self.reads += 1
        if self.reads == 2:  # first read: the page's ids; second: the rows to store
            self.meanwhile()
        return rows


def update_and_invalidate(store: HelpdeskStore, cache: Cache, ticket_id: int
                          ) -> Callable[[], None]:
    """The app's update_ticket: the database write, then the invalidation."""
    def write() -> None:
        store.update_ticket(ticket_id, title="changed while warming")
        cache.invalidate_ticket(ticket_id)
    return write


GUARDS = [pytest.param({}, id="lua-script"), pytest.param({"lua": False}, id="watch-fallback"),
          pytest.param({"cluster": True}, id="cluster-guarded-sets")]


@pytest.mark.parametrize("options", GUARDS)
def test_a_write_racing_the_warm_up_is_not_overwritten_with_the_old_row(
        redis_client: redis.Redis, key_prefix: str, store: HelpdeskStore,
        options: dict[str, Any]) -> None:
    keys = KeySchema(key_prefix, cluster=options.pop("cluster", False))
    cache = Cache(redis_client, keys, **options)
    victim, other = store.list_tickets(limit=2)

    paused = PausingStore(store, update_and_invalidate(store, cache, victim.id))
    assert cache.warm_tickets(paused, limit=10, batch_size=10, progress=False) == 9
    assert paused.reads == 2
    assert redis_client.exists(keys.ticket(victim.id)) == 0  # the old row was not cached
    assert cache.get_cached_ticket(other.id) == other  # the rest of the page was
    fresh = cache.get_ticket(victim.id, lambda: store.get_ticket(victim.id))
    assert fresh is not None and fresh.title == "changed while warming"


def test_without_the_guard_the_race_caches_the_old_row(redis_client: redis.Redis,
                                                       keys: KeySchema,
                                                       store: HelpdeskStore) -> None:
    """The counter-example (``stale_guard=False``): proves the pause really interleaves."""
    cache = Cache(redis_client, keys, stale_guard=False)
    victim = store.list_tickets(limit=1)[0]

    cache.warm_tickets(PausingStore(store, update_and_invalidate(store, cache, victim.id)),
                       limit=10, batch_size=10, progress=False)
    assert cache.get_cached_ticket(victim.id) == victim  # stale: the pre-update row


@pytest.mark.parametrize("options", GUARDS)
def test_a_pattern_invalidation_racing_the_warm_up_drops_the_page(
        redis_client: redis.Redis, key_prefix: str, store: HelpdeskStore,
        options: dict[str, Any]) -> None:
    keys = KeySchema(key_prefix, cluster=options.pop("cluster", False))
    cache = Cache(redis_client, keys, **options)
    paused = PausingStore(store, lambda: cache.invalidate_pattern("ticket"))
    assert cache.warm_tickets(paused, limit=20, batch_size=10, progress=False) == 10
    first_page = store.list_tickets(limit=10)
    assert not any(redis_client.exists(keys.ticket(t.id)) for t in first_page)
    assert all(cache.get_cached_ticket(t.id) == t for t in store.list_tickets(limit=10,
                                                                                offset=10))


def test_the_watch_fallback_retries_when_a_counter_moves_inside_its_transaction(
        redis_client: redis.Redis, keys: KeySchema, store: HelpdeskStore,
        monkeypatch: pytest.MonkeyPatch) -> None:
    cache = Cache(redis_client, keys, lua=False)
    victim = store.list_tickets(limit=1)[0]
    real_mget = redis.client.Pipeline.mget
    calls = []

    def mget_then_invalidate(pipe: Any, *args: Any) -> Any:
        seen = real_mget(pipe, *args)
        if not calls:  # between WATCH and EXEC: the transaction must fail and look again
            redis_client.incr(keys.generation("ticket", victim.id))
        calls.append(1)
        return seen

    monkeypatch.setattr(redis.client.Pipeline, "mget", mget_then_invalidate)
    assert cache.warm_tickets(store, limit=5, batch_size=5, progress=False) == 4
    assert len(calls) == 2
    assert redis_client.exists(keys.ticket(victim.id)) == 0
