"""Lesson 18 for real: incidents staged on a private redis-server, and what Redis says of them.

Each test that changes the server's config (maxmemory, the eviction policy, the latency
monitor) gets a redis-server of its own. What is asserted is what Redis records - slow log
entries, latency events, counters, which keys are left - never how long anything took.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis

from helpdesk_kit.backends import RedisServer
from helpdesk_kit.lab.incidents import (
    BACKLOG,
    BANNER,
    EXPORT,
    felt_during,
    fill_collection,
    fill_keys,
    hammer,
    morning_rush,
    nightly_cleanup,
    stage_big_keys,
    stage_full_memory,
    stage_slow_command,
)
from helpdesk_kit.lab.triage import triage
from helpdesk_kit.lessons import Lesson
from helpdesk_kit.lessons.exercises import lesson18
from helpdesk_kit.widgets.incidents import TriagePanel, triage_tables

PREFIX = "incident:"


@pytest.fixture
def own(redis_server: RedisServer) -> Iterator[tuple[redis.Redis, redis.Redis]]:
    """A server of this test's own (redis_server checks the binary): a client and a probe."""
    with RedisServer() as server:
        client, probe = server.client(), server.client()
        client.config_set("latency-monitor-threshold", 10)
        yield client, probe
        client.close()
        probe.close()


def _slow_commands(client: redis.Redis) -> list[str]:
    return [_text(entry["command"]).split()[0].upper() for entry in client.slowlog_get(-1)]


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


# --- the fills -----------------------------------------------------------------------------
def test_fills_make_what_they_say(own: tuple[redis.Redis, redis.Redis]) -> None:
    client, _ = own
    assert fill_collection(client, "l", 2500, "list", "e-") == client.llen("l") == 2500
    assert client.lindex("l", 0) == "e-1" and client.lindex("l", -1) == "e-2500"
    assert fill_collection(client, "s", 1500, "set") == client.scard("s") == 1500
    assert fill_collection(client, "l", 10, "list") == 10  # emptied first
    assert fill_keys(client, "k:", 3000) == 3000 == len(list(client.scan_iter("k:*", 1000)))


def test_felt_during_pings_around_the_culprit(own: tuple[redis.Redis, redis.Redis]) -> None:
    client, probe = own
    ran = threading.Event()
    felt = felt_during(client, ran.set, probe)
    assert ran.is_set() and felt.pings >= 1
    assert felt.slowest_s >= felt.median_s and "PINGs from another client" in str(felt)


def test_hammer_reads_from_every_thread() -> None:
    seen: list[str] = []
    lock = threading.Lock()

    def read() -> None:
        with lock:
            seen.append(threading.current_thread().name)

    assert hammer(read, threads=3, reads=40) == 120 == len(seen)
    assert len(set(seen)) == 3


# --- the incidents, as Redis records them ---------------------------------------------------
def test_incident_1_keys_is_in_the_slow_log_and_the_latency_monitor(
        own: tuple[redis.Redis, redis.Redis]) -> None:
    client, probe = own
    felt = stage_slow_command(client, PREFIX, probe)
    assert felt.pings >= 1
    assert _slow_commands(client).count("KEYS") == 3     # the staging's own fill was cleared
    assert "EVAL" not in _slow_commands(client)
    assert "command" in [event for event, *_ in client.latency_latest()]
    assert client.info("commandstats")["cmdstat_keys"]["calls"] == 3
    assert client.dbsize() == 100_000 and EXPORT in next(client.scan_iter(count=10))


def test_incident_2_a_big_set_blocks_its_del_a_big_list_barely(
        own: tuple[redis.Redis, redis.Redis]) -> None:
    """A DEL costs one free per allocation: a million list entries sit in a few thousand
    packed nodes, half a million set members in at least half a million allocations."""
    client, probe = own
    stage_big_keys(client, PREFIX, events=1_000_000, readers=500_000)
    assert client.llen(PREFIX + BACKLOG) == 1_000_000 and client.scard(PREFIX + BANNER) == 500_000
    nightly_cleanup(client, PREFIX, probe)
    assert client.dbsize() == 0
    logged = [_text(entry["command"]) for entry in client.slowlog_get(-1)]
    assert f"DEL {PREFIX}{BANNER}" in logged               # over 10 ms: the set's DEL
    stage_big_keys(client, PREFIX, events=1_000_000, readers=500_000)
    assert client.unlink(PREFIX + BACKLOG, PREFIX + BANNER) == 2
    assert "UNLINK" not in _slow_commands(client)          # freed in another thread


def test_incident_3_memory_full_refuses_writes_and_answers_reads(
        own: tuple[redis.Redis, redis.Redis]) -> None:
    client, _ = own
    client.set("kept", "a value written before the flood")
    assert stage_full_memory(client, PREFIX) > 0
    assert client.get("kept") == "a value written before the flood"
    with pytest.raises(redis.OutOfMemoryError):
        client.rpush(PREFIX + "tasks:pending", "a task")
    assert client.info("errorstats")["errorstat_OOM"]["count"] >= 1
    client.config_set("maxmemory-policy", "volatile-lru")  # the sessions have a TTL
    assert client.rpush(PREFIX + "tasks:pending", "a task") == 1
    assert client.info("stats")["evicted_keys"] > 0


