"""A class on one Redis: an ACL user per learner, each shut inside their own key prefix.

A prefix alone (``HELPDESK_KEY_PREFIX``) is a naming convention: anyone could read, overwrite
or FLUSHDB a classmate's keys. Redis 6+ ACL users make it a boundary. Each learner ``NAME``
gets a user that may touch only keys ``NAME:*`` and channels ``NAME:*``, may run the commands
the lessons need, and may not run the server-wide ones (:data:`DENIED`: FLUSHDB, FLUSHALL,
KEYS, CONFIG, DEBUG, SHUTDOWN, ACL, and everything Redis files under ``@dangerous``, INFO
included). What still passes: SCAN, RANDOMKEY and PUBSUB CHANNELS list other learners' key
and channel *names* (never values), and DBSIZE counts everyone's keys - so names carry no
personal data (``learner01``...). One channel more is allowed, ``__redis__:invalidate``:
``CLIENT TRACKING`` sends a near cache's invalidations there (lesson 16). Redis 7.0 does not
check a tracked prefix against the user's keys, so through it, as through SCAN, a learner
could hear *which* of a classmate's keys change - names again, never values.

The instructor works with their own (admin) user, from ``REDIS_URL``. The class's names live
in one HASH, :data:`ROSTER_KEY`: a key without a colon, so no learner's pattern matches it.
Passwords come from :mod:`secrets`, go only into each learner's env file (mode 0600) and are
never printed, logged or shown in a ``repr``. The per-learner table of the instructor's
dashboard is read by :mod:`helpdesk_kit.lab.classroom_activity`; a class Redis, URLs and env
files are :mod:`helpdesk_kit.lab.classroom_server`.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import redis

from ..backends import acl, delete_matching
from ..cache.tracking import CHANNEL
from ..errors import FeatureUnavailableError, InputError
from .classroom_server import learner_url, write_env_file

__all__ = ["DENIED", "ROSTER_KEY", "Learner", "create", "key_owner", "learner_rules",
           "learners", "numbered_names", "read_roster", "remove", "reset", "revoke",
           "validate_name"]

#: HASH: learner name -> JSON ``{"state": "active" | "revoked", "created": ISO time}``.
ROSTER_KEY = "helpdesk-classroom"
#: Commands no learner may run, beyond ``-@dangerous``: each acts on the whole server.
#: ``acl|whoami`` is given back: it only answers "who am I", which the kit asks on connect.
DENIED = ("flushdb", "flushall", "keys", "config", "debug", "shutdown", "acl",
          "script|flush", "function|flush", "function|restore")
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,31}")
_RESERVED = frozenset({"default"})
_NUMBERED = re.compile(r"learner(\d+)")
#: What a refused instructor is told: only an admin user may manage ACL users.
ADMIN_NEEDED = ("use the instructor's REDIS_URL (an admin user: the one `helpdesk-kit "
                "classroom serve` wrote), not a learner's")


@dataclass(frozen=True)
class Learner:
    """One learner of the class: their name (= ACL user and key prefix) and state."""

    name: str
    state: str = "active"
    created: str = ""
    env_file: Path | None = None
    password: str = field(default="", repr=False)  # only right after create(); never shown

    @property
    def prefix(self) -> str:
        """``NAME:`` - the HELPDESK_KEY_PREFIX every key of this learner starts with."""
        return f"{self.name}:"


# --- names -------------------------------------------------------------------------------
def validate_name(name: str) -> str:
    """``name`` if it can be an ACL user and a key prefix: a letter, then letters, digits,
    ``_`` or ``-`` (32 at most). Raises :class:`InputError` otherwise."""
    if not _NAME.fullmatch(name) or name.lower() in _RESERVED:
        raise InputError(f"{name!r} cannot be a learner's name: use a letter, then letters, "
                         "digits, '_' or '-' (at most 32), and no personal data (learner01, "
                         "team-a-3...); 'default' is Redis's own user")
    return name


def numbered_names(count: int, taken: Iterable[str] = ()) -> list[str]:
    """``count`` new names ``learner01``, ``learner02``... numbered after those ``taken``."""
    if count < 1:
        raise InputError(f"--learners must be at least 1, got {count}")
    numbers = [int(m.group(1)) for n in taken if (m := _NUMBERED.fullmatch(n))]
    start = max(numbers, default=0) + 1
    return [f"learner{n:02d}" for n in range(start, start + count)]


def read_roster(path: Path) -> list[str]:
    """Names from a file, one a line; blank lines and ``#`` comments are skipped."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise InputError(f"--roster {path}: {exc.strerror}") from None
    names = [validate_name(line.strip()) for line in lines
             if line.strip() and not line.lstrip().startswith("#")]
    doubled = sorted({n for n in names if names.count(n) > 1})
    if doubled:
        raise InputError(f"--roster {path}: names appear twice: {', '.join(doubled)}")
    if not names:
        raise InputError(f"--roster {path}: no names in it")
    return names


