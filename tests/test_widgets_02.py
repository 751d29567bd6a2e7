"""Lesson 02's widget functions: key table, expiry, jitter, pickle payload, sessions."""

from __future__ import annotations

import pickle
import pickletools
import random

import redis

from helpdesk_kit.cache import Cache
from helpdesk_kit.db import HelpdeskStore
from helpdesk_kit.keys import KeySchema
from helpdesk_kit.widgets import keys_ttl as w


def test_key_table_uses_the_prefix_and_the_seed_names(keys: KeySchema) -> None:
    rows = w.key_table(keys).rows
    assert [r[0] for r in rows] == ["user:{userId}", "ticket:{ticketId}", "tasks:pending",
                                    "session:{sessionId}"]
    assert all(r[1].startswith(keys.prefix) for r in rows)
    assert "LIST" in rows[2][2] and "``" not in rows[0][2]


def test_watch_expiry_ends_when_the_key_is_gone(redis_client: redis.Redis,
                                                 keys: KeySchema) -> None:
    samples = w.watch_expiry(redis_client, keys.entity("demo", 1), ttl_ms=150, every=0.02)
    assert samples[0][1] > 0 and samples[-1][1] == -2
    assert samples[-1][0] >= 0.1
    assert len(w.expiry_plot(samples).axes) == 1


def test_jitter_spreads_expiries(redis_client: redis.Redis, keys: KeySchema) -> None:
    plain = w.expiry_times(Cache(redis_client, keys, ttl=300), 500)
    jittered = w.expiry_times(Cache(redis_client, keys, ttl=300, jitter=0.1,
                                    rng=random.Random(1)), 500)
    assert set(plain) == {300}
    assert min(jittered) >= 300 and max(jittered) <= 330 and len(set(jittered)) > 20
    assert len(w.jitter_plot(plain, jittered).axes) == 1


def test_pickle_payload_names_print_and_nothing_dangerous() -> None:
    payload = w.harmless_pickle_payload()
    opcodes = [(op.name, arg) for op, arg, _ in pickletools.genops(payload)]
    strings = [arg for name, arg in opcodes if name == "SHORT_BINUNICODE"]
    assert strings[:2] == ["builtins", "print"]
    assert not any(s in ("os", "system", "subprocess", "eval", "exec") for s in strings)


def test_pickle_payload_really_calls_its_function(capsys) -> None:  # type: ignore[no-untyped-def]
    pickle.loads(w.harmless_pickle_payload())  # noqa: S301 (the lesson's point; harmless)
    assert "pickle.loads just called print()" in capsys.readouterr().out


def test_touch_session_slides_the_ttl(redis_client: redis.Redis, keys: KeySchema) -> None:
    cache = Cache(redis_client, keys)
    cache.cache_session("s1", {"user_id": 1}, ttl=10)
    assert w.touch_session(cache, "s1", ttl=1800) == {"user_id": 1}
    assert redis_client.ttl(keys.session("s1")) > 1000
    assert w.touch_session(cache, "nope", ttl=5) is None


def test_key_inspector_caches_with_the_slider_ttl(store: HelpdeskStore,
                                                  redis_client: redis.Redis,
                                                  keys: KeySchema) -> None:
    inspector = w.KeyInspector(Cache(redis_client, keys), store)
    assert "not in Redis" in inspector.view.value
    inspector.ttl.value = 42
    inspector.cache_button.click()
    assert 40 <= redis_client.ttl(keys.ticket(7)) <= 42
    assert "&quot;id&quot;:7," in inspector.view.value  # the JSON, HTML-escaped
    inspector.entity.value = "user"
    assert keys.user(7) in inspector.view.value
    inspector.ident.value = 99999
    assert "no user 99999" in inspector.cache_it()
