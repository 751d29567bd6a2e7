"""The ``%%redis`` cell magic: Redis commands typed as on redis.io, run under the lesson's prefix.

In a lesson (``setup()`` loads it; elsewhere ``%load_ext helpdesk_kit.lessons.magic``)::

    %%redis
    # a comment
    SET user:7 "{\\"name\\": \\"Ana\\"}" EX 300
    GET user:7
    TTL user:7

prints each command as it was sent - with the lesson's prefix on its keys - and the reply as
redis-cli prints it::

    redis> SET lesson01:user:7 "{\\"name\\": \\"Ana\\"}" EX 300
    OK
    redis> GET lesson01:user:7
    "{\\"name\\": \\"Ana\\"}"
    redis> TTL lesson01:user:7
    (integer) 300

How a line is read: :mod:`.parse`; which arguments are keys: :mod:`.keyspecs`; how replies
look: :mod:`.reply`; the connection the magic keeps: :mod:`.connection`; the cell, run:
:mod:`.session`.
"""

from __future__ import annotations

from typing import Any

import redis

from .parse import ParseError, parse_cell, parse_line, quote, render
from .reply import format_reply
from .session import CliSession

__all__ = ["CliSession", "ParseError", "current", "forget", "format_reply",
           "load_ipython_extension", "parse_cell", "parse_line", "quote", "render", "use"]

_current: CliSession | None = None


def use(client: redis.Redis, prefix: str) -> CliSession:
    """Make ``%%redis`` run on ``client`` under ``prefix`` (``setup()`` calls this)."""
    global _current
    if _current is not None:
        _current.close()
    _current = CliSession(client, prefix)
    return _current


def forget(client: redis.Redis) -> None:
    """Close the magic's connection if it belongs to ``client`` (the lesson is closing)."""
    global _current
    if _current is not None and _current.client is client:
        _current.close()
        _current = None


def current() -> CliSession | None:
    return _current


def _redis_cell(line: str, cell: str) -> None:
    from IPython.core.error import UsageError

    if line.strip():
        raise UsageError("%%redis takes no options: the commands go in the cell, one a line")
    if _current is None:
        raise UsageError("%%redis runs under a lesson's key prefix: run "
                         "`lesson = setup(\"NN_name\")` first")
    try:
        _current.run(cell)
    except ParseError as exc:
        raise UsageError(f"nothing was sent: {exc}") from None


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext helpdesk_kit.lessons.magic`` (and ``setup()``) register ``%%redis``."""
    ipython.register_magic_function(_redis_cell, magic_kind="cell", magic_name="redis")


def register_in_notebook() -> None:
    """Load the extension in the running IPython, if there is one (nothing otherwise)."""
    try:
        from IPython import get_ipython
    except ImportError:  # not installed: no notebook to register in
        return
    shell = get_ipython()
    if shell is not None:
        shell.extension_manager.load_extension(__name__)
