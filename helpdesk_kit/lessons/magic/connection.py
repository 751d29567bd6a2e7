"""The magic's own connection: one command in, the reply exactly as Redis sent it, out.

A redis-py client turns replies into Python values (``SET`` becomes ``True``, ``HGETALL`` a
dict) and cannot tell the simple string ``OK`` from the bulk string ``"OK"``. redis-cli can,
so the magic needs the reply *types*. It opens a connection of its own, with the lesson
client's address, user and database, speaking RESP2 (redis-cli's default) through a parser
that keeps each reply's type (:class:`TypedParser`). Its state lasts across cells, as a
redis-cli session's does: a ``MULTI`` in one cell is still open in the next.

fakeredis has no wire protocol to parse: it hands redis-py Python values, a simple string
already turned into bytes. There the type of a reply is told by the command that asked
(:data:`STATUS_COMMANDS`: ``SET`` answers ``OK`` bare, ``GET`` a quoted string), which is
right for every command the lessons run; a Lua script's ``status_reply`` is the known gap.
"""

from __future__ import annotations

from typing import Any

import redis
from redis._parsers import _RESP2Parser
from redis._parsers.base import _RESPBase
from redis.exceptions import InvalidResponse
from redis.utils import SENTINEL

from .reply import ErrorReply, Reply, Status

__all__ = ["STATUS_COMMANDS", "CliConnection", "TypedParser"]


class TypedParser(_RESP2Parser):
    """RESP2, with each reply's type kept: ``+`` -> :class:`Status`, ``-`` -> ErrorReply.

    Only once the connection is set up: redis-py's handshake (AUTH, SELECT) reads its replies
    itself and expects them plain, so :meth:`on_connect` turns the typing off until
    :class:`CliConnection` turns it on again for the learner's commands.
    """

    typed = False

    def on_connect(self, connection: Any) -> None:
        self.typed = False
        super().on_connect(connection)

    def _read_response(self, disable_decoding: bool = False, timeout: Any = SENTINEL) -> Any:
        if not self.typed:
            return super()._read_response(disable_decoding=disable_decoding, timeout=timeout)
        line = self._buffer.readline()  # type: ignore[union-attr]
        if not line:
            raise redis.ConnectionError("the server closed the connection")
        kind = line[:1]
        rest = line[1:]
        if kind == b"+":
            return Status(rest)
        if kind == b"-":
            return ErrorReply(rest.decode("utf-8", "replace"))
        if kind == b":":
            return int(rest)
        if kind == b"$":
            if rest == b"-1":
                return None
            return self._buffer.read(int(rest))  # type: ignore[union-attr]
        if kind == b"*":
            if rest == b"-1":
                return None
            return [self._read_response() for _ in range(int(rest))]
        raise InvalidResponse(f"Protocol Error: {line!r}")


#: Commands whose plain-text answer is a simple string (fakeredis only; see the module doc).
#: A subcommand is ``name|sub``; ``SET`` with ``GET`` and ``PING`` with a message are bulk.
STATUS_COMMANDS = frozenset({
    "set", "mset", "setex", "psetex", "type", "rename", "flushdb", "flushall", "select",
    "swapdb", "lset", "ltrim", "hmset", "pfmerge", "restore", "migrate", "multi", "discard",
    "watch", "unwatch", "ping", "auth", "quit", "reset", "save", "bgsave", "bgrewriteaof",
    "replicaof", "slaveof", "readonly", "readwrite", "asking", "failover", "shutdown",
    "xgroup|create", "xgroup|setid", "config|set", "config|resetstat", "config|rewrite",
    "script|flush", "script|kill", "function|delete", "function|flush", "function|restore",
    "function|kill", "client|setname", "client|pause", "client|unpause", "client|no-evict",
    "client|no-touch", "client|tracking", "client|setinfo", "client|reply", "acl|setuser",
    "acl|load", "acl|save", "memory|purge", "module|load", "module|unload",
})

#: redis-py strips an error's code when it maps it to an exception class: the way back.
_ERROR_CODES = {cls: code for code, cls in _RESPBase.EXCEPTION_CLASSES.items()
                if isinstance(cls, type)}


