"""Classroom mode without a server: names, ACL rules, URLs, env files, the words a learner reads.

The real-server behaviour (isolation, reset, the CLI, the lessons) is in test_classroom.py;
these are the pieces it is built from, each checked on its own.
"""

from __future__ import annotations

import shutil
import stat
import subprocess
import urllib.parse
from pathlib import Path

import fakeredis
import pytest
import redis

from helpdesk_kit.backends import Capabilities, acl, probe
from helpdesk_kit.errors import InputError
from helpdesk_kit.lab import classroom, eviction
from helpdesk_kit.lab.classroom_activity import Activity, memory_text
from helpdesk_kit.lab.classroom_server import (
    ClassServer,
    learner_url,
    maxmemory_size,
    write_env_file,
)
from helpdesk_kit.metrics import snapshot
from helpdesk_kit.metrics.sources import NO_INFO_FOR_USER


# --- names --------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["learner01", "team-a_3", "B", "x" * 32])
def test_names_that_can_be_a_user_and_a_prefix(name: str) -> None:
    assert classroom.validate_name(name) == name


@pytest.mark.parametrize("name", ["", "1st", "a b", "ana:b", "a*", "x" * 33, "default",
                                  "José", "ann@example.org", "-x"])
def test_names_that_cannot(name: str) -> None:
    with pytest.raises(InputError, match="cannot be a learner's name"):
        classroom.validate_name(name)


def test_numbered_names_continue_after_the_class_so_far() -> None:
    assert classroom.numbered_names(3) == ["learner01", "learner02", "learner03"]
    assert classroom.numbered_names(2, ["learner01", "learner07", "ana"]) == [
        "learner08", "learner09"]
    with pytest.raises(InputError):
        classroom.numbered_names(0)


def test_a_roster_file_skips_comments_and_refuses_doubles(tmp_path: Path) -> None:
    roster = tmp_path / "roster.txt"
    roster.write_text("# morning group\nteam-a\n\n  team-b  \n")
    assert classroom.read_roster(roster) == ["team-a", "team-b"]
    roster.write_text("team-a\nteam-a\n")
    with pytest.raises(InputError, match="twice: team-a"):
        classroom.read_roster(roster)
    roster.write_text("Ana García\n")
    with pytest.raises(InputError, match="no personal data"):
        classroom.read_roster(roster)
    with pytest.raises(InputError, match="no names"):
        roster.write_text("# nobody yet\n")
        classroom.read_roster(roster)
    with pytest.raises(InputError, match="--roster"):
        classroom.read_roster(tmp_path / "missing.txt")


# --- the ACL rules ------------------------------------------------------------------------
def test_the_rules_shut_a_learner_inside_their_prefix() -> None:
    rules = classroom.learner_rules("learner01", "pw")
    assert rules[0] == "reset"  # nothing from an earlier user of that name survives
    assert {"on", ">pw", "~learner01:*", "resetchannels", "&learner01:*", "+@all",
            "-@dangerous"} <= set(rules)
    for command in ("flushdb", "flushall", "keys", "config", "debug", "shutdown", "acl",
                    "function|load", "function|delete", "script|kill", "memory"):
        assert f"-{command}" in rules
    # given back after their denials: who one is, and the size of one's own key
    assert rules[-2:] == ["+acl|whoami", "+memory|usage"]


@pytest.mark.parametrize(("given", "kept"), [("256mb", "256mb"), (" 1GB ", "1gb"),
                                             ("500000", "500000"), ("64k", "64k")])
def test_a_class_server_takes_a_memory_size(given: str, kept: str) -> None:
    assert maxmemory_size(given) == kept


@pytest.mark.parametrize("given", ["0", "", "lots", "-1mb", "1.5gb", "256 mb"])
def test_a_class_needs_a_real_memory_bound(given: str) -> None:
    with pytest.raises(InputError, match="--maxmemory"):
        maxmemory_size(given)


@pytest.mark.parametrize(("memory", "estimated", "shown"), [
    (None, False, "n/a"), (0, False, "0 B"), (900, False, "900 B"), (2048, False, "2.0 KiB"),
    (5 * 1024 * 1024 + 1, True, "~5.0 MiB"), (3 << 30, False, "3.0 GiB")])
def test_a_learners_memory_reads_in_binary_units(memory: int | None, estimated: bool,
                                                 shown: str) -> None:
    row = Activity("ana", "active", 1, 0, 0, 0, None, None, None, memory_bytes=memory,
                   memory_estimated=estimated)
    assert memory_text(row) == shown


# --- URLs and env files -------------------------------------------------------------------
@pytest.mark.parametrize(("instructor", "host", "expected"), [
    ("redis://default:ADMIN@127.0.0.1:6379/0", None, "redis://ana:pw@127.0.0.1:6379/0"),
    ("redis://:ADMIN@127.0.0.1:6379/2", "192.168.1.10", "redis://ana:pw@192.168.1.10:6379/2"),
    ("redis://:ADMIN@127.0.0.1:6379/0", "class.lan:7000", "redis://ana:pw@class.lan:7000/0"),
    ("rediss://default:ADMIN@h:6380/0?ssl_ca_certs=/ca.pem&password=ADMIN", None,
     "rediss://ana:pw@h:6380/0?ssl_ca_certs=/ca.pem"),
    ("unix:///run/redis.sock?db=0", None, "unix://ana:pw@/run/redis.sock?db=0"),
])
def test_a_learners_url_is_the_instructors_with_their_user(instructor: str, host: str | None,
                                                           expected: str) -> None:
    url = learner_url(instructor, "ana", "pw", host)
    assert url == expected and "ADMIN" not in url
    parts = urllib.parse.urlsplit(url)
    assert (parts.username, parts.password) == ("ana", "pw")


