"""Classroom mode on a real redis-server: an ACL user per learner, nobody touches another's keys.

One class server for the module, started the way an instructor starts it
(``helpdesk-kit classroom serve`` as a process, on a free port). Learners get real ACL users
and env files; every check goes through what a learner or an instructor would run: the kit's
``connect``, lessons, the cache, the queue, the CLI, nbval on the lessons.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import urllib.parse
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from classroom_server import (
    LEARNER_RUN,
    ClassProcess,
    kit_env,
    read_env,
    run_kit,
    start_class_server,
)
from conftest import ROOT, missing

from helpdesk_kit.backends import Backend, acl, connect, fail_fast_retry
from helpdesk_kit.cache import Cache
from helpdesk_kit.config import Settings
from helpdesk_kit.errors import ConfigError, FeatureUnavailableError, InputError
from helpdesk_kit.keys import KeySchema
from helpdesk_kit.lab import classroom
from helpdesk_kit.lab.classroom_activity import activity
from helpdesk_kit.lab.eviction import eviction_lab
from helpdesk_kit.lessons import setup
from helpdesk_kit.metrics import snapshot

LEARNER_DENIED = {"FLUSHDB", "FLUSHALL", "KEYS", "INFO", "CONFIG"}
#: The lessons nbval runs under a learner's user (outputs not compared: --nbval-lax).
LESSONS = ("00_start_here", "01_cache_aside", "03_invalidation", "06_task_queue",
           "08_monitoring_tuning", "13_lua_functions", "16_near_cache")


# --- the class server and its learners ----------------------------------------------------
@pytest.fixture(scope="module")
def class_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClassProcess]:
    if shutil.which("redis-server") is None:
        missing("redis", "install redis-server (apt-get install redis-server)")
    root = tmp_path_factory.mktemp("class")
    server = start_class_server(root / "server", root / "data")
    yield server
    assert server.stop() == 0  # Ctrl-C (SIGTERM) is a clean stop...
    with pytest.raises(redis.ConnectionError):  # ...and takes the redis-server with it
        redis.Redis(port=server.port, socket_timeout=1, retry=fail_fast_retry()).ping()


@pytest.fixture
def admin(class_server: ClassProcess) -> Iterator[redis.Redis]:
    client = class_server.client()
    yield client
    client.close()


def _forget(admin: redis.Redis, names: list[str]) -> None:
    """Take ``names`` out of the class entirely (users, keys, roster entries)."""
    for name in names:
        admin.acl_deluser(name)
        for key in admin.scan_iter(match=f"{name}:*"):
            admin.unlink(key)
        admin.hdel(classroom.ROSTER_KEY, name)


@pytest.fixture
def learners(admin: redis.Redis, class_server: ClassProcess, tmp_path: Path
             ) -> Iterator[Callable[..., dict[str, dict[str, str]]]]:
    """``learners("a", "b")`` creates them (suffixed: unique per test) and returns each
    name's env file as a dict; they leave the class after the test."""
    made: list[str] = []

    def make(*bases: str) -> dict[str, dict[str, str]]:
        names = [f"{base}-{uuid.uuid4().hex[:6]}" for base in bases]
        created, saved = classroom.create(admin, names, tmp_path / "env",
                                          class_server.instructor["REDIS_URL"])
        assert saved  # the class server keeps an ACL file: a restart keeps the learners
        made.extend(names)
        return {learner.name: read_env(learner.env_file) for learner in created
                if learner.env_file is not None}

    yield make
    _forget(admin, made)


def _password(env: dict[str, str]) -> str:
    """The password in an env file's REDIS_URL (what no output may contain)."""
    password = urllib.parse.urlsplit(env["REDIS_URL"]).password
    assert password
    return password


def _backend(env: dict[str, str], tmp_path: Path) -> Backend:
    """The kit's own connection with a learner's env file, as a notebook would make it."""
    return connect(Settings.from_env({**env, "HELPDESK_DATA_DIR": str(tmp_path / "data")}))


# --- the done criterion: serve, create --learners 3, three concurrent runs ----------------


