"""The classroom's audit on a real class server: no learner can change what runs for another.

Key patterns scope keys; the Functions libraries, the script cache, the running script, the
connections and the server's memory figures are everyone's. :data:`MUST_REFUSE` holds every
command the README's audit table lists as denied, in a form that would act if it were
allowed, and :data:`MAY_RUN` what the table lists as allowed. Each is probed the kit's way
(queued inside MULTI, then DISCARD: the ACL answers NOPERM at queue time and nothing ever
runs), so taking a denial off :data:`~helpdesk_kit.lab.classroom.DENIED` fails that command's
own test here - and the instructor, probed the same way, is *not* refused, which proves the
refusal comes from the learner's rules and not from the form of the command.

This list is written here on purpose, not read from ``DENIED``: a denial removed from the
rules must not take its test with it.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from classroom_server import ClassProcess, forget, learner_backend, read_env
from conftest import ROOT

from helpdesk_kit.app import HelpdeskApp
from helpdesk_kit.app.ratelimit import RATE_LIMIT_LIBRARY
from helpdesk_kit.backends import acl
from helpdesk_kit.backends.scripts import ScriptRunner
from helpdesk_kit.cache import Cache
from helpdesk_kit.cache.functions import LIBRARY, LIBRARY_CODE, KitScripts, function_name
from helpdesk_kit.db import HelpdeskStore
from helpdesk_kit.keys import KeySchema
from helpdesk_kit.lab import classroom
from helpdesk_kit.lab.classroom_activity import MEMORY_SAMPLE, activity, memory_text
from helpdesk_kit.queue.list_queue import LIST_LIBRARY
from helpdesk_kit.queue.stream_queue import STREAM_LIBRARY

#: What learner A would put under the kit's library name: the guarded set, rewritten to store
#: a ticket whose title A chose. With FCALL it would run with the *caller's* permissions.
POISONED = LIBRARY_CODE.replace(
    "redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])",
    "redis.call('SET', KEYS[1], (string.gsub(ARGV[2], '\"title\": *\"[^\"]*\"', "
    "'\"title\": \"A was here\"')), 'EX', ARGV[3])")

#: Denied to every learner: the README's audit table, "denied" rows. ``NAME`` is replaced by
#: the learner's name (their own keys and channels: only the command itself is refused).
MUST_REFUSE: dict[str, tuple[str, ...]] = {
    # everyone's keys at once
    "FLUSHDB": ("FLUSHDB",),
    "FLUSHALL": ("FLUSHALL",),
    "KEYS": ("KEYS", "*"),
    "SWAPDB": ("SWAPDB", "0", "1"),
    # the script cache and the running script
    "SCRIPT FLUSH": ("SCRIPT", "FLUSH"),
    "SCRIPT KILL": ("SCRIPT", "KILL"),
    "SCRIPT DEBUG": ("SCRIPT", "DEBUG", "SYNC"),
    # the Functions libraries: the code every learner's FCALL runs
    "FUNCTION LOAD": ("FUNCTION", "LOAD", "REPLACE", POISONED),
    "FUNCTION DELETE": ("FUNCTION", "DELETE", LIBRARY),
    "FUNCTION FLUSH": ("FUNCTION", "FLUSH"),
    "FUNCTION RESTORE": ("FUNCTION", "RESTORE", "payload", "REPLACE"),
    "FUNCTION KILL": ("FUNCTION", "KILL"),
    "FUNCTION STATS": ("FUNCTION", "STATS"),
    # the whole server's memory and its allocator
    "MEMORY STATS": ("MEMORY", "STATS"),
    "MEMORY DOCTOR": ("MEMORY", "DOCTOR"),
    "MEMORY MALLOC-STATS": ("MEMORY", "MALLOC-STATS"),
    "MEMORY PURGE": ("MEMORY", "PURGE"),
    # the whole server: settings, every client's commands
    "INFO": ("INFO",),
    "CONFIG": ("CONFIG", "SET", "maxmemory", "1"),
    "DEBUG": ("DEBUG", "SLEEP", "0"),
    "MONITOR": ("MONITOR",),
    "SLOWLOG": ("SLOWLOG", "GET"),
    "LATENCY": ("LATENCY", "LATEST"),
    # other learners' connections
    "CLIENT LIST": ("CLIENT", "LIST"),
    "CLIENT KILL": ("CLIENT", "KILL", "USER", "default"),
    "CLIENT PAUSE": ("CLIENT", "PAUSE", "1000"),
    "CLIENT UNBLOCK": ("CLIENT", "UNBLOCK", "1"),
    "CLIENT NO-EVICT": ("CLIENT", "NO-EVICT", "ON"),
    # the server itself
    "SHUTDOWN": ("SHUTDOWN", "NOSAVE"),
    "SAVE": ("SAVE",),
    "BGSAVE": ("BGSAVE",),
    "REPLICAOF": ("REPLICAOF", "127.0.0.1", "1"),
    "FAILOVER": ("FAILOVER",),
    "ACL": ("ACL", "SETUSER", "NAME", "+@all", "~*"),
    "MODULE": ("MODULE", "LOAD", "/nonexistent.so"),
    # keys by another way in
    "RESTORE": ("RESTORE", "NAME:k", "0", "payload"),
    "MIGRATE": ("MIGRATE", "127.0.0.1", "1", "NAME:k", "0", "100"),
    "SORT": ("SORT", "NAME:list", "BY", "other:*"),
}
#: Redis refuses these inside MULTI before it asks the ACL, so the probe cannot see them:
#: they are tried for real (the refusal is the answer; allowed, they would act).
_NOT_IN_MULTI = frozenset({"SHUTDOWN", "SAVE"})
#: The server refuses these before the ACL is asked: the class server disables them
#: outright (``enable-debug-command no``, ``enable-module-command no``). Either refusal is one.
_DISABLED_HERE = frozenset({"DEBUG", "MODULE"})

#: Allowed to every learner: the README's audit table, "allowed" rows (what the lessons use).
MAY_RUN: dict[str, tuple[str, ...]] = {
    "GET": ("GET", "NAME:k"),
    "SET": ("SET", "NAME:k", "v"),
    "PUBLISH": ("PUBLISH", "NAME:channel", "hi"),
    "SUBSCRIBE": ("SUBSCRIBE", "NAME:channel"),
    "EVAL": ("EVAL", "return 1", "0"),
    "EVALSHA": ("EVALSHA", "0" * 40, "0"),
    "SCRIPT LOAD": ("SCRIPT", "LOAD", "return 1"),
    "SCRIPT EXISTS": ("SCRIPT", "EXISTS", "0" * 40),
    "FCALL": ("FCALL", function_name("release_lock"), "1", "NAME:lock", "token"),
    "FCALL_RO": ("FCALL_RO", function_name("release_lock"), "1", "NAME:lock", "token"),
    "FUNCTION LIST": ("FUNCTION", "LIST"),
    "FUNCTION DUMP": ("FUNCTION", "DUMP"),
    "MEMORY USAGE": ("MEMORY", "USAGE", "NAME:k"),
    "OBJECT": ("OBJECT", "ENCODING", "NAME:k"),
    "CLIENT ID": ("CLIENT", "ID"),
    "CLIENT SETNAME": ("CLIENT", "SETNAME", "mine"),
    "CLIENT TRACKING": ("CLIENT", "TRACKING", "OFF"),
    "PUBSUB CHANNELS": ("PUBSUB", "CHANNELS"),
    "SCAN": ("SCAN", "0"),
    "RANDOMKEY": ("RANDOMKEY",),
    "DBSIZE": ("DBSIZE",),
    "SELECT": ("SELECT", "1"),
    "WAIT": ("WAIT", "0", "0"),
    "ACL WHOAMI": ("ACL", "WHOAMI"),
}


def _as(name: str, command: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(part.replace("NAME", name) for part in command)


@pytest.fixture(scope="module")
def learner(class_server: ClassProcess, tmp_path_factory: pytest.TempPathFactory
            ) -> Iterator[tuple[str, redis.Redis]]:
    """One learner for the module's probes (they never run anything), with their client."""
    folder = tmp_path_factory.mktemp("audit")
    name = f"audit-{uuid.uuid4().hex[:6]}"
    with class_server.client() as admin:
        (made,), _saved = classroom.create(admin, [name], folder / "env",
                                           class_server.instructor["REDIS_URL"])
        assert made.env_file is not None
        backend = learner_backend(read_env(made.env_file), folder)
        yield name, backend.client
        backend.client.close()
        forget(admin, [name])