def test_env_files_are_private_and_load_in_a_shell(tmp_path: Path) -> None:
    path = tmp_path / "ana.env"
    path.write_text("old")
    path.chmod(0o644)  # an old file anyone could read: rewritten private
    url = "rediss://ana:pw@h:6380/0?ssl_ca_certs=/ca.pem&ssl_cert_reqs=required"
    write_env_file(path, {"REDIS_URL": url, "HELPDESK_KEY_PREFIX": "ana:"}, "two\nlines")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text().startswith("# two\n# lines\n")
    assert not list(tmp_path.glob(".ana.env.*"))  # no temporary file left behind
    bash = shutil.which("bash")
    if bash is None:
        pytest.skip("no bash to load the file with")
    loaded = subprocess.run([bash, "-c", f'set -a; . "{path}"; printf %s "$REDIS_URL"'],
                            capture_output=True, text=True, check=True)
    assert loaded.stdout == url  # the & did not send anything to the background


def test_no_repr_shows_a_password(tmp_path: Path) -> None:
    learner = classroom.Learner("ana", password="SECRET-1")
    assert "SECRET-1" not in repr(learner)
    if shutil.which("redis-server") is None:
        return
    (tmp_path / "instructor.password").write_text("SECRET-2\n")  # a class served before
    server = ClassServer(tmp_path, port=6390)
    assert "SECRET-2" in server.url() and "SECRET-2" not in repr(server)
    assert stat.S_IMODE((tmp_path / "instructor.password").stat().st_mode) == 0o600


# --- what a learner reads -------------------------------------------------------------------
def test_capabilities_say_what_is_denied_and_by_whom() -> None:
    caps = Capabilities("7.0.15", False, True, False, "ana", frozenset({"INFO", "FLUSHDB"}))
    assert not caps.may("info") and caps.may("EVAL")
    assert caps.why_not("FLUSHDB") == "your Redis user (ana) may not run FLUSHDB"
    assert caps.why_not("EVAL") is None
    assert Capabilities(None, True, True, True).why_not("INFO") is None  # the old shape


def test_no_info_names_the_user_or_the_backend_that_has_none() -> None:
    learner = Capabilities("7.0.15", False, True, False, "ana", frozenset({"INFO"}))
    assert learner.no_info() == "your Redis user (ana) may not run INFO"
    fake = Capabilities(None, False, False, False)
    assert "fakeredis" in (fake.no_info() or "") and "user" not in (fake.no_info() or "")
    assert Capabilities("7.0.15", True, True, True).no_info() is None


@pytest.mark.parametrize(("reply", "words"), [
    ("this user has no permissions to run the 'flushdb' command", "may not run FLUSHDB"),
    ("this user has no permissions to run the 'config|get' command", "may not run CONFIG GET"),
    ("this user has no permissions to access one of the keys used as arguments",
     "may not touch that key"),
    ("this user has no permissions to access one of the channels used as arguments",
     "may not use that channel"),
])
def test_a_refusal_in_a_learners_words(reply: str, words: str) -> None:
    exc = redis.exceptions.NoPermissionError(reply)
    assert acl.refused(exc) and words in acl.explain(exc, "ana")
    assert "(ana)" in acl.explain(exc, "ana") and "(default)" not in acl.explain(exc, "default")


def test_inside_lua_a_refusal_is_a_plain_error_and_still_counts() -> None:
    exc = redis.ResponseError("The user executing the script can't access at least one of the "
                              "keys mentioned in the command arguments script: 6567")
    assert acl.refused(exc) and "may not touch that key" in acl.explain(exc)
    assert not acl.refused(redis.ResponseError("WRONGTYPE Operation against a key"))


def test_fakeredis_has_no_acl_to_probe() -> None:
    caps = probe(fakeredis.FakeRedis(decode_responses=True))
    assert caps.acl_user is None and caps.denied == frozenset()


class _Learner(fakeredis.FakeRedis):
    """A fakeredis whose INFO answers as a class's learner hears it (NOPERM)."""

    def info(self, *args: object, **kwargs: object) -> dict[str, object]:
        raise redis.exceptions.NoPermissionError(
            "this user has no permissions to run the 'info' command")


def test_metrics_name_a_denied_info_instead_of_inventing_numbers() -> None:
    snap = snapshot(_Learner(decode_responses=True))
    assert snap.value("memory.used_bytes") is None
    assert snap.unavailable["memory.used_bytes"] == NO_INFO_FOR_USER
    assert NO_INFO_FOR_USER.startswith("your Redis user may not run INFO")


def test_the_eviction_lab_names_a_denied_config(monkeypatch: pytest.MonkeyPatch) -> None:
    caps = Capabilities("7.0.15", False, True, False, "ana", frozenset({"CONFIG"}))
    monkeypatch.setattr(eviction, "no_server_reason", lambda: "none here")  # no server program
    assert "(ana) may not run CONFIG" in (eviction.lab_skip_reason("url", caps) or "")
    assert "no Redis server program" in (eviction.lab_skip_reason("url") or "")
    monkeypatch.setattr(eviction, "no_server_reason", lambda: None)  # a program is here
    assert eviction.lab_skip_reason("url", caps) is None  # a private server of its own


# --- the instructor's table without a class -----------------------------------------------
def test_the_table_on_a_redis_with_no_class_says_so() -> None:
    from helpdesk_kit.widgets.classroom import NO_CLASS, classroom_table, idle_text

    table = classroom_table(fakeredis.FakeRedis(decode_responses=True), start=False)
    assert table.rows == [] and NO_CLASS in table.header.value and table.error is None
    assert [idle_text(s) for s in (None, 5, 300, 10800)] == [
        "n/a", "5 s ago", "5 min ago", "3 h ago"]