def test_create_three_learners_then_three_concurrent_runs_stay_apart(
        class_server: ClassProcess, admin: redis.Redis, tmp_path: Path) -> None:
    log = tmp_path / "outputs.log"
    out = tmp_path / "env"
    instructor = kit_env(tmp_path / "instructor", **class_server.instructor)
    done = run_kit(["classroom", "create", "--learners", "3", "--out", str(out)], instructor,
                   log)
    assert done.returncode == 0, done.stderr
    files = sorted(out.glob("*.env"))
    names = [f.stem for f in files]
    try:
        assert names == ["learner01", "learner02", "learner03"]
        assert out.stat().st_mode & 0o777 == 0o700
        assert all(f.stat().st_mode & 0o777 == 0o600 for f in files)
        envs = {f.stem: read_env(f) for f in files}
        assert {e["HELPDESK_KEY_PREFIX"] for e in envs.values()} == {f"{n}:" for n in names}
        secrets_ = {n: f"value-of-{n}-{uuid.uuid4().hex}" for n in names}
        runs = {n: subprocess.Popen(
            [sys.executable, "-c", LEARNER_RUN, n, ",".join(o for o in names if o != n),
             secrets_[n]],
            env=kit_env(tmp_path / n, **envs[n]), stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True) for n in names}  # all three at once
        results = {}
        for name, run in runs.items():
            stdout, stderr = run.communicate(timeout=120)
            log.write_text(log.read_text() + stdout + stderr)
            assert run.returncode == 0, stderr[-3000:]
            results[name] = json.loads(stdout.strip().splitlines()[-1])
        for name, result in results.items():
            others = sorted(set(names) - {name})
            assert result["user"] == name and result["prefix"] == f"{name}:lesson01:"
            assert (result["misses"], result["hits"]) == (1, 1)
            assert result["done"]["processed"] >= 1  # the notification task ran
            assert result["mine"] == secrets_[name]
            assert sorted(result["refused"]) == others  # no classmate's value, ever
            assert "may not run FLUSHDB" in result["flushdb"]
            assert admin.get(f"{name}:lesson01:session:secret") == json.dumps(secrets_[name])
        listed = run_kit(["classroom", "list"], instructor, log)
        assert listed.returncode == 0 and all(n in listed.stdout for n in names)
        passwords = [_password(env) for env in envs.values()]
        assert all(len(p) >= 32 for p in passwords)
        texts = [log.read_text(), class_server.output.read_text(),
                 (class_server.folder / "redis.log").read_text()]
        for secret in [*passwords, _password(class_server.instructor)]:
            assert not any(secret in text for text in texts), "a password reached an output"
    finally:
        _forget(admin, names)


def test_the_class_server_wants_the_instructors_password(class_server: ClassProcess) -> None:
    anonymous = redis.Redis(port=class_server.port, retry=fail_fast_retry())
    with pytest.raises(redis.AuthenticationError):  # "default" has a password now
        anonymous.ping()
    with class_server.client() as admin:
        assert admin.config_get("bind")["bind"] == "127.0.0.1"
        assert admin.config_get("protected-mode")["protected-mode"] == "yes"


def test_show_passwords_prints_them_only_when_asked(class_server: ClassProcess,
                                                    admin: redis.Redis, tmp_path: Path) -> None:
    instructor = kit_env(tmp_path / "instructor", **class_server.instructor)
    log = tmp_path / "out.log"
    done = run_kit(["classroom", "create", "--roster", str(_roster(tmp_path, "shown-a")),
                    "--out", str(tmp_path / "env"), "--show-passwords"], instructor, log)
    try:
        assert done.returncode == 0, done.stderr
        password = _password(read_env(tmp_path / "env" / "shown-a.env"))
        assert password in done.stdout and "redis://shown-a:***@" in done.stdout
    finally:
        _forget(admin, ["shown-a"])


def _roster(folder: Path, *names: str) -> Path:
    path = folder / "roster.txt"
    path.write_text("# our class\n" + "\n".join(names) + "\n\n")
    return path