# --- the ACL rules ---------------------------------------------------------------------
def learner_rules(name: str, password: str) -> list[str]:
    """The ``ACL SETUSER name ...`` rules: reset first, so nothing old survives."""
    return ["reset", "on", f">{password}", f"~{name}:*", "resetchannels", f"&{name}:*",
            f"&{CHANNEL}",  # CLIENT TRACKING's: the near cache of lesson 16 (see the module)
            "+@all", "-@dangerous", *(f"-{command}" for command in DENIED), "+acl|whoami"]


# --- the roster in Redis -----------------------------------------------------------------
def learners(client: redis.Redis) -> list[Learner]:
    """Every learner of the class on this Redis, by name."""
    with acl.explained(client, ADMIN_NEEDED):
        roster = client.hgetall(ROSTER_KEY)
    return [Learner(str(name), *_entry(raw)) for name, raw in sorted(roster.items())]

def _entry(raw: bytes | str | None) -> tuple[str, str]:
    """(state, created) from a roster value; a damaged one reads as an active learner."""
    try:
        entry = json.loads(raw or "{}")
    except ValueError:
        entry = {}
    if not isinstance(entry, dict):
        entry = {}
    return str(entry.get("state", "active")), str(entry.get("created", ""))


def _existing_users(client: redis.Redis) -> set[str]:
    try:
        return {str(user) for user in client.acl_users()}
    except redis.exceptions.NoPermissionError:
        raise FeatureUnavailableError(f"your Redis user may not manage ACL users: "
                                      f"{ADMIN_NEEDED}") from None
    except redis.ResponseError as exc:  # Redis < 6, or a service without ACL commands
        raise FeatureUnavailableError(f"this Redis has no ACL users (Redis 6 or newer "
                                      f"needed): {exc}") from None


def _save_acl(client: redis.Redis) -> bool:
    """``ACL SAVE`` where the server keeps an ACL file (a class server does): True if saved."""
    try:
        client.execute_command("ACL", "SAVE")
    except redis.ResponseError:  # "not configured to use an ACL file": users live in memory
        return False
    return True


def create(client: redis.Redis, names: list[str], folder: Path, instructor_url: str, *,
           host: str | None = None) -> tuple[list[Learner], bool]:
    """Make an ACL user and an env file (``folder/NAME.env``, 0600) per name.

    Refuses a name that is already an ACL user (a learner still active, or someone else's
    user: never overwritten). Returns the learners (with their passwords, for the caller to
    show only if asked) and whether the server saved its users to its ACL file.
    """
    for name in names:
        validate_name(name)
    with acl.explained(client, ADMIN_NEEDED):
        taken = _existing_users(client)
        clash = sorted(set(names) & taken)
        if clash:
            raise InputError(f"already a Redis user: {', '.join(clash)} (revoke a learner "
                             "first to give them a new password; other users never change)")
        folder.mkdir(parents=True, exist_ok=True)
        folder.chmod(0o700)
        created = [_create_one(client, name, folder, instructor_url, host) for name in names]
        return created, _save_acl(client)


