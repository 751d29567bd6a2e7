"""NearCache on a real redis-server (CLIENT TRACKING) and on fakeredis (L1 off, with the reason).

Every wait is bounded; nothing here is timed. The two tests the issue asks for by name:
``test_no_reader_keeps_a_value_the_database_no_longer_has`` (a writer process and 4 reader
processes) and ``test_killing_the_tracking_connection_turns_l1_off_until_it_is_back``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest
import redis
from conftest import until

from helpdesk_kit.app import HelpdeskApp
from helpdesk_kit.backends import RedisServer
from helpdesk_kit.cache import Cache, NearCache
from helpdesk_kit.cache.near import near_cache_report
from helpdesk_kit.config import Settings
from helpdesk_kit.db import HelpdeskStore
from helpdesk_kit.keys import KeySchema
from helpdesk_kit.lab.near_cache import (
    FILE_RUNG,
    L1_RUNG,
    REDIS_RUNG,
    REMOTE_RUNG,
    hit_ladder,
    ladder_plot,
    measure_staleness,
    redis_url,
    staleness_plot,
)
from helpdesk_kit.lessons import Lesson
from helpdesk_kit.models import Ticket
from helpdesk_kit.widgets.near_cache import InvalidationWatch, ladder_table, near_state

MOMENT = datetime(2026, 5, 1, 9, 30, tzinfo=UTC)


def ticket(ident: int = 7, title: str = "VPN fails", version: int = 1) -> Ticket:
    return Ticket(ident, title, "since Monday", "open", "high", 3, None, MOMENT, MOMENT, version)


@pytest.fixture
def near(real_redis: redis.Redis, keys: KeySchema) -> Iterator[NearCache]:
    cache = NearCache(real_redis, keys, retry_tracking=0.2)
    assert cache.wait_active(), cache.reason
    yield cache
    cache.close()


def rewrite(client: redis.Redis, keys: KeySchema, new: Ticket) -> None:
    """Another process's write: a plain SET, no help from our cache object."""
    Cache(client, keys).cache_ticket(new)


def cache_and_hear(near: NearCache, keys: KeySchema, *rows: Ticket) -> None:
    """``near.cache_ticket`` each row, then wait until Redis's echo of each SET has been
    heard: our own writes are invalidations too (BCAST tells every tracker), and a late echo
    would drop the fresh copy a test reads into L1 next."""
    heard: list[list[str] | None] = []

    def hear(names: list[str] | None, _at: float) -> None:
        heard.append(names)

    near.listeners.append(hear)
    try:
        for row in rows:
            near.cache_ticket(row)
        until(lambda: all(any(names and keys.ticket(row.id) in names for names in heard)
                          for row in rows))
    finally:
        near.listeners.remove(hear)