# --- isolation ----------------------------------------------------------------------------
def test_a_learner_cannot_touch_another_learners_keys_or_channels(
        learners: Callable[..., dict[str, dict[str, str]]], tmp_path: Path) -> None:
    envs = learners("alice", "bob")
    alice_name, bob_name = envs
    alice = _backend(envs[alice_name], tmp_path / "a").client
    bob = _backend(envs[bob_name], tmp_path / "b").client
    bob_key, bob_channel = f"{bob_name}:ticket:1", f"{bob_name}:notifications"
    bob.set(bob_key, '{"id": 1}')
    attempts: dict[str, Callable[[], object]] = {
        "GET": lambda: alice.get(bob_key),
        "SET": lambda: alice.set(bob_key, "poisoned"),
        "DEL": lambda: alice.delete(bob_key),
        "EVAL with the key": lambda: alice.eval("return redis.call('GET', KEYS[1])", 1, bob_key),
        "EVAL hiding the key": lambda: alice.eval(f"return redis.call('GET', '{bob_key}')", 0),
        "PUBLISH": lambda: alice.publish(bob_channel, "fake news"),
        "SUBSCRIBE": lambda: _subscribe(alice, bob_channel),
        "FLUSHDB": alice.flushdb,
        "FLUSHALL": alice.flushall,
        "KEYS": lambda: alice.keys("*"),
    }
    for what, attempt in attempts.items():
        with pytest.raises(redis.ResponseError) as refused:  # inside Lua: not NOPERM-tagged
            attempt()
        assert acl.refused(refused.value), what
        assert "your Redis user" in acl.explain(refused.value, alice_name), what
    assert bob.get(bob_key) == '{"id": 1}'  # untouched
    # The kit's own calls say it in a learner's words, never a driver traceback.
    with pytest.raises(FeatureUnavailableError, match=f"your Redis user .{alice_name}. may not "
                                                      "run FLUSHDB"):
        Cache(alice, KeySchema(prefix=f"{alice_name}:")).flush_all()
    with pytest.raises(FeatureUnavailableError, match="may not touch that key"), \
            acl.explained(alice):
        alice.get(bob_key)
    # What still passes, and the docs say so: SCAN lists a classmate's key *names*.
    assert bob_key in set(alice.scan_iter(match=f"{bob_name}:*"))
    alice.set(f"{alice_name}:ticket:1", "mine")  # and one's own keys work as ever
    assert alice.get(f"{alice_name}:ticket:1") == "mine"


def _subscribe(client: redis.Redis, channel: str) -> None:
    pubsub = client.pubsub()
    try:
        pubsub.subscribe(channel)
        pubsub.get_message(timeout=1.0)  # the refusal arrives as the reply
    finally:
        pubsub.close()


def test_reset_deletes_only_that_learners_keys(
        learners: Callable[..., dict[str, dict[str, str]]], admin: redis.Redis,
        tmp_path: Path) -> None:
    envs = learners("carol", "dave")
    carol, dave = envs
    client = _backend(envs[carol], tmp_path).client
    for n in range(30):
        client.set(f"{carol}:lesson01:ticket:{n}", "x")
    other_db = redis.Redis.from_url(envs[carol]["REDIS_URL"].replace("/0", "/3"))
    other_db.set(f"{carol}:elsewhere", "x")  # a learner may SELECT another database
    admin.set(f"{dave}:lesson01:ticket:1", "keep")
    admin.set("instructor-notes", "keep")
    assert classroom.reset(admin, carol) == 31
    assert not list(admin.scan_iter(match=f"{carol}:*"))
    assert not other_db.exists(f"{carol}:elsewhere")
    assert admin.get(f"{dave}:lesson01:ticket:1") == "keep"
    assert admin.get("instructor-notes") == "keep"
    assert client.set(f"{carol}:again", "1")  # the user stays
    with pytest.raises(InputError, match="not a learner"):
        classroom.reset(admin, "nobody-here")
    admin.delete("instructor-notes")
    other_db.close()


def test_revoke_closes_their_connections_and_remove_empties_the_class(
        learners: Callable[..., dict[str, dict[str, str]]], admin: redis.Redis,
        tmp_path: Path) -> None:
    envs = learners("erin", "frank")
    erin, frank = envs
    connected = _backend(envs[erin], tmp_path).client
    connected.set(f"{erin}:k", "1")
    classroom.revoke(admin, erin)
    with pytest.raises(redis.RedisError):  # the open connection is gone...
        connected.get(f"{erin}:k")
    with pytest.raises(redis.AuthenticationError):  # ...and so is the password
        redis.Redis.from_url(envs[erin]["REDIS_URL"]).ping()
    states = {learner.name: learner.state for learner in classroom.learners(admin)}
    assert (states[erin], states[frank]) == ("revoked", "active")
    assert admin.get(f"{erin}:k") == "1"  # keys stay until reset or remove
    admin.set("not-a-learner:k", "keep")
    names, deleted = classroom.remove(admin)
    assert {erin, frank} <= set(names) and deleted >= 1
    assert not admin.exists(classroom.ROSTER_KEY) and admin.get("not-a-learner:k") == "keep"
    assert erin not in admin.acl_users() and frank not in admin.acl_users()
    admin.delete("not-a-learner:k")


