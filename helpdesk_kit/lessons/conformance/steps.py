"""How a conformance check runs: numbered steps, each with a title, each failure with a why.

A check reads like the seed's life cycle of a piece::

    run = Steps(pieces)
    with run.step("a user nobody cached is not found"):
        found = run.call("get_cached_user", ws.client, ws.keys, 7)
        run.expect(found is None, f"get_cached_user returned {found!r} ...")

The first step that breaks stops the check with a :class:`ConformanceError` that names the
step and says why - ``step 3 (the value is JSON) broke: user:7 holds 'Ana', which is not
JSON...`` - never a traceback from inside the kit. An exception raised by the piece itself
becomes the reason (``cache_user raised KeyError: 'id'``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import redis

from ...db import HelpdeskStore
from ...keys import KeySchema

__all__ = ["ConformanceError", "Pieces", "Steps", "Workspace"]

#: An implementation of the helpdesk: piece name -> function (a module's functions will do).
Pieces = Mapping[str, Callable[..., Any]]


@dataclass(frozen=True)
class Workspace:
    """What a check runs the pieces on: a Redis client, keys under a prefix of their own
    (emptied by whoever made the workspace), and the lesson's database."""

    client: redis.Redis
    keys: KeySchema
    store: HelpdeskStore


class ConformanceError(AssertionError):
    """A piece did not do what the suite checks: which step broke, and why."""

    def __init__(self, number: int, title: str, why: str) -> None:
        super().__init__(f"step {number} ({title}) broke: {why}")
        self.number = number
        self.title = title
        self.why = why


class _Broken(Exception):
    """Raised inside a step; :meth:`Steps.step` turns it into a ConformanceError."""


class Steps:
    """Runs one check's steps in order over ``pieces``; ``done`` lists the steps passed."""

    def __init__(self, pieces: Pieces) -> None:
        self.pieces = pieces
        self.done: list[str] = []

    @contextlib.contextmanager
    def step(self, title: str) -> Iterator[None]:
        number = len(self.done) + 1
        try:
            yield
        except _Broken as broken:
            raise ConformanceError(number, title, str(broken)) from None
        self.done.append(title)

    def call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """Call the piece ``name``; whatever it raises becomes the step's reason."""
        function = self.pieces.get(name)
        if function is None or not callable(function):
            raise _Broken(f"there is no function {name} to call")
        try:
            return function(*args, **kwargs)
        except Exception as exc:
            raise _Broken(f"{name} raised {type(exc).__name__}: {exc}") from exc

    def expect(self, holds: bool, why: str) -> None:
        """The step breaks with ``why`` unless ``holds``."""
        if not holds:
            raise _Broken(why)
