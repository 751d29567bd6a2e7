"""Who am I on this Redis, and what may I not run: read-only answers for a restricted user.

A class shares one Redis, and each learner connects as an ACL user of their own (Redis 6+)
that may touch only keys and channels under their prefix and may not run FLUSHDB, INFO,
CONFIG... (see :mod:`helpdesk_kit.lab.classroom`). The kit asks once, when it connects, so a
lesson can explain what is missing instead of showing a ``NoPermissionError`` traceback.

How to ask without doing: a command sent inside ``MULTI`` is checked against the ACL when it
is *queued* - a denied one answers ``NOPERM`` at once, an allowed one answers ``QUEUED`` - and
``DISCARD`` then drops the queue, so nothing ever runs (not even FLUSHDB). Redis records each
denied probe in ``ACL LOG`` with ``context: multi``; a learner's real attempts say
``toplevel`` or ``lua``, so an instructor can tell the two apart.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

import redis

from ..errors import ConfigError, FeatureUnavailableError

__all__ = ["LESSON_COMMANDS", "channel_denied", "denied_commands", "explain", "explained",
           "hello_version", "key_denied", "may_not_run", "named_user", "refused", "require_prefix",
           "whoami"]

#: Commands the lessons use that a classroom user may be refused, each as it is probed
#: (queued inside MULTI, then discarded: never run). The name is what ``denied`` holds.
LESSON_COMMANDS: dict[str, tuple[str, ...]] = {
    "FLUSHDB": ("FLUSHDB",),
    "FLUSHALL": ("FLUSHALL",),
    "KEYS": ("KEYS", "helpdesk-kit-probe"),
    "INFO": ("INFO",),
    "CONFIG": ("CONFIG", "GET", "maxmemory"),
    # Libraries are server-global: a class's learner may call the kit's, not load one.
    "FUNCTION LOAD": ("FUNCTION", "LOAD", "#!lua name=helpdesk_kit_probe\n"),
}


def _probable(client: Any) -> bool:
    """A real redis-py client on one server: fakeredis has no ACL, stand-ins have no pool."""
    if type(client).__module__.startswith("fakeredis"):
        return False
    return isinstance(getattr(client, "connection_pool", None), redis.ConnectionPool)


def whoami(client: Any) -> str | None:
    """The ACL user this client is logged in as (``default`` without one), or None if unknown.

    ``ACL WHOAMI`` answers; where a user may not run it, the user name the client logged in
    with is the answer. None on a server without ACLs (Redis < 6, some managed services).
    """
    if not _probable(client):
        return None
    try:
        return str(client.acl_whoami())
    except redis.ResponseError:
        pass
    username = client.connection_pool.connection_kwargs.get("username")
    return str(username) if username else None


def hello_version(client: Any) -> str | None:
    """The server's version from ``HELLO`` (allowed to every user, unlike INFO), or None."""
    try:
        reply = client.execute_command("HELLO")
    except redis.ResponseError:  # Redis < 6
        return None
    if isinstance(reply, list):  # RESP2: a flat list of names and values
        reply = dict(zip(reply[::2], reply[1::2], strict=False))
    version = reply.get("version") if isinstance(reply, dict) else None
    return str(version) if version else None


def _queued(client: redis.Redis, commands: Sequence[tuple[str, ...]]
            ) -> list[redis.ResponseError | None]:
    """Queue ``commands`` inside MULTI and DISCARD them: None for each the ACL allows.

    One round trip. Nothing runs: a server drops a MULTI queue on DISCARD or on disconnect,
    and the connection is closed rather than reused if anything goes wrong halfway.
    """
    pool = client.connection_pool
    try:
        conn = pool.get_connection()
    except TypeError:  # redis-py 5 wants a command name (6+ deprecates passing one)
        conn = pool.get_connection("MULTI")
    try:
        conn.send_packed_command(conn.pack_commands([("MULTI",), *commands, ("DISCARD",)]))
        replies: list[redis.ResponseError | None] = []
        for _ in range(len(commands) + 2):
            try:
                conn.read_response()
                replies.append(None)
            except redis.ResponseError as exc:  # NOPERM, or an unknown command
                replies.append(exc)
    except BaseException:
        conn.disconnect()  # never leave a half-read MULTI on a pooled connection
        raise
    finally:
        pool.release(conn)
    return replies[1:-1]