def _command_name(args: tuple[bytes, ...]) -> str:
    name = args[0].decode("utf-8", "replace").lower()
    if len(args) > 1 and (f"{name}|" in _SUBCOMMAND_PREFIXES):
        return f"{name}|{args[1].decode('utf-8', 'replace').lower()}"
    return name


_SUBCOMMAND_PREFIXES = frozenset(name.split("|")[0] + "|" for name in STATUS_COMMANDS
                                 if "|" in name)


def status_by_command(args: tuple[bytes, ...]) -> bool:
    """Is a bytes answer to ``args`` a simple string? (fakeredis: see the module doc.)"""
    name = _command_name(args)
    if name not in STATUS_COMMANDS:
        return False
    rest = [arg.lower() for arg in args[1:]]
    if name == "set":
        return b"get" not in rest[2:]
    if name == "ping":
        return not rest
    return True


def error_text(exc: redis.ResponseError) -> str:
    """The error as the server sent it, code first (``ERR ...``, ``WRONGTYPE ...``)."""
    message = str(exc)
    code = _ERROR_CODES.get(type(exc))
    if code is not None:
        return f"{code} {message}"
    first = message.split(" ", 1)[0]
    if len(first) > 1 and first.isalpha() and first.isupper():
        return message
    return f"ERR {message}"


class CliConnection:
    """A connection of its own to the Redis ``client`` talks to; :meth:`send` one command."""

    def __init__(self, client: redis.Redis) -> None:
        pool = client.connection_pool
        options = {name: value for name, value in pool.connection_kwargs.items()
                   if not name.startswith(("maint_notifications", "orig_"))}
        options.update(parser_class=TypedParser, protocol=2)
        self._connection = pool.connection_class(**options)
        self._parser: TypedParser = self._connection._parser
        #: False on fakeredis, where a reply's type is told by its command.
        self.typed = not type(self._connection).__module__.startswith("fakeredis")
        self._queued: list[tuple[bytes, ...]] = []  # fakeredis: inside MULTI, for EXEC

    def send(self, args: tuple[bytes, ...]) -> Reply:
        """Run one command; an error reply is returned (as redis-cli shows it), not raised."""
        try:
            self._connection.connect()  # a no-op when connected; else the plain handshake
            self._parser.typed = self.typed
            self._connection.send_command(*args, check_health=False)
            raw = self._connection.read_response(disable_decoding=True)
        except redis.ResponseError as exc:  # fakeredis raises what a server sends
            raw = ErrorReply(error_text(exc))
        except (redis.ConnectionError, redis.TimeoutError, KeyboardInterrupt):
            self._connection.disconnect()  # an interrupted reply must not be read later
            self._queued.clear()
            raise
        if self.typed:
            return raw
        return self._typed(args, raw)

    def _typed(self, args: tuple[bytes, ...], raw: Any) -> Reply:
        """fakeredis: give a reply the type the command's answer has on a server."""
        name = _command_name(args)
        if name == "multi" and raw == b"OK":
            self._queued.clear()
        elif name in {"exec", "discard"}:
            queued = self._queued
            self._queued = []
            if name == "exec" and isinstance(raw, list):
                return [self._typed(command, item) for command, item in
                        zip(queued, raw, strict=False)]
        elif raw == b"QUEUED":
            self._queued.append(args)
            return Status(raw)
        if isinstance(raw, redis.ResponseError):
            return ErrorReply(error_text(raw))
        if isinstance(raw, bytes) and status_by_command(args):
            return Status(raw)
        if isinstance(raw, list):
            return [self._plain(item) for item in raw]
        return raw

    def _plain(self, item: Any) -> Reply:
        """An element of an array (never a simple string outside EXEC)."""
        if isinstance(item, redis.ResponseError):
            return ErrorReply(error_text(item))
        if isinstance(item, list):
            return [self._plain(inner) for inner in item]
        return item

    def close(self) -> None:
        self._connection.disconnect()
