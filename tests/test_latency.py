"""Network profiles add one round-trip time per round trip - counted with a fake sleep."""

from __future__ import annotations

import pytest

from helpdesk_kit.errors import ConfigError
from helpdesk_kit.lab.latency import (
    CLOUD,
    INTERNET,
    LOCAL,
    SEED,
    NetworkProfile,
    RoundTrips,
    get_profile,
    wrap_redis,
    wrap_store,
)


class FakeSleep:
    """Records every requested sleep instead of sleeping."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


def test_presets_are_labelled() -> None:
    assert LOCAL.label == "measured" and not LOCAL.adds_delay
    assert INTERNET.label == "simulated" and INTERNET.db_rtt_ms == 50
    assert INTERNET.cache_rtt_ms == 5
    assert CLOUD.db_rtt_ms > CLOUD.cache_rtt_ms > 0
    assert "simulated" in str(INTERNET)
    assert get_profile("Internet") is INTERNET
    assert get_profile(CLOUD) is CLOUD


def test_the_old_name_seed_still_works_with_a_warning() -> None:
    """Lessons 06 and 09 import SEED and key results by its name; a learner's
    ``--profile seed`` keeps working, and is told the new name."""
    with pytest.warns(FutureWarning, match="'internet' now"):
        assert get_profile("seed") is INTERNET
    assert SEED.name == "seed"
    assert (SEED.db_rtt_ms, SEED.cache_rtt_ms, SEED.jitter_ms) == (50, 5, INTERNET.jitter_ms)


def test_bad_profiles_are_refused() -> None:
    with pytest.raises(ConfigError, match="unknown network profile"):
        get_profile("moon")
    with pytest.raises(ConfigError, match="negative"):
        NetworkProfile("bad", -1, 0)


def test_store_pays_one_rtt_per_execute_and_per_batch(store) -> None:
    sleep = FakeSleep()
    profile = NetworkProfile("t", db_rtt_ms=50, cache_rtt_ms=5)
    slow = wrap_store(store, profile, sleep=sleep)

    assert slow.get_ticket(1) == store.get_ticket(1)  # same rows, through the wrapper
    assert sleep.calls == [0.05]
    slow.counts()  # five SELECTs in one batch: one round trip
    assert sleep.calls == [0.05, 0.05]
    slow.add_interaction(1, 1, "hello")  # a two-statement batch: one round trip
    assert len(sleep.calls) == 3
    assert slow.db.round_trips.count == 3
    assert slow.db.round_trips.slept_s == pytest.approx(0.15)


def test_local_profile_counts_without_sleeping(store) -> None:
    sleep = FakeSleep()
    counter = RoundTrips()
    slow = wrap_store(store, LOCAL, sleep=sleep, counter=counter)
    for ticket_id in (1, 2, 3):
        slow.get_ticket(ticket_id)
    assert sleep.calls == []
    assert counter.count == 3
    counter.reset()
    assert counter.count == 0


def test_jitter_stays_within_bounds_and_never_negative(store) -> None:
    sleep = FakeSleep()
    slow = wrap_store(store, NetworkProfile("j", 1.0, 0.0, jitter_ms=2.0), sleep=sleep)
    for _ in range(30):
        slow.get_user(1)
    assert all(0 <= s <= 0.003 for s in sleep.calls)
    assert len(set(sleep.calls)) > 1  # it does vary


def test_redis_pays_one_rtt_per_command_and_per_pipeline(backend, keys) -> None:
    sleep = FakeSleep()
    client = backend.client
    slow = wrap_redis(client, NetworkProfile("t", 50, 5), sleep=sleep)

    slow.set(keys.user(1), "x")
    assert slow.get(keys.user(1)) == "x"
    assert sleep.calls == [0.005, 0.005]

    with slow.pipeline() as pipe:  # 100 SETs, one round trip: why pipelining matters
        for i in range(100):
            pipe.set(keys.ticket(i), i)
        pipe.execute()
    assert len(sleep.calls) == 3
    assert slow.round_trips.count == 3
    assert client.get(keys.ticket(99)) == "99"

    empty = slow.pipeline()
    assert empty.execute() == []
    assert len(sleep.calls) == 3  # nothing sent, nothing paid

    client.get(keys.user(1))  # the original client is untouched
    assert len(sleep.calls) == 3


def test_wrapped_redis_does_not_close_the_shared_pool(backend, keys) -> None:
    client = backend.client
    client.set(keys.user(7), "kept")
    slow = wrap_redis(client, LOCAL)
    slow.get(keys.user(7))
    del slow
    import gc

    gc.collect()
    assert client.get(keys.user(7)) == "kept"
