"""Cache-aside basics on both backends: hits, misses, TTL, JSON, corrupt values, negative
caching, lists, jitter, XFetch, invalidation and the counters."""

from __future__ import annotations

import json
import random
from dataclasses import replace
from datetime import UTC, datetime

import fakeredis
import pytest
import redis

from helpdesk_kit.backends.cluster import ClusterUnavailableError
from helpdesk_kit.backends.replication import Fences
from helpdesk_kit.cache import Cache, CacheStats, invalidation
from helpdesk_kit.cache.codec import decode_ticket, decode_user, encode_ticket, encode_user
from helpdesk_kit.errors import CacheValueError, InvalidationError
from helpdesk_kit.keys import KeySchema
from helpdesk_kit.models import Ticket, User

MOMENT = datetime(2026, 5, 1, 9, 30, tzinfo=UTC)


def make_ticket(ident: int = 7, version: int = 1, title: str = "VPN fails") -> Ticket:
    return Ticket(ident, title, "since Monday", "open", "high", 3, None, MOMENT, MOMENT, version)


class Loader:
    """A loader that counts its calls (the database, as the cache sees it)."""

    def __init__(self, value: object) -> None:
        self.value, self.calls = value, 0

    def __call__(self) -> object:
        self.calls += 1
        return self.value


@pytest.fixture
def cache(redis_client: redis.Redis, keys: KeySchema) -> Cache:
    return Cache(redis_client, keys)


def test_miss_then_hit_stores_json_with_ex_300(cache: Cache, redis_client: redis.Redis,
                                                keys: KeySchema) -> None:
    loader = Loader(make_ticket())
    assert cache.get_ticket(7, loader) == make_ticket()
    assert cache.get_ticket(7, loader) == make_ticket()
    assert loader.calls == 1
    assert 295 <= redis_client.ttl(keys.ticket(7)) <= 300
    assert json.loads(redis_client.get(keys.ticket(7)))["title"] == "VPN fails"
    stats = cache.stats()["ticket"]
    assert (stats.hits, stats.misses, stats.loads) == (1, 1, 1)


def test_seed_operations_cache_get_invalidate_user(cache: Cache, redis_client: redis.Redis,
                                                   keys: KeySchema) -> None:
    user = User(5, "Ana García", "ana@example.com", "agent", True, MOMENT)
    assert cache.get_cached_user(5) is None
    cache.cache_user(user)
    assert redis_client.ttl(keys.user(5)) == 300
    assert cache.get_cached_user(5) == user
    cache.invalidate_user(5)
    assert redis_client.exists(keys.user(5)) == 0
    assert cache.get_cached_user(5) is None


def test_ttl_per_entity_and_from_settings(redis_client: redis.Redis, keys: KeySchema,
                                          settings) -> None:
    cache = Cache(redis_client, keys, ttls={"user": 3600})
    cache.cache_user(User(1, "A", "a@x", "customer", True, MOMENT))
    cache.cache_ticket(make_ticket())
    assert redis_client.ttl(keys.user(1)) > 3000
    assert redis_client.ttl(keys.ticket(7)) <= 300
    assert Cache.from_settings(redis_client, settings.with_(cache_ttl=60)).ttl_for("user") == 60


def test_json_round_trip_keeps_dates_and_types() -> None:
    ticket = replace(make_ticket(), owner_id=4, updated_at=datetime(2026, 5, 2, tzinfo=UTC))
    user = User(9, "Lucía Pérez", "lucia@example.com", "customer", False, MOMENT)
    assert decode_ticket(encode_ticket(ticket)) == ticket
    assert decode_user(encode_user(user)) == user
    assert decode_ticket(encode_ticket(ticket)).updated_at.tzinfo is not None
    assert "Lucía" in encode_user(user)  # readable text, not \\u escapes


