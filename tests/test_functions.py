"""The cache's scripts as a Redis Functions library (cache.functions) run by the kit's script
runner (backends.scripts), and the EVALSHA fallback."""

from __future__ import annotations

import logging
import shutil
from collections.abc import Iterator

import pytest
import redis
from conftest import missing

from helpdesk_kit.backends import RedisServer
from helpdesk_kit.cache import Cache
from helpdesk_kit.cache.functions import (
    LIBRARY,
    LIBRARY_CODE,
    SCRIPTS,
    CacheScripts,
    KitScripts,
    function_name,
)
from helpdesk_kit.keys import KeySchema
from helpdesk_kit.models import Ticket, from_iso

TICKET = Ticket(7, "Printer on fire", "smoke", "open", "high", 3, None,
                from_iso("2026-05-01T09:30:00+00:00"), from_iso("2026-05-01T09:30:00+00:00"), 1)


def _libraries(client: redis.Redis) -> list[str]:
    return [str(lib[1]) for lib in client.function_list()]


@pytest.fixture
def no_functions_server() -> Iterator[redis.Redis]:
    """A real redis-server whose FUNCTION command is disabled (as on Redis 6, or a service
    that forbids it): the kit must fall back to EVALSHA there."""
    if shutil.which("redis-server") is None:
        missing("redis", "install redis-server")
    with RedisServer("redis-server", "--rename-command", "FUNCTION", "") as server:
        client = server.client()
        yield client
        client.close()


def test_the_library_wraps_every_script() -> None:
    assert LIBRARY_CODE.startswith(f"#!lua name={LIBRARY}\n")
    for name in SCRIPTS:
        assert f"redis.register_function('{function_name(name)}', {name})" in LIBRARY_CODE


def test_the_kit_loads_its_library_and_calls_it_with_fcall(redis_client: redis.Redis,
                                                           keys: KeySchema) -> None:
    scripts = CacheScripts(redis_client)
    assert scripts.ensure_loaded() == "functions" and LIBRARY in _libraries(redis_client)
    assert "FCALL" in repr(scripts)
    assert scripts.run("guarded_set", [keys.ticket(1), keys.generation("ticket", 1)],
                        ["", "v", 60]) == 1
    assert redis_client.get(keys.ticket(1)) == "v"
    assert CacheScripts(redis_client).ensure_loaded() == "functions"  # already there: fine


def test_functions_outlive_script_flush_and_come_back_after_function_flush(
        redis_client: redis.Redis, keys: KeySchema) -> None:
    scripts = CacheScripts(redis_client)
    scripts.ensure_loaded()
    redis_client.script_flush()  # what a restart does to the script cache
    assert LIBRARY in _libraries(redis_client)  # functions are data, not cache
    assert scripts.run("release_lock", [keys.lock("ticket", 1)], ["token"]) == 0
    redis_client.function_flush()  # gone (a restart without persistence)
    assert scripts.run("release_lock", [keys.lock("ticket", 1)], ["token"]) == 0
    assert LIBRARY in _libraries(redis_client)  # reloaded by the call


def test_the_cache_works_through_the_library(redis_client: redis.Redis,
                                             keys: KeySchema) -> None:
    cache = Cache(redis_client, keys)
    assert cache.get_ticket(7, lambda: TICKET) == TICKET  # a miss: guarded set, then unlock
    assert cache.get_ticket(7, lambda: None) == TICKET  # a hit: it was stored
    assert cache.scripts.mode == "functions"
    assert KitScripts is CacheScripts  # the name lesson 13 imports


def test_without_functions_the_same_calls_use_evalsha(no_functions_server: redis.Redis) -> None:
    keys = KeySchema(prefix="nofn:")
    scripts = CacheScripts(no_functions_server)
    assert scripts.ensure_loaded() == "scripts" and "EVALSHA" in repr(scripts)
    cache = Cache(no_functions_server, keys)
    assert cache.get_ticket(7, lambda: TICKET) == TICKET
    assert cache.get_ticket(7, lambda: None) == TICKET
    assert cache.scripts.mode == "scripts"
    assert no_functions_server.script_exists(cache.scripts.library.sha("guarded_set")) == [True]
    no_functions_server.script_flush()  # NOSCRIPT next time: the runner sends it with EVAL
    cache.invalidate_ticket(7)
    assert cache.get_ticket(7, lambda: TICKET) == TICKET


def test_functions_can_be_turned_off(redis_client: redis.Redis, keys: KeySchema) -> None:
    scripts = CacheScripts(redis_client, functions=False)
    assert scripts.ensure_loaded() == "scripts"
    assert scripts.run("guarded_set", [keys.ticket(2), keys.generation("ticket", 2)],
                       ["", "x", 60]) == 1


def test_the_kit_calls_only_its_own_code_under_its_name(
        redis_client: redis.Redis, keys: KeySchema, caplog: pytest.LogCaptureFixture) -> None:
    """Libraries are server-global: code someone else loaded under the kit's name (same
    function names, other bodies) is never called; the same scripts go by EVALSHA."""
    foreign = LIBRARY_CODE.replace("return 1\n", "return 2\n", 1)  # the guarded set's end
    assert foreign != LIBRARY_CODE
    redis_client.function_load(foreign, replace=True)
    try:
        scripts = CacheScripts(redis_client)
        with caplog.at_level(logging.WARNING, logger="helpdesk_kit.scripts"):
            assert scripts.ensure_loaded() == "scripts"
        assert "not the kit's" in caplog.text
        assert scripts.run("guarded_set", [keys.ticket(1), keys.generation("ticket", 1)],
                            ["", "v", 60]) == 1  # the kit's body (FCALL would answer 2)
    finally:
        redis_client.function_load(LIBRARY_CODE, replace=True)


def test_a_user_who_may_not_load_calls_the_library_loaded_for_them(
        redis_server: RedisServer, real_redis: redis.Redis, key_prefix: str) -> None:
    """A class's learner: FUNCTION LOAD is refused, so the kit calls the library someone
    allowed to (the instructor) loaded - and, once it is gone, uses EVALSHA."""
    user = f"learner-{key_prefix.split(':')[1]}"
    real_redis.execute_command("ACL", "SETUSER", user, "on", ">pw", f"~{key_prefix}*",
                               "+@all", "-function|load", "-function|flush")
    learner = redis.Redis(unix_socket_path=str(redis_server.socket), username=user, password="pw",
                          decode_responses=True)
    try:
        real_redis.function_load(LIBRARY_CODE, replace=True)
        scripts = CacheScripts(learner)
        assert scripts.ensure_loaded() == "functions"
        lock = f"{key_prefix}lock"
        assert scripts.run("release_lock", [lock], ["token"]) == 0
        real_redis.function_delete(LIBRARY)  # gone, and the learner may not load it again
        assert scripts.run("release_lock", [lock], ["token"]) == 0
        assert scripts.mode == "scripts" and LIBRARY not in _libraries(real_redis)
        assert CacheScripts(learner).ensure_loaded() == "scripts"
    finally:
        learner.close()
        real_redis.acl_deluser(user)
        real_redis.function_load(LIBRARY_CODE, replace=True)