def test_create_never_changes_an_existing_user(
        learners: Callable[..., dict[str, dict[str, str]]], admin: redis.Redis,
        class_server: ClassProcess, tmp_path: Path) -> None:
    (name,) = learners("gina")
    admin.acl_setuser("someone-else", enabled=True, passwords=["+theirs"], keys=["*"],
                      commands=["+@all"])
    try:
        for taken in (name, "someone-else"):
            with pytest.raises(InputError, match="already a Redis user"):
                classroom.create(admin, [taken], tmp_path / "x",
                                 class_server.instructor["REDIS_URL"])
        assert "~*" in str(admin.acl_getuser("someone-else")["keys"])  # unchanged
    finally:
        admin.acl_deluser("someone-else")


# --- the kit under a learner's user ---------------------------------------------------------
def test_the_kit_explains_what_a_learner_may_not_do(
        learners: Callable[..., dict[str, dict[str, str]]], admin: redis.Redis,
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    envs = learners("hana", "ivan")
    hana, ivan = envs
    backend = _backend(envs[hana], tmp_path)
    caps = backend.capabilities
    assert caps.acl_user == hana and caps.denied >= LEARNER_DENIED
    assert not caps.info and not caps.maxmemory_configurable and caps.lua
    assert caps.server_version and caps.server_version.startswith("7")  # HELLO said so
    assert caps.why_not("INFO") == f"your Redis user ({hana}) may not run INFO"
    keys = KeySchema(prefix=f"{hana}:lesson08:")
    Cache(backend.client, keys).cache_session("s1", {"user": 1})
    admin.set(f"{ivan}:lesson08:ticket:1", "{}")
    snap = snapshot(backend.client, keys)
    assert snap.value("memory.used_bytes") is None
    assert snap.unavailable["memory.used_bytes"].startswith("your Redis user may not run INFO")
    assert snap.value("prefix.keys") == 1 and snap.value("queue.pending") == 0
    with pytest.raises(FeatureUnavailableError, match="may not run CONFIG"):
        eviction_lab(backend.client, keys)
    from helpdesk_kit.lab import eviction

    monkeypatch.setattr(eviction.shutil, "which", lambda name: None)
    assert "may not run CONFIG" in (eviction.lab_skip_reason("url", caps) or "")
    with pytest.raises(ConfigError, match="HELPDESK_KEY_PREFIX"):
        acl.require_prefix(backend.client, f"{ivan}:lesson01:", hana)
    acl.require_prefix(backend.client, f"{hana}:lesson01:", hana)  # one's own: fine
    # The kit's probes are logged with context "multi"; only a real try counts as refused.
    assert {r.name: r.refused for r in activity(admin)}[hana] == 0
    with pytest.raises(redis.exceptions.NoPermissionError):
        backend.client.get(f"{ivan}:lesson08:ticket:1")
    assert {r.name: r.refused for r in activity(admin)}[hana] == 1


def test_doctor_names_the_learners_user_and_what_it_may_not_run(
        learners: Callable[..., dict[str, dict[str, str]]], tmp_path: Path) -> None:
    envs = learners("jo")
    (name,) = envs
    done = run_kit(["doctor"], kit_env(tmp_path / "data", **envs[name]), tmp_path / "log")
    assert done.returncode == 0, done.stderr
    assert f"Redis user {name}: may not run CONFIG, FLUSHALL, FLUSHDB, INFO, KEYS" in done.stdout
    assert _password(envs[name]) not in done.stdout + done.stderr


# --- the instructor's table -----------------------------------------------------------------
def test_the_table_counts_each_learners_keys_queue_and_dead_letters(
        learners: Callable[..., dict[str, dict[str, str]]], admin: redis.Redis,
        tmp_path: Path) -> None:
    envs = learners("kim", "lee")
    kim, lee = envs
    client = _backend(envs[kim], tmp_path).client
    keys = KeySchema(prefix=f"{kim}:lesson06:")
    client.rpush(keys.tasks_pending, "{}", "{}")
    client.rpush(keys.tasks_dead, "{}")
    client.hset(keys.tasks_stats, "done", 5)
    rows = {row.name: row for row in activity(admin)}
    assert (rows[kim].keys, rows[kim].pending, rows[kim].dead, rows[kim].done) == (3, 2, 1, 5)
    assert rows[kim].connections == 1 and rows[kim].idle_s is not None and rows[kim].idle_s < 5
    assert (rows[lee].keys, rows[lee].pending, rows[lee].connections) == (0, 0, 0)
    from helpdesk_kit.widgets.classroom import classroom_table

    table = classroom_table(admin, start=False)
    assert kim in table.table.value and lee in table.table.value and table.error is None
    mine = classroom_table(client, start=False)  # a learner's user is told, not crashed
    assert mine.error is not None and "instructor" in mine.error


# --- the lessons, under a learner's user ----------------------------------------------------
def test_the_lessons_run_under_a_learners_user(
        learners: Callable[..., dict[str, dict[str, str]]], tmp_path: Path) -> None:
    """nbval, lax (outputs not compared; any error fails) on lessons 00 01 03 06 08 13 15."""
    envs = learners("nb")
    (name,) = envs
    notebooks = [str(ROOT / "notebooks" / f"{stem}.ipynb") for stem in LESSONS]
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "--nbval-lax", "--nbval-current-env", "-q",
         "-p", "no:cacheprovider", *notebooks], cwd=ROOT, capture_output=True, text=True,
        env=kit_env(tmp_path / "data", **envs[name]), timeout=600, check=False)
    assert done.returncode == 0, done.stdout[-6000:]
    assert _password(envs[name]) not in done.stdout + done.stderr