@pytest.mark.parametrize("junk", ["not json", '{"id": 7}', "[1, 2]", '"text"', "42", "{"])
def test_corrupt_value_is_a_counted_miss_and_is_replaced(cache: Cache, redis_client: redis.Redis,
                                                         keys: KeySchema, junk: str) -> None:
    redis_client.set(keys.ticket(7), junk)
    loader = Loader(make_ticket())
    assert cache.get_ticket(7, loader) == make_ticket()
    assert loader.calls == 1
    assert decode_ticket(redis_client.get(keys.ticket(7))) == make_ticket()
    stats = cache.stats()["ticket"]
    assert (stats.corrupt, stats.misses, stats.hits) == (1, 1, 0)


def test_corrupt_value_without_loader_is_deleted(cache: Cache, redis_client: redis.Redis,
                                                 keys: KeySchema) -> None:
    redis_client.set(keys.user(3), "<html>")
    assert cache.get_cached_user(3) is None
    assert redis_client.exists(keys.user(3)) == 0
    with pytest.raises(CacheValueError, match="not a user"):
        decode_user("<html>")


def test_missing_row_is_cached_briefly_and_forgotten_on_create(
        cache: Cache, redis_client: redis.Redis, keys: KeySchema) -> None:
    loader = Loader(None)
    assert cache.get_ticket(99, loader) is None
    assert cache.get_ticket(99, loader) is None
    assert loader.calls == 1
    assert redis_client.get(keys.ticket(99)) == "null"
    assert 0 < redis_client.ttl(keys.ticket(99)) <= cache.negative_ttl
    assert cache.stats()["ticket"].negative_hits == 1
    cache.forget_missing("ticket", 99)  # the app calls this after creating ticket 99
    loader.value = make_ticket(99)
    assert cache.get_ticket(99, loader) == make_ticket(99)
    assert loader.calls == 2


def test_ticket_lists_are_cached_per_filter_and_page(cache: Cache, store) -> None:
    def page(**filters: object) -> list[Ticket]:
        return cache.get_ticket_list(lambda: store.list_tickets(**filters), **filters)

    first = page()
    assert len(first) == 100
    assert page() == first
    assert page(status="open") == store.list_tickets(status="open")
    assert page(offset=100) == store.list_tickets(offset=100)
    stats = cache.stats()["tickets"]
    assert (stats.hits, stats.misses, stats.loads) == (1, 3, 3)


def test_a_ticket_change_makes_every_cached_list_stale(cache: Cache, store) -> None:
    def page(**filters: object) -> list[Ticket]:
        return cache.get_ticket_list(lambda: store.list_tickets(**filters), **filters)

    before_all, before_urgent = page(), page(priority="urgent")
    victim = before_all[-1]
    store.update_ticket(victim.id, priority="urgent", title="Changed")
    assert page() == before_all  # not invalidated yet: the cache still serves the old page
    cache.invalidate_ticket(victim.id)
    after_all, after_urgent = page(), page(priority="urgent")
    assert after_all == store.list_tickets() != before_all
    assert after_urgent == store.list_tickets(priority="urgent") != before_urgent
    assert any(t.title == "Changed" for t in after_urgent)


def test_jitter_stays_within_bounds(redis_client: redis.Redis, keys: KeySchema) -> None:
    cache = Cache(redis_client, keys, ttl=300, jitter=0.1, rng=random.Random(1))
    ttls = [cache.ttl_for("ticket") for _ in range(2000)]
    assert min(ttls) >= 300 and max(ttls) <= 330
    assert len(set(ttls)) > 20  # really random, not a constant
    cache.cache_ticket(make_ticket())
    assert 290 <= redis_client.ttl(keys.ticket(7)) <= 330
    assert Cache(redis_client, keys).ttl_for("ticket") == 300  # no jitter by default
    with pytest.raises(ValueError, match="jitter"):
        Cache(redis_client, keys, jitter=1.5)


