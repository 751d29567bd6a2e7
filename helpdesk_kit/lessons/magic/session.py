"""One ``%%redis`` cell, run: parsed, put under the lesson's prefix, sent, printed.

Every command runs under the lesson's key prefix, so a cell typed as on redis.io
(``GET user:7``) touches ``lesson01:user:7`` - the key the lesson's redis-py cells and the
kit use - and never a classmate's. Which arguments get the prefix:

* the arguments Redis itself calls keys (:mod:`.keyspecs`: ``SET k v`` -> ``k``,
  ``MSET k1 v1 k2 v2`` -> ``k1``, ``k2``, ``EVAL script 1 k a`` -> ``k``);
* the pattern of ``KEYS`` and of ``SCAN ... MATCH`` (a ``SCAN`` without ``MATCH`` gets
  ``MATCH <prefix>*``), so listing keys shows only the lesson's.

Channel names, values and field names are sent as typed. Each command is echoed as it was
sent (``redis> GET lesson01:user:7``), then its reply as redis-cli prints it. A command
that would never answer in a notebook (``SUBSCRIBE``, ``MONITOR``) is refused with the
redis-py way to do it instead.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import redis

from .connection import CliConnection
from .keyspecs import KeySpecs, key_positions
from .parse import Command, parse_cell, render
from .reply import ErrorReply, Reply, format_reply

__all__ = ["REFUSED", "CliSession", "glob_escape"]

#: Commands a notebook cell cannot run as redis-cli does, and what to use instead.
REFUSED = {
    b"subscribe": "a subscriber waits for messages for ever: use redis-py's "
                  "client.pubsub() (lesson 12)",
    b"psubscribe": "a subscriber waits for messages for ever: use client.pubsub() (lesson 12)",
    b"ssubscribe": "a subscriber waits for messages for ever: use client.pubsub() (lesson 12)",
    b"monitor": "MONITOR streams every command for ever: use redis-cli in a terminal",
    b"sync": "SYNC is how a replica copies its primary, not a command for a cell",
    b"psync": "PSYNC is how a replica copies its primary, not a command for a cell",
    b"hello": "HELLO switches the protocol under the magic's feet: it speaks RESP2, as "
              "redis-cli does by default",
}


def glob_escape(text: bytes) -> bytes:
    """``text`` with Redis's glob characters escaped, so a pattern matches it literally."""
    out = bytearray()
    for byte in text:
        if byte in b"*?[]\\":
            out += b"\\"
        out.append(byte)
    return bytes(out)


class CliSession:
    """The magic's state for one lesson: its client, its prefix, its own connection."""

    def __init__(self, client: redis.Redis, prefix: str) -> None:
        self.client = client
        self.prefix = prefix.encode()
        self._connection: CliConnection | None = None
        self._specs = KeySpecs(self._command_info)

    @property
    def connection(self) -> CliConnection:
        if self._connection is None:
            self._connection = CliConnection(self.client)
        return self._connection

    def _command_info(self, name: str) -> Any:
        """``COMMAND INFO name``'s one entry, asked on a connection of the lesson client's
        pool: never on the magic's own, where it would join an open ``MULTI``."""
        pool = self.client.connection_pool
        connection = pool.get_connection()
        try:
            connection.send_command("COMMAND", "INFO", name)
            reply = connection.read_response(disable_decoding=True)
        except redis.ResponseError:  # a server without COMMAND INFO: the table decides
            return None
        finally:
            pool.release(connection)
        if isinstance(reply, list) and reply:
            return reply[0]
        return None

    def prefixed(self, args: tuple[bytes, ...]) -> tuple[bytes, ...] | str:
        """``args`` with the prefix on every key (and KEYS / SCAN pattern); or, when the
        command cannot run here, the reason."""
        name = args[0].lower()
        if name in REFUSED:
            return f"{args[0].decode('utf-8', 'replace').upper()} is not run here: " \
                   f"{REFUSED[name]}"
        if name == b"keys" and len(args) == 2:
            return (args[0], glob_escape(self.prefix) + args[1])
        if name == b"scan":
            return self._scan(args)
        specs = self._specs.lookup(args)
        if specs is None:
            return (f"{args[0].decode('utf-8', 'replace').upper()}: this Redis does not say "
                    "which of its arguments are keys, so it is not sent (it could write "
                    "outside the lesson's prefix); use redis-py for it")
        keys = set(key_positions(args, specs))
        return tuple(self.prefix + arg if i in keys else arg for i, arg in enumerate(args))

    def _scan(self, args: tuple[bytes, ...]) -> tuple[bytes, ...]:
        words = list(args)
        for i in range(2, len(words) - 1):
            if words[i].lower() == b"match":
                words[i + 1] = glob_escape(self.prefix) + words[i + 1]
                return tuple(words)
        return (*words, b"MATCH", glob_escape(self.prefix) + b"*")

    def run(self, text: str, write: Callable[[str], Any] = print) -> list[tuple[Command, Reply]]:
        """Run every command of a cell, in order, writing each one and its reply.

        A parse error stops the cell before anything is sent (:class:`.parse.ParseError`).
        An error reply does not stop it, as in redis-cli: the next line runs.
        """
        replies = []
        for command in parse_cell(text):
            sent = self.prefixed(command.args)
            if isinstance(sent, str):
                reply: Reply = ErrorReply(sent)
                write(f"redis> {render(command.args)}")
            else:
                write(f"redis> {render(sent)}")
                reply = self.send(sent)
            write(format_reply(reply).rstrip("\n"))
            replies.append((command, reply))
        return replies

    def send(self, args: tuple[bytes, ...]) -> Reply:
        try:
            return self.connection.send(args)
        except redis.TimeoutError:
            return ErrorReply("no answer within the connection's timeout (a blocking "
                              "command waits longer than a cell should)")
        except redis.ConnectionError as exc:
            return ErrorReply(f"cannot reach Redis: {exc}")

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None