def test_incident_4_the_hot_key_has_the_highest_lfu_counter(
        own: tuple[redis.Redis, redis.Redis]) -> None:
    client, _ = own
    client.config_set("maxmemory-policy", "allkeys-lfu")
    for n in range(1, 201):
        client.set(f"{PREFIX}ticket:{n}", n)
    reads = morning_rush(lambda n: client.get(f"{PREFIX}ticket:{n}"), 7, threads=3, reads=300,
                         others=200, tickets=200)
    assert reads == 1100
    freq = {key: client.object("freq", key) for key in client.scan_iter(f"{PREFIX}ticket:*")}
    assert max(freq, key=lambda key: freq[key]) == f"{PREFIX}ticket:7"


# --- the triage ------------------------------------------------------------------------------
def test_triage_names_the_slow_command_the_big_key_and_the_hot_key(
        own: tuple[redis.Redis, redis.Redis]) -> None:
    client, probe = own
    client.config_set("maxmemory-policy", "allkeys-lfu")
    client.config_set("slowlog-log-slower-than", 1000)    # 1 ms: a KEYS of 20,000 keys is slow
    client.config_set("latency-monitor-threshold", 1)
    fill_collection(client, PREFIX + BACKLOG, 50_000, "list", "event-")
    stage_slow_command(client, PREFIX, probe, keys=20_000)  # clears the fill's own record
    for _ in range(300):
        client.get(f"{PREFIX}{EXPORT}7")
    report = triage(client, match=PREFIX + "*", sample=50_000, top=2)
    assert report.refused == {}
    assert [command.split()[0] for command, _ in report.slow].count("KEYS") >= 1
    assert report.spikes[0][0] == "command"
    assert report.biggest[0][0] == PREFIX + BACKLOG
    assert report.hottest is not None and report.hottest[0][0] == f"{PREFIX}{EXPORT}7"
    assert report.memory["maxmemory_policy"] == "allkeys-lfu"
    texts = [repr(table) for table in triage_tables(report)]
    assert any("KEYS" in text for text in texts) and any(BACKLOG in text for text in texts)


def test_triage_on_fakeredis_says_what_it_could_not_ask() -> None:
    import fakeredis

    client = fakeredis.FakeRedis(decode_responses=True)
    client.set("a", "b")
    report = triage(client)
    assert set(report.refused) == {"slow", "spikes", "memory", "biggest"}
    assert report.hottest is None
    assert "refused" in repr(triage_tables(report)[-1])


def test_the_triage_panel_is_disabled_without_a_server_and_looks_with_one(
        own: tuple[redis.Redis, redis.Redis]) -> None:
    assert TriagePanel(None).button.disabled
    client, _ = own
    panel = TriagePanel(client)
    panel.look()
    assert panel.presses == 1 and "slow log" in panel.tables.value


# --- the exercise -------------------------------------------------------------------------
@pytest.fixture
def lesson(open_lesson: Callable[..., Lesson]) -> Lesson:
    return open_lesson("18_incidents", users=10, tickets=10)


def _wrong(lesson: Lesson, answer: Any, *words: str) -> None:
    result = lesson18.check(lesson, answer)
    assert result.ok is False, result.message
    for word in words:
        assert word in result.message, result.message


SIZES = {"string": "strlen", "list": "llen", "set": "scard", "hash": "hlen", "zset": "zcard",
         "stream": "xlen"}


def test_18_keys_is_caught(lesson: Lesson) -> None:
    def with_keys(client: Any, match: str) -> dict[str, tuple[str, int]]:
        biggest: dict[str, tuple[str, int]] = {}
        for key in client.keys(match):
            kind = client.type(key)
            size = getattr(client, SIZES[kind])(key)
            if kind not in biggest or size > biggest[kind][1]:
                biggest[kind] = (key, size)
        return biggest

    _wrong(lesson, with_keys, "KEYS", "SCAN")


def test_18_one_biggest_overall_and_sizes_in_bytes_are_named(lesson: Lesson) -> None:
    def overall(client: Any, match: str) -> dict[str, tuple[str, int]]:
        sizes = [(getattr(client, SIZES[client.type(k)])(k), k) for k in client.scan_iter(match)]
        size, key = max(sizes)
        return {client.type(key): (key, size)}

    def lengths_of_strings_too(client: Any, match: str) -> dict[str, tuple[str, int]]:
        biggest: dict[str, tuple[str, int]] = {}
        for key in client.scan_iter(match=match):
            kind = client.type(key)
            size = 1 if kind == "string" else getattr(client, SIZES[kind])(key)
            if kind not in biggest or size > biggest[kind][1]:
                biggest[kind] = (key, size)
        return biggest

    _wrong(lesson, overall, "no entry for")
    _wrong(lesson, lengths_of_strings_too, "string")