def _create_one(client: redis.Redis, name: str, folder: Path, instructor_url: str,
                host: str | None) -> Learner:
    password = secrets.token_urlsafe(24)
    try:
        client.execute_command("ACL", "SETUSER", name, *learner_rules(name, password))
    except redis.ResponseError as exc:
        if acl.refused(exc):
            raise
        # Redis quotes the rule it refused: keep the password out of the message.
        raise FeatureUnavailableError(f"this Redis refused the rules for {name!r}: "
                                      f"{str(exc).replace(password, '***')}") from None
    try:
        env = write_env_file(folder / f"{name}.env", {
            "REDIS_URL": learner_url(instructor_url, name, password, host),
            "HELPDESK_REDIS_BACKEND": "url",
            "HELPDESK_KEY_PREFIX": f"{name}:",
            "HELPDESK_PUBLISH_STATS": "1",  # their hit rate, for the instructor's table
        }, f"helpdesk-kit classroom: {name}'s connection to the class Redis. Private: "
           f"mode 0600.\nLoad it before starting Jupyter: set -a; . ./{name}.env; set +a")
    except OSError:
        client.acl_deluser(name)  # no user whose password nobody has
        raise
    now = datetime.now(UTC).isoformat(timespec="seconds")
    client.hset(ROSTER_KEY, name, json.dumps({"state": "active", "created": now}))
    return Learner(name, "active", now, env, password)


# --- reset, revoke, remove ---------------------------------------------------------------
def _databases(client: redis.Redis) -> Iterator[redis.Redis]:
    """A client per database that holds keys (a learner may SELECT another one)."""
    yield client
    try:
        keyspace = client.info("keyspace")
    except redis.ResponseError:
        return
    pool = client.connection_pool
    current = int(pool.connection_kwargs.get("db") or 0)
    for db in sorted(int(name[2:]) for name in keyspace if name.startswith("db")):
        if db != current:
            other = type(pool)(connection_class=pool.connection_class,
                               **{**pool.connection_kwargs, "db": db})
            with redis.Redis(connection_pool=other) as each:
                yield each


def key_owner(key: str, names: Collection[str]) -> str | None:
    """The learner whose prefix ``key`` is under (``learner01:...``), or None."""
    head, colon, _ = key.partition(":")
    return head if colon and head in names else None


def _delete_keys_of(client: redis.Redis, names: set[str], batch: int = 500) -> int:
    """Delete every key under any of ``names`` in one SCAN pass (not one pass per learner)."""
    deleted, found = 0, []
    for key in client.scan_iter(count=1000):
        if key_owner(key, names):
            found.append(key)
        if len(found) >= batch:
            deleted, found = deleted + int(client.unlink(*found)), []
    return deleted + (int(client.unlink(*found)) if found else 0)


def _known(client: redis.Redis, name: str) -> None:
    validate_name(name)
    if not client.hexists(ROSTER_KEY, name):
        raise InputError(f"{name!r} is not a learner of this class (helpdesk-kit classroom list)")


def reset(client: redis.Redis, name: str) -> int:
    """Delete every key of ``name`` (SCAN + UNLINK on ``NAME:*``); the user stays."""
    with acl.explained(client, ADMIN_NEEDED):
        _known(client, name)
        return sum(delete_matching(each, f"{name}:*") for each in _databases(client))


def revoke(client: redis.Redis, name: str) -> bool:
    """Delete ``name``'s ACL user (their connections close at once); their keys stay until
    :func:`reset` or :func:`remove`. Returns whether the ACL file was saved."""
    with acl.explained(client, ADMIN_NEEDED):
        _known(client, name)
        client.acl_deluser(name)
        _state, created = _entry(client.hget(ROSTER_KEY, name))
        client.hset(ROSTER_KEY, name, json.dumps({"state": "revoked", "created": created}))
        return _save_acl(client)


def remove(client: redis.Redis) -> tuple[list[str], int]:
    """The whole class: every learner's user and keys, then the roster. Returns the names
    and how many keys were deleted."""
    with acl.explained(client, ADMIN_NEEDED):
        names = [learner.name for learner in learners(client)]
        if names:
            client.acl_deluser(*names)
        deleted = sum(_delete_keys_of(each, set(names)) for each in _databases(client))
        client.delete(ROSTER_KEY)
        _save_acl(client)
    return names, deleted