def test_the_table_shows_each_learners_hit_rate_from_what_their_caches_published(
        learners: Callable[..., dict[str, dict[str, str]]], admin: redis.Redis,
        class_server: ClassProcess, tmp_path: Path) -> None:
    envs = learners("ana", "bo")
    ana, bo = envs
    assert envs[ana]["HELPDESK_PUBLISH_STATS"] == "1"  # the env file turns it on
    lesson = setup("01_cache_aside", settings=Settings.from_env(
        {**envs[ana], "HELPDESK_DATA_DIR": str(tmp_path / "data")}), users=5, tickets=5,
        logs=False)
    try:
        app = lesson.make_app()
        for _ in range(3):  # one miss, then two hits
            assert app.get_ticket(1)["success"]
        assert app.cache is not None and app.cache.internals.publisher is not None
    finally:
        lesson.close()  # sends what was not published yet (every 5 s otherwise)
    rows = {row.name: row for row in activity(admin)}
    assert (rows[ana].hits, rows[ana].misses) == (2, 1)
    assert rows[ana].hit_rate == pytest.approx(2 / 3)
    assert rows[bo].hit_rate is None  # nothing published: no made-up rate
    from helpdesk_kit.widgets.classroom import classroom_table

    table = classroom_table(admin, start=False).table.value
    assert "67%" in table and "n/a" in table
    listed = run_kit(["classroom", "list"], kit_env(tmp_path / "instructor",
                                                    **class_server.instructor), tmp_path / "log")
    assert listed.returncode == 0, listed.stderr
    line = next(row for row in listed.stdout.splitlines() if row.startswith(ana))
    assert "hit rate" in listed.stdout and "67%" in line


def test_a_learner_without_a_prefix_works_under_their_user_name(
        learners: Callable[..., dict[str, dict[str, str]]], tmp_path: Path) -> None:
    envs = learners("cy")
    (name,) = envs
    env = {k: v for k, v in envs[name].items() if k != "HELPDESK_KEY_PREFIX"}
    lesson = setup("01_cache_aside", settings=Settings.from_env(
        {**env, "HELPDESK_DATA_DIR": str(tmp_path / "data")}), users=5, tickets=5, logs=False)
    try:
        assert lesson.settings.key_prefix == f"{name}:lesson01:"
        assert lesson.make_app().get_ticket(1)["success"]
    finally:
        lesson.close()
    wrong = {**envs[name], "HELPDESK_KEY_PREFIX": "someone-else:",
             "HELPDESK_DATA_DIR": str(tmp_path / "data")}
    with pytest.raises(ConfigError, match="may not use keys under the prefix"):
        setup("01_cache_aside", settings=Settings.from_env(wrong), users=5, tickets=5,
              logs=False)


def test_a_learners_near_cache_is_kept_fresh_by_tracking(
        learners: Callable[..., dict[str, dict[str, str]]], admin: redis.Redis,
        tmp_path: Path) -> None:
    """The class lets each learner hear CLIENT TRACKING's channel (lesson 16); a user who
    may not is told why L1 stays off, before anything is tried."""
    from helpdesk_kit.cache import NearCache
    from helpdesk_kit.cache.near import tracking_unavailable

    envs = learners("nc")
    (name,) = envs
    client = _backend(envs[name], tmp_path).client
    keys = KeySchema(prefix=f"{name}:lesson16:")
    near = NearCache(client, keys)
    try:
        assert near.wait_active(5.0), near.reason
    finally:
        near.close()
    admin.execute_command("ACL", "SETUSER", name, "resetchannels", f"&{name}:*")
    reason = tracking_unavailable(client, keys) or ""
    assert "may not subscribe to __redis__:invalidate" in reason