def denied_commands(client: Any, commands: dict[str, tuple[str, ...]] | None = None
                    ) -> frozenset[str]:
    """The names in ``commands`` (default :data:`LESSON_COMMANDS`) this user may not run.

    Only ``NOPERM`` counts: a command a server does not know is not "denied", it is missing
    (and the lesson's own check says so). Empty where ACLs cannot be asked (fakeredis).
    """
    wanted = LESSON_COMMANDS if commands is None else commands
    if not _probable(client):
        return frozenset()
    try:
        replies = _queued(client, list(wanted.values()))
    except redis.RedisError:
        return frozenset()
    return frozenset(name for name, reply in zip(wanted, replies, strict=True)
                     if isinstance(reply, redis.exceptions.NoPermissionError))


def key_denied(client: redis.Redis, key: str) -> bool:
    """True if this user may not read or write ``key`` (probed with GET and SET, never run)."""
    if not _probable(client):
        return False
    replies = _queued(client, [("GET", key), ("SET", key, "")])
    return any(isinstance(r, redis.exceptions.NoPermissionError) for r in replies)


def channel_denied(client: redis.Redis, channel: str) -> bool:
    """True if this user may not publish to (nor subscribe to) ``channel``."""
    if not _probable(client):
        return False
    (reply,) = _queued(client, [("PUBLISH", channel, "")])
    return isinstance(reply, redis.exceptions.NoPermissionError)


def named_user(user: str | None) -> str | None:
    """``user`` if it is an ACL user of its own (a class's learner), None for ``default``
    or an unknown one: the one test of "is this someone's restricted account"."""
    return user if user and user != "default" else None


def _who(user: str | None) -> str:
    named = named_user(user)
    return f"your Redis user ({named})" if named else "your Redis user"


def may_not_run(command: str, user: str | None = None) -> str:
    """The sentence a lesson or a metric shows for a denied command."""
    return f"{_who(user)} may not run {command.upper()}"


#: How Redis words a refusal inside a Lua script (a plain error there, not NOPERM).
_SCRIPT_REFUSALS = ("user executing the script can't",)


def refused(exc: BaseException) -> bool:
    """True if ``exc`` is the ACL saying no: NOPERM, or its wording inside a Lua script."""
    if isinstance(exc, redis.exceptions.NoPermissionError):
        return True
    return isinstance(exc, redis.ResponseError) and any(w in str(exc) for w in _SCRIPT_REFUSALS)


def explain(exc: redis.ResponseError, user: str | None = None) -> str:
    """A learner's words for an ACL refusal: which kind of thing was refused, and why."""
    text = str(exc)
    who = _who(user)
    if "one of the keys" in text:
        return (f"{who} may not touch that key: in a class each learner may use only keys "
                "under their own prefix (HELPDESK_KEY_PREFIX, from your env file)")
    if "one of the channels" in text:
        return f"{who} may not use that channel: only channels under your own prefix"
    quoted = text.split("'")  # "... to run the 'config|get' command"
    if len(quoted) == 3:
        return (f"{may_not_run(quoted[1].replace('|', ' '), user)}: it acts on the whole "
                "server, which the class shares")
    return f"{who} was refused: {text}"


@contextlib.contextmanager
def explained(client: Any, instead: str = "") -> Iterator[None]:
    """Run a block; a NOPERM reply in it becomes :class:`FeatureUnavailableError` in a
    learner's words (plus what to do ``instead``), never a driver traceback."""
    try:
        yield
    except redis.ResponseError as exc:
        if not refused(exc):
            raise
        reason = explain(exc, whoami(client))
        raise FeatureUnavailableError(f"{reason}; {instead}" if instead else reason) from None


def require_prefix(client: redis.Redis, prefix: str, user: str | None = None) -> None:
    """Raise :class:`ConfigError` if this user may not use keys under ``prefix``.

    A learner who forgot their env file works under a prefix their ACL user does not own:
    every command would answer NOPERM. Saying so once, with the fix, beats a traceback.
    """
    if key_denied(client, f"{prefix}helpdesk-kit-probe"):
        who = f"Redis user {user!r}" if user else "your Redis user"
        raise ConfigError(
            f"{who} may not use keys under the prefix {prefix!r}: set HELPDESK_KEY_PREFIX to "
            "the one in your env file (in a class, your user name and a colon, e.g. "
            "'learner01:')")