# --- every denial, one test each ------------------------------------------------------------
@pytest.mark.parametrize("command", sorted(MUST_REFUSE))
def test_a_learner_is_refused(command: str, learner: tuple[str, redis.Redis],
                              admin: redis.Redis) -> None:
    name, client = learner
    form = _as(name, MUST_REFUSE[command])
    if command in _NOT_IN_MULTI:
        with pytest.raises(redis.exceptions.NoPermissionError):
            client.execute_command(*form)
        return
    if command in _DISABLED_HERE:
        with pytest.raises(redis.ResponseError, match=r"no permissions|not allowed"):
            client.execute_command(*form)
        return
    assert acl.denied_commands(client, {command: form}) == {command}
    assert acl.denied_commands(admin, {command: form}) == frozenset()  # the form is fine


def test_a_learner_may_run_what_the_lessons_use(learner: tuple[str, redis.Redis]) -> None:
    name, client = learner
    wanted = {command: _as(name, form) for command, form in MAY_RUN.items()}
    assert acl.denied_commands(client, wanted) == frozenset()
    client.set(f"{name}:k", "v")  # and for real, the two the kit added to the lessons:
    assert client.memory_usage(f"{name}:k") > 0  # MEMORY USAGE of one's own key...
    with pytest.raises(redis.exceptions.NoPermissionError):
        client.memory_usage(f"someone-else:{name}")  # ...and of nobody else's