def test_a_second_read_is_answered_in_process(near: NearCache, real_redis: redis.Redis,
                                              keys: KeySchema,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    cache_and_hear(near, keys, ticket())
    until(lambda: near.get_cached_ticket(7) == ticket() and keys.ticket(7) in
          near.local.snapshot())
    near.reset_stats()
    sent: list[object] = []
    for name in ("execute_command", "pipeline"):
        real = getattr(real_redis, name)
        monkeypatch.setattr(real_redis, name, lambda *a, real=real, **k: sent.append(a) or
                            real(*a, **k))
    assert near.get_cached_ticket(7) == ticket()
    assert sent == []  # no round trip at all
    monkeypatch.undo()
    real_redis.delete(keys.ticket(7))  # a DEL is heard like any write
    until(lambda: not near.local.snapshot())
    assert near.get_cached_ticket(7) is None
    l1, total = near.near_stats()["ticket"], near.total_stats()
    assert (l1.hits, l1.misses) == (1, 1)  # L1's part, apart
    assert (total.hits, total.misses) == (1, 1)  # every read counted once, wherever answered


def test_another_writer_drops_our_copy(near: NearCache, real_redis: redis.Redis,
                                       keys: KeySchema) -> None:
    heard: list[list[str] | None] = []
    near.listeners.append(lambda names, at: heard.append(names))
    near.cache_ticket(ticket())
    # our own SET echoes back as an invalidation: read until the copy is kept in L1
    until(lambda: near.get_cached_ticket(7) is not None
          and keys.ticket(7) in near.local.snapshot())
    rewrite(real_redis, keys, ticket(title="changed elsewhere", version=2))
    until(lambda: keys.ticket(7) not in near.local.snapshot())
    assert near.get_cached_ticket(7).title == "changed elsewhere"
    assert [keys.ticket(7)] in heard


def test_a_published_string_on_the_channel_is_ignored_and_tracking_stays_on(
        redis_server: RedisServer, keys: KeySchema) -> None:
    """__redis__:invalidate is a plain channel: anyone allowed on it can PUBLISH there. Only
    Redis's arrays of key names are invalidations; a string must neither end tracking nor
    empty L1 (in a class, one learner could otherwise keep everyone's L1 off).

    The listener reads the channel in order, so once a real invalidation published *after*
    the forged ones has landed, the forged ones were read too: no sleep decides. A server of
    its own (nothing else flushes or evicts there) and a lease no stall can end: whatever
    empties L1 here, it is the forged messages.
    """
    with RedisServer() as server:
        client = server.client()
        near = NearCache(client, keys, retry_tracking=0.2, lease=30.0)
        heard: list[list[str] | None] = []
        near.listeners.append(lambda names, _at: heard.append(names))
        try:
            assert near.wait_active(), near.reason
            cache_and_hear(near, keys, ticket(7), ticket(8))
            until(lambda: all(near.get_cached_ticket(i) is not None
                              and keys.ticket(i) in near.local.snapshot() for i in (7, 8)))
            client_id = near.tracker.client_id
            heard.clear()
            assert client.publish("__redis__:invalidate", keys.ticket(7)) >= 1  # reached us
            assert client.publish("__redis__:invalidate", "\xff not a key list") >= 1
            rewrite(client, keys, ticket(8, title="a real write", version=2))
            until(lambda: keys.ticket(8) not in near.local.snapshot())  # read after the forged
            assert near.active and near.tracker.client_id == client_id  # the same connection
            assert all(names is not None and keys.ticket(7) not in names for names in heard), \
                heard  # the forged messages reached no listener
            assert keys.ticket(7) in near.local.snapshot()  # a forged name invalidates nothing
            rewrite(client, keys, ticket(title="a real write", version=2))
            until(lambda: keys.ticket(7) not in near.local.snapshot())  # real ones still arrive
        finally:
            near.close()
            client.close()


def test_our_own_writes_drop_our_copy_at_once(near: NearCache) -> None:
    near.cache_ticket(ticket())
    near.get_cached_ticket(7)
    near.cache_ticket(ticket(title="mine", version=2))  # no waiting for the message
    assert near.get_cached_ticket(7).title == "mine"
    near.invalidate_ticket(7)
    assert near.get_cached_ticket(7) is None


def test_negative_caching_works_through_l1(near: NearCache) -> None:
    calls: list[int] = []
    loader = lambda: calls.append(1)  # noqa: E731 - the database has no ticket 99
    assert near.get_ticket(99, loader) is None
    until(lambda: near.get_ticket(99, loader) is None and near.near_stats()["ticket"].hits)
    assert len(calls) == 1 and near.near_stats()["ticket"].negative_hits >= 1
    near.forget_missing("ticket", 99)  # the row was created
    assert near.get_ticket(99, lambda: ticket(99)) == ticket(99)


def test_a_row_read_while_it_was_invalidated_is_not_kept(near: NearCache,
                                                         real_redis: redis.Redis,
                                                         keys: KeySchema) -> None:
    """The guard's race, through L1: the key is not in Redis, so only gen:ticket:7 speaks."""
    heard: list[list[str] | None] = []
    near.listeners.append(lambda names, at: heard.append(names))
    entered, release = threading.Event(), threading.Event()

    def slow_database() -> Ticket:
        entered.set()
        release.wait(5)
        return ticket(title="old row")

    got: list[Ticket | None] = []
    reader = threading.Thread(target=lambda: got.append(near.get_ticket(7, slow_database)))
    reader.start()
    assert entered.wait(5)
    Cache(real_redis, keys).invalidate_ticket(7)  # a writer elsewhere: DEL nothing, INCR gen
    until(lambda: any(names and keys.generation("ticket", 7) in names for names in heard))
    release.set()
    reader.join(5)
    assert got == [ticket(title="old row")]  # the reader gets what it read...
    assert keys.ticket(7) not in near.local.snapshot()  # ...but L1 does not keep it
    assert real_redis.get(keys.ticket(7)) is None  # and neither does Redis (the guard)
    assert near.near_stats()["ticket"].refused == 1


def test_l1_is_bounded_and_forgets_the_least_recently_used(real_redis: redis.Redis,
                                                          keys: KeySchema) -> None:
    cache = NearCache(real_redis, keys, size=3)
    try:
        assert cache.wait_active(), cache.reason
        def read_all() -> list[str]:
            for ident in range(1, 6):
                cache.get_ticket(ident, lambda i=ident: ticket(i))
            return sorted(cache.local.snapshot())

        # (a row loaded from the database reaches L1 on its next read: the SET that stored it
        # in Redis comes back as an invalidation, like anyone's write)
        until(lambda: read_all() == sorted(keys.ticket(i) for i in (3, 4, 5)))
        assert len(cache.local) == 3
    finally:
        cache.close()


def test_an_entry_never_outlives_its_redis_ttl(near: NearCache, real_redis: redis.Redis,
                                               keys: KeySchema) -> None:
    near.put("ticket", 7, ticket(), ttl=1)
    until(lambda: near.get_cached_ticket(7) is not None and keys.ticket(7) in
          near.local.snapshot())
    until(lambda: near.get_cached_ticket(7) is None, timeout=3)  # gone from Redis: from L1 too
    assert keys.ticket(7) not in near.local.snapshot()


def test_killing_the_tracking_connection_turns_l1_off_until_it_is_back(
        near: NearCache, real_redis: redis.Redis, keys: KeySchema) -> None:
    near.cache_ticket(ticket())
    until(lambda: near.get_cached_ticket(7) and keys.ticket(7) in near.local.snapshot())
    killed = near.tracker.client_id
    assert killed is not None and real_redis.client_kill_filter(_id=killed) == 1
    until(lambda: not near.active)  # reads stop using L1 first; then it is emptied
    until(lambda: near.reason.startswith("off"))
    assert near.local.snapshot() == {} and near.reason.startswith("off: the tracking")
    hits = near.near_stats()["ticket"].hits
    # Off: a write nobody tells us about is seen at once, because every read goes to Redis.
    rewrite(real_redis, keys, ticket(title="written while L1 was off", version=2))
    for _ in range(20):
        assert near.get_cached_ticket(7).title == "written while L1 was off"
    assert near.near_stats()["ticket"].hits == hits  # L1 answered none of those reads
    time.sleep(near.retry_tracking)
    near.get_cached_ticket(7)  # a read after retry_tracking starts tracking again
    assert near.wait_active(), near.reason
    assert near.tracker.client_id not in (None, killed)
    until(lambda: near.get_cached_ticket(7) and keys.ticket(7) in near.local.snapshot())


def test_a_silent_connection_counts_as_dropped(real_redis: redis.Redis, keys: KeySchema,
                                               redis_server: RedisServer) -> None:
    cache = NearCache(real_redis, keys, ping_every=0.1, lease=0.4)
    pauser = redis_server.client()
    try:
        assert cache.wait_active(), cache.reason
        # Nobody gets an answer for 2.5 s (the UNPAUSE below waits for it: a paused client
        # is paused too): a lease of 0.4 s must run out well inside it, even on a loaded
        # machine (6x).
        pauser.execute_command("CLIENT", "PAUSE", 2500, "ALL")
        until(lambda: not cache.active, timeout=2.4)  # the lease ran out before the pause...
        until(lambda: cache.reason.startswith("off"), timeout=2.4)  # ...and the thread knows
        assert "no answer to PING" in cache.reason and cache.local.snapshot() == {}
    finally:
        pauser.execute_command("CLIENT", "UNPAUSE")
        pauser.close()
        cache.close()


def test_on_fakeredis_l1_is_off_with_the_reason(keys: KeySchema) -> None:
    import fakeredis

    client = fakeredis.FakeRedis(server=fakeredis.FakeServer(), decode_responses=True)
    cache = NearCache(client, keys)
    assert not cache.wait_active(0.1) and "fakeredis has no CLIENT TRACKING" in cache.reason
    assert cache.get_ticket(7, lambda: ticket()) == ticket()
    assert cache.get_ticket(7, lambda: None) == ticket()  # still a cache: Redis answers
    assert cache.near_stats()["ticket"].hits == 0 and cache.total_stats().hits == 1
    assert "off" in near_cache_report(client, keys, Settings(near_cache=True))


def test_the_app_uses_it_when_the_setting_is_on(redis_server: RedisServer, settings: Settings,
                                                store: HelpdeskStore) -> None:
    on = settings.with_(redis_url=redis_server.url, redis_backend="url", near_cache=True,
                        near_cache_size=50)
    with HelpdeskApp.from_settings(on) as app:
        assert isinstance(app.cache, NearCache) and app.cache.local.size == 50
        assert app.cache.wait_active(), app.cache.reason
        first = app.get_ticket(3)["ticket"]
        until(lambda: app.get_ticket(3)["ticket"] == first and app.cache.near_stats())
        app.update_ticket(3, title="renamed")  # our own write: no stale read after it
        assert app.get_ticket(3)["ticket"].title == "renamed"
        app.cache.close()
    with HelpdeskApp.from_settings(on.with_(near_cache=False)) as app:
        assert type(app.cache) is Cache
    assert near_cache_report(app.redis, app.keys, on).startswith("on")


# --- many processes ------------------------------------------------------------------------
READER = textwrap.dedent("""
    import json, random, sys, threading, time
    from helpdesk_kit.app import HelpdeskApp

    app = HelpdeskApp.from_settings()
    near = app.cache
    assert near.wait_active(20), near.reason
    marker, done, heard = near.keys.ticket("done"), threading.Event(), []
    near.listeners.append(lambda names, at: (heard.append(names), names and marker in names
                                             and done.set()))
    app.redis.sadd(near.keys.prefix + "ready", sys.argv[1])
    rng, deadline = random.Random(int(sys.argv[1])), time.monotonic() + 60
    while not done.is_set() and time.monotonic() < deadline:
        app.get_ticket(rng.randint(1, 100))
    # Every message up to the writer's last one is handled; nothing reads any more.
    held = near.local.snapshot()
    stale = [k for k, v in held.items() if v != app.store.get_ticket(int(k.rsplit(":", 1)[1]))]
    print(json.dumps({"marker": done.is_set(), "held": len(held), "stale": stale,
                      "messages": len(heard), "hits": near.near_stats()["ticket"].hits,
                      "active": near.active}))
""")
WRITES = 150
WRITER = textwrap.dedent("""
    import random, sys
    from helpdesk_kit.app import HelpdeskApp

    WRITES = int(sys.argv[1])

    app = HelpdeskApp.from_settings()
    rng = random.Random(7)
    for writes in range(1, WRITES + 1):  # as fast as it can, while 4 readers hammer
        app.update_ticket(rng.randint(1, 100), title=f"write {writes}")
    app.redis.set(app.keys.ticket("done"), "the writer stopped")  # after its last invalidation
    print(writes)
""")


@pytest.mark.slow
def test_no_reader_keeps_a_value_the_database_no_longer_has(
        redis_server: RedisServer, real_redis: redis.Redis, settings: Settings,
        store: HelpdeskStore, key_prefix: str) -> None:
    env = {**os.environ, "REDIS_URL": redis_server.url, "HELPDESK_REDIS_BACKEND": "url",
           "HELPDESK_KEY_PREFIX": key_prefix, "HELPDESK_DATA_DIR": str(settings.data_dir)}
    readers = [subprocess.Popen([sys.executable, "-c", READER, str(n)], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, env={**env, "HELPDESK_NEAR_CACHE": "1"})
               for n in range(4)]
    try:
        until(lambda: real_redis.scard(key_prefix + "ready") == 4, timeout=60)
        writer = subprocess.run([sys.executable, "-c", WRITER, str(WRITES)], env=env,
                                capture_output=True, timeout=120, check=True)
        results = []
        for reader in readers:
            out, err = reader.communicate(timeout=60)
            assert reader.returncode == 0, err.decode()[-2000:]
            results.append(json.loads(out.decode().splitlines()[-1]))
    finally:
        for reader in readers:
            reader.kill()
    print(f"writes {int(writer.stdout)}; readers: {results}")
    assert int(writer.stdout) == WRITES
    for result in results:
        assert result["marker"] and result["active"]  # the last message arrived, tracking on
        assert result["stale"] == []  # no L1 holds a value the database no longer has
        # each update's invalidation is at least one message (gen:ticket:N); L1 was used
        assert result["messages"] >= WRITES and result["hits"] > 0 and result["held"] > 0


# --- lesson 16: the widget and the ladder (the exercise: tests/test_tracking_exercise.py) ------
@pytest.fixture
def lesson(open_lesson: Callable[..., Lesson]) -> Lesson:
    return open_lesson("16_near_cache", users=20, tickets=30)


def test_the_watch_lists_what_another_process_changed(lesson: Lesson) -> None:
    near = NearCache(lesson.client, lesson.keys)
    try:
        watch = InvalidationWatch(lesson, near)
        if lesson.backend.kind == "fake":  # no other process can reach an in-process Redis
            assert watch.button.disabled and "fakeredis" in watch.status.value
            assert "fakeredis" in near_state(near).rows[0][1]
            return
        assert near.wait_active(), near.reason
        written = watch.write_elsewhere([3, 5], pause=0.05)
        assert [ident for ident, _ in written] == [3, 5]
        until(lambda: {lesson.keys.generation("ticket", 3),
                       lesson.keys.generation("ticket", 5)} <= watch.keys_heard())
        assert "gen:ticket:5" in watch.log.value  # shown in the widget, as it arrived
        assert lesson.store.get_ticket(5).title == "changed by another process (2)"
        assert near.get_ticket(5, lambda: lesson.store.get_ticket(5)).title.endswith("(2)")
        watch.close()
        assert watch._heard not in near.listeners
    finally:
        near.close()


def test_the_ladder_and_the_staleness_are_measured_here(lesson: Lesson) -> None:
    near = NearCache(lesson.client, lesson.keys)
    try:
        near.wait_active()
        ladder = hit_ladder(near, Cache(lesson.client, lesson.keys), 7,
                            lambda: lesson.store.get_ticket(7), calls=20, rounds=3,
                            remote=lambda: lesson.store.get_ticket(7), remote_calls=2)
        assert (L1_RUNG in ladder) == near.active
        assert [name for name in ladder if name != L1_RUNG] == [REDIS_RUNG, FILE_RUNG,
                                                                 REMOTE_RUNG]
        assert all(seconds > 0 for seconds in ladder.values())
        assert ladder_plot(ladder).axes[0].get_title().startswith("What one read costs")
        table = ladder_table(ladder)
        assert [row[0] for row in table.rows] == list(ladder) and table.rows[0][2] == "1"
        url = redis_url(lesson.client, lesson.settings)
        if lesson.backend.kind == "fake":
            assert url is None
            return
        assert url is not None
        result = measure_staleness(near, url, range(1, 21), lesson.store.get_ticket)
        assert len(result.samples) == 20 and result.lost == 0
        assert 0 < result.p50 <= result.p99  # percentiles in order (their size is printed)
        assert "p99" in str(result) and staleness_plot(result).axes
    finally:
        near.close()
