"""WATCH/MULTI/EXEC with a result: redis-py's ``transaction(..., value_from_callable=True)``.

The queue moves tasks between lists under WATCH so two workers never move one task twice, and
wants to know what the move did. redis-py's stubs type the callable as returning ``None``;
this one wrapper states the real contract once, so callers stay fully typed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

import redis

__all__ = ["watched"]

T = TypeVar("T")


def watched(client: redis.Redis, build: Callable[[Any], T], *keys: str) -> T:
    """WATCH ``keys``, run ``build(pipe)`` (it reads, then calls ``pipe.multi()`` and queues
    writes), EXEC; on a concurrent change redis-py retries ``build``. Returns what it returned.
    """
    # redis-py's stubs type the callable as returning None: the one ignore this module exists for
    result = client.transaction(build, *keys, value_from_callable=True)  # type: ignore[arg-type]
    return cast(T, result)
