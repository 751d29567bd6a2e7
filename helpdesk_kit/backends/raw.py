"""Read replies as bytes, whatever the client's ``decode_responses`` says.

The kit's clients decode replies to ``str`` (readable values are what a lesson shows). But a
value anyone can write (``redis-cli SET ticket:7 $'\\xff'``) may not be UTF-8, and a decoding
client then fails *inside* redis-py with ``UnicodeDecodeError``, before the kit can call it a
miss or a dead letter. The few commands that read values the kit must survive (cached values,
queue entries) go through :func:`bytes_reply` and decode with :func:`utf8` themselves.
"""

from __future__ import annotations

from typing import Any

from redis.client import NEVER_DECODE

__all__ = ["bytes_reply", "utf8"]


def bytes_reply(client: Any, *args: object) -> Any:
    """Run one command on a client or a pipeline, its reply left as bytes.

    On a pipeline this queues the command and returns the pipeline, so calls chain as usual.
    """
    return client.execute_command(*args, **{NEVER_DECODE: True})


def utf8(reply: bytes | str) -> str:
    """The reply as text; raises ``UnicodeDecodeError`` if it is not UTF-8."""
    return reply if isinstance(reply, str) else reply.decode("utf-8")