def test_xfetch_refreshes_early_near_expiry(redis_client: redis.Redis, keys: KeySchema) -> None:
    cache = Cache(redis_client, keys, early_refresh=True, rng=random.Random(42))
    loader = Loader(make_ticket(version=1))
    cache.get_ticket(7, loader)
    cache.load_seconds["ticket"] = 0.0001  # a fast load, key far from expiry: never early
    for _ in range(50):
        cache.get_ticket(7, loader)
    assert loader.calls == 1
    redis_client.expire(keys.ticket(7), 2)  # near expiry...
    cache.load_seconds["ticket"] = 5.0  # ...and slow to reload: refresh now
    loader.value = make_ticket(version=2)
    assert cache.get_ticket(7, loader).version == 2
    assert loader.calls == 2
    assert redis_client.ttl(keys.ticket(7)) > 250
    assert cache.stats()["ticket"].refreshes == 1


def test_pattern_invalidation_uses_scan_never_keys(cache: Cache, redis_client: redis.Redis,
                                                   keys: KeySchema,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    for i in range(1, 1201):
        cache.cache_ticket(make_ticket(i))
    cache.cache_user(User(1, "A", "a@x", "customer", True, MOMENT))

    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError("KEYS blocks the server: use SCAN")

    scanned: list[str] = []
    real_scan = redis_client.scan_iter

    def spy(*args: object, **kwargs: object):
        scanned.append(str(kwargs.get("match")))
        return real_scan(*args, **kwargs)

    monkeypatch.setattr(redis_client, "keys", forbidden)
    monkeypatch.setattr(redis_client, "scan_iter", spy)
    assert cache.invalidate_pattern("ticket") == 1200
    assert scanned == [keys.pattern("ticket")]
    assert redis_client.exists(keys.ticket(5)) == 0
    assert redis_client.exists(keys.user(1)) == 1


def test_an_invalidation_that_cannot_plan_its_confirmation_deletes_and_says_so(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """On a replicated Redis the confirmation is planned before the MULTI; a slot map with
    a hole (mid-failover on a cluster) must not stop the delete, and must not pass quietly."""
    client = fakeredis.FakeRedis(decode_responses=True)
    cache = Cache(client, KeySchema("plan:"))
    cache.cache_ticket(make_ticket())

    def no_plan(*_args: object, **_kwargs: object) -> None:
        raise ClusterUnavailableError("SlotNotCoveredError: slot 1234 has no node")

    monkeypatch.setattr(invalidation, "replicas_to_wait_for", lambda _client: 1)
    monkeypatch.setattr(Fences, "plan", no_plan)
    with pytest.raises(InvalidationError, match="slot 1234 has no node"):
        cache.invalidate_ticket(7)
    assert client.exists("plan:ticket:7") == 0  # deleted all the same
    assert client.get("plan:gen:ticket:7") == "1"


def test_flush_all_is_the_seeds_counter_example() -> None:
    client = fakeredis.FakeRedis(decode_responses=True)  # never FLUSHDB a shared server
    cache = Cache(client, KeySchema("a:"))
    cache.cache_ticket(make_ticket())
    client.set("someone-else:key", "x")
    cache.flush_all()
    assert client.dbsize() == 0


def test_failed_invalidation_is_loud(dead_redis: redis.Redis) -> None:
    cache = Cache(dead_redis, KeySchema("t:"), invalidation_retries=1, retry_after=0)
    with pytest.raises(InvalidationError, match="after 2 attempts"):
        cache.invalidate_ticket(7)
    with pytest.raises(InvalidationError):
        cache.invalidate_pattern("ticket")
    # reads fail open: the data comes from the loader, the error is counted
    assert cache.get_ticket(7, Loader(make_ticket())) == make_ticket()
    assert cache.get_ticket_list(lambda: [make_ticket()]) == [make_ticket()]
    assert cache.get_cached_user(1) is None
    assert cache.total_stats().errors == 3
    assert cache.total_stats().loads == 2


def test_stats_accounting(cache: Cache) -> None:
    assert cache.total_stats() == CacheStats()
    assert cache.total_stats().hit_rate is None
    present, absent = Loader(make_ticket()), Loader(None)
    for _ in range(4):
        cache.get_ticket(7, present)
    cache.get_ticket(8, absent)
    cache.get_ticket(8, absent)
    cache.get_user(1, Loader(User(1, "A", "a@x", "customer", True, MOMENT)))
    ticket, user = cache.stats()["ticket"], cache.stats()["user"]
    assert (ticket.hits, ticket.misses, ticket.negative_hits, ticket.loads) == (4, 2, 1, 2)
    assert ticket.hit_rate == pytest.approx(4 / 6)
    assert (user.hits, user.misses) == (0, 1)
    total = cache.total_stats()
    assert (total.hits, total.misses, total.loads) == (4, 3, 3)
    cache.reset_stats()
    assert cache.stats() == {}
    assert cache.total_stats().hit_rate is None


def test_cluster_keys_of_each_multi_key_command_share_one_slot() -> None:
    from redis.crc import key_slot

    cluster, single = KeySchema("c:", cluster=True), KeySchema("c:")
    for entity, ident in (("ticket", 5), ("user", 12), ("ticket", 99999)):
        # the guard script: the value and its generation counter
        assert key_slot(cluster.entity(entity, ident).encode()) == key_slot(
            cluster.generation(entity, ident).encode())
    pages = [cluster.ticket_list(None, None, None, 100, 0),
             cluster.ticket_list("open", "high", 3, 20, 40)]
    # the list read (MGET page + list generation) and the list's guarded set
    assert {key_slot(k.encode()) for k in [*pages, cluster.generation("tickets")]} == {
        key_slot(cluster.generation("tickets").encode())}
    # tasks: LMOVE pending -> processing
    assert key_slot(cluster.tasks_pending.encode()) == key_slot(
        cluster.tasks_processing("w1").encode())
    # without cluster the names stay the design's
    assert (single.ticket(5), single.generation("ticket", 5)) == ("c:ticket:5", "c:gen:ticket:5")
    assert single.ticket_list(None, None, None, 100, 0).startswith("c:tickets:status=any")
    # and a pattern still finds exactly one entity's keys
    assert cluster.pattern("ticket") == "c:{ticket:*"
    assert cluster.ticket(5) == "c:{ticket:5}" and cluster.user(5) == "c:{user:5}"


def test_cluster_names_work_end_to_end(redis_client: redis.Redis, key_prefix: str,
                                       store) -> None:
    cache = Cache(redis_client, KeySchema(key_prefix, cluster=True))
    loader = Loader(make_ticket())
    assert cache.get_ticket(7, loader) == cache.get_ticket(7, loader) == make_ticket()
    assert redis_client.exists(f"{key_prefix}{{ticket:7}}") == 1
    first = cache.get_ticket_list(lambda: store.list_tickets(limit=10), limit=10)
    assert cache.get_ticket_list(lambda: [], limit=10) == first  # a hit
    cache.invalidate_ticket(7)
    assert redis_client.exists(f"{key_prefix}{{ticket:7}}") == 0
    assert cache.get_ticket_list(lambda: [], limit=10) == []  # stale page: reloaded
    assert cache.invalidate_pattern("ticket") == 0
    assert loader.calls == 1


def test_put_with_a_ttl_overrides_the_entity_ttl_and_jitter(cache: Cache,
                                                             redis_client: redis.Redis,
                                                             keys: KeySchema) -> None:
    cache.policy = replace(cache.policy, jitter=0.5)
    cache.put("ticket", 7, make_ticket(), ttl=42)
    assert 40 <= redis_client.ttl(keys.ticket(7)) <= 42
    assert cache.get_cached_ticket(7) == make_ticket()
    cache.put("ticket", 8, make_ticket(8))
    assert 295 <= redis_client.ttl(keys.ticket(8)) <= 450  # no ttl: the entity's, jittered
    for bad in (0, -5, 2.5, True):
        with pytest.raises(ValueError, match="positive number of seconds"):
            cache.put("ticket", 9, make_ticket(9), ttl=bad)  # type: ignore[arg-type]
    assert redis_client.exists(keys.ticket(9)) == 0  # nothing half-stored


def test_sessions_are_stored_read_with_a_sliding_ttl_and_invalidated(
        redis_client: redis.Redis, keys: KeySchema) -> None:
    cache = Cache(redis_client, keys, ttls={"session": 1800})
    cache.cache_session("abc", {"user_id": 42, "role": "agent"}, ttl=60)
    key = keys.session("abc")
    assert json.loads(redis_client.get(key)) == {"user_id": 42, "role": "agent"}
    assert 55 <= redis_client.ttl(key) <= 60
    assert cache.get_cached_session("abc") == {"user_id": 42, "role": "agent"}
    assert redis_client.ttl(key) > 1700  # the read slid it to the session TTL
    assert cache.get_cached_session("abc", ttl=90) is not None
    assert 85 <= redis_client.ttl(key) <= 90
    cache.invalidate_session("abc")
    assert redis_client.exists(key) == 0
    assert cache.get_cached_session("abc") is None
    assert (cache.stats()["session"].hits, cache.stats()["session"].misses) == (2, 1)


def test_bad_session_input_is_refused_and_a_corrupt_session_is_a_miss(
        cache: Cache, redis_client: redis.Redis, keys: KeySchema) -> None:
    with pytest.raises(TypeError, match="must be a dict"):
        cache.cache_session("abc", ["not", "a", "dict"])  # type: ignore[arg-type]
    for bad_id in ("", None, 7):
        with pytest.raises(ValueError, match="non-empty string"):
            cache.cache_session(bad_id, {})  # type: ignore[arg-type]
    assert redis_client.exists(keys.session("abc")) == 0
    redis_client.set(keys.session("abc"), "[1, 2]")
    assert cache.get_cached_session("abc") is None
    assert redis_client.exists(keys.session("abc")) == 0  # deleted, not served
    assert cache.stats()["session"].corrupt == 1


def test_session_reads_fail_open_and_logouts_fail_loud(dead_redis: redis.Redis) -> None:
    cache = Cache(dead_redis, KeySchema("t:"), invalidation_retries=0, retry_after=0)
    assert cache.get_cached_session("abc") is None
    assert cache.stats()["session"].errors == 1
    with pytest.raises(InvalidationError, match="session:abc"):
        cache.invalidate_session("abc")


USER = User(5, "Ana", "ana@example.com", "agent", True, datetime(2026, 5, 1, tzinfo=UTC))


@pytest.mark.parametrize("entity", ["user", "ticket", "session", "tickets"])
def test_every_invalidation_makes_the_next_read_load_the_new_row(
        cache: Cache, redis_client: redis.Redis, keys: KeySchema, entity: str) -> None:
    """One test per entity: an invalidation that forgot its DEL (or its counter) fails here."""
    old, new = make_ticket(title="old"), make_ticket(title="new")
    if entity == "user":
        cache.cache_user(USER)
        cache.invalidate_user(USER.id)
        assert redis_client.exists(keys.user(USER.id)) == 0
        assert cache.get_user(USER.id, Loader(replace(USER, name="Bea"))).name == "Bea"
    elif entity == "ticket":
        cache.cache_ticket(old)
        cache.invalidate_ticket(old.id)
        assert redis_client.exists(keys.ticket(old.id)) == 0
        assert cache.get_ticket(old.id, Loader(new)) == new
    elif entity == "session":
        cache.cache_session("s1", {"user": 1})
        cache.invalidate_session("s1")
        assert redis_client.exists(keys.session("s1")) == 0
        assert cache.get_cached_session("s1") is None
    else:  # a cached page is made stale by the list counter, then reloaded
        assert cache.get_ticket_list(Loader([old])) == [old]
        cache.invalidate_ticket(old.id)
        assert cache.get_ticket_list(Loader([new])) == [new]