def _audit_rows() -> dict[str, set[str]]:
    """The README's audit table: {"denied": {commands}, "allowed": {commands}}."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("#### What a learner may run", 1)[1].splitlines()
    start = next(n for n, line in enumerate(section) if line.startswith("| command group"))
    table = []
    for line in section[start + 2:]:  # after the header and its |---| line
        if not line.startswith("|"):
            break
        table.append(line)
    found: dict[str, set[str]] = {"denied": set(), "allowed": set()}
    for line in table:
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        verdict = "denied" if cells[2].startswith("denied") else "allowed"
        found[verdict] |= set(re.findall(r"`([A-Z][A-Z_-]*(?: [A-Z][A-Z_-]*)?)`", cells[0]))
    return found


def test_the_readmes_audit_table_lists_exactly_what_is_tested() -> None:
    rows = _audit_rows()
    assert rows["denied"] == set(MUST_REFUSE)
    assert rows["allowed"] == set(MAY_RUN)


# --- the kit's library: the instructor's, and nobody else's ---------------------------------
def test_serve_and_create_load_the_kits_library_with_the_instructors_user(
        class_server: ClassProcess, admin: redis.Redis,
        learners: Callable[..., dict[str, dict[str, str]]], tmp_path: Path) -> None:
    assert "the kit's Functions library: loaded" in class_server.output.read_text()
    admin.function_delete(LIBRARY)  # gone (a restart without persistence)...
    envs = learners("lib")  # ...and create loads it again
    (name,) = envs
    (entry,) = admin.function_list(library=LIBRARY, withcode=True)
    assert dict(zip(entry[::2], entry[1::2], strict=False))["library_code"] == LIBRARY_CODE
    backend = learner_backend(envs[name], tmp_path)
    try:
        assert backend.capabilities.why_not("FUNCTION LOAD") == (
            f"your Redis user ({name}) may not run FUNCTION LOAD")
        assert KitScripts(backend.client).ensure_loaded() == "functions"  # the instructor's
        for library in (LIST_LIBRARY, STREAM_LIBRARY, RATE_LIMIT_LIBRARY):  # the queues' too
            assert ScriptRunner(backend.client, library).ensure_loaded() == "functions"
    finally:
        backend.client.close()


def test_a_learner_cannot_replace_or_delete_the_kits_library_and_a_classmates_reads_stay(
        learners: Callable[..., dict[str, dict[str, str]]], admin: redis.Redis,
        store: HelpdeskStore, tmp_path: Path) -> None:
    assert POISONED != LIBRARY_CODE  # A's code really differs from the kit's
    envs = learners("a", "b")
    a_name, b_name = envs
    a = learner_backend(envs[a_name], tmp_path / "a").client
    b = learner_backend(envs[b_name], tmp_path / "b").client
    app = HelpdeskApp(store, Cache(b, KeySchema(prefix=f"{b_name}:lesson13:")))
    try:
        title = store.get_ticket(7).title  # type: ignore[union-attr]
        assert app.get_ticket(7)["ticket"].title == title  # a miss: the guarded set, FCALL
        assert app.cache.scripts.mode == "functions"  # type: ignore[union-attr]
        attempts: list[Callable[[], object]] = [
            lambda: a.function_load(POISONED, replace=True),  # A's code under the kit's name
            lambda: a.function_delete(LIBRARY),
            a.function_flush,
            lambda: a.function_restore(admin.function_dump(), "REPLACE"),
        ]
        for attempt in attempts:
            with pytest.raises(redis.exceptions.NoPermissionError):
                attempt()
        (entry,) = admin.function_list(library=LIBRARY, withcode=True)
        assert LIBRARY_CODE in entry  # the kit's code, untouched
        app.cache.invalidate_ticket(7)  # type: ignore[union-attr]  # B reads again: a miss...
        assert app.get_ticket(7)["ticket"].title == title  # ...filled through the library
        assert app.get_ticket(7)["ticket"].title == title  # and the hit it left
        assert app.cache.stats()["ticket"].errors == 0  # type: ignore[union-attr]
    finally:
        a.close()
        b.close()


# --- memory: who holds the class's ------------------------------------------------------------
def test_serve_bounds_the_class_memory(admin: redis.Redis) -> None:
    assert admin.config_get("maxmemory")["maxmemory"] == str(256 << 20)
    assert admin.config_get("maxmemory-policy")["maxmemory-policy"] == "volatile-lru"


def test_the_table_shows_each_learners_memory_sampled_with_memory_usage(
        learners: Callable[..., dict[str, dict[str, str]]], admin: redis.Redis,
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    envs = learners("big", "small")
    big, small = envs
    client = learner_backend(envs[big], tmp_path).client
    pipe = client.pipeline(transaction=False)
    for n in range(40):
        pipe.set(f"{big}:blob:{n:02d}", "x" * 1000)
    pipe.execute()
    exact = sum(admin.memory_usage(key) for key in admin.scan_iter(match=f"{big}:*"))
    rows = {row.name: row for row in activity(admin)}
    assert rows[big].memory_bytes == exact and not rows[big].memory_estimated
    assert rows[big].memory_bytes >= 40 * 1000
    assert (rows[small].memory_bytes, memory_text(rows[small])) == (0, "0 B")
    monkeypatch.setattr("helpdesk_kit.lab.classroom_activity.MEMORY_SAMPLE", 10)
    assert MEMORY_SAMPLE > 10  # the default measures every key of this learner
    sampled = {row.name: row for row in activity(admin)}[big]
    assert sampled.memory_estimated and memory_text(sampled).startswith("~")
    assert sampled.memory_bytes == pytest.approx(exact, rel=0.1)  # same-size keys
    client.close()
