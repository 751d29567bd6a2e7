"""Count round trips: how many times a client sent something to Redis and waited for the answer.

A round trip is one write to the connection followed by reading the replies: a plain command
is one, a whole pipeline (``pipe.execute()``) is one however many commands it carries, and a
script of redis-py's ``register_script`` that Redis did not know yet is three (``EVALSHA``
refused, ``SCRIPT LOAD``, ``EVALSHA`` again: lesson 13 counts them). That count - not a
stopwatch - is what a pipeline saves, and it is the same on every machine, so lessons and
checks count instead of timing.

:func:`counting_client` gives a real redis-py client (same server, same user, same database)
whose connections count each send; the connection's own set-up (``HELLO``, ``AUTH``,
``SELECT``) is not counted: it is the price of connecting, paid once.
"""

from __future__ import annotations

from typing import Any

import redis

__all__ = ["RoundTrips", "counting_client"]


class RoundTrips:
    """The count a :func:`counting_client` keeps; ``reset()`` starts it again at 0."""

    def __init__(self) -> None:
        self.count = 0

    def reset(self) -> None:
        self.count = 0

    def __repr__(self) -> str:
        return f"{self.count} round trip{'' if self.count == 1 else 's'}"


def _counting_class(base: type[Any], trips: RoundTrips) -> type[Any]:
    """A subclass of the pool's connection class that counts each send (not the set-up's)."""
    connect_name = ("on_connect_check_health" if hasattr(base, "on_connect_check_health")
                    else "on_connect")

    def setting_up(self: Any, *args: Any, **kwargs: Any) -> Any:
        self.counting_paused = True
        try:
            return getattr(base, connect_name)(self, *args, **kwargs)
        finally:
            self.counting_paused = False

    def send_packed_command(self: Any, command: Any, *args: Any, **kwargs: Any) -> Any:
        if not getattr(self, "counting_paused", False):
            trips.count += 1
        return base.send_packed_command(self, command, *args, **kwargs)

    return type(f"Counting{base.__name__}", (base,), {
        connect_name: setting_up, "send_packed_command": send_packed_command})


def counting_client(client: redis.Redis) -> tuple[redis.Redis, RoundTrips]:
    """A client to the same Redis as ``client`` whose round trips are counted.

    Returns ``(client, trips)``; ``trips.count`` grows by one per round trip. Close the client
    when done (``client.close()``); ``client`` itself is not touched.
    """
    pool = client.connection_pool
    trips = RoundTrips()
    counting_pool = type(pool)(connection_class=_counting_class(pool.connection_class, trips),
                               **pool.connection_kwargs)
    return redis.Redis(connection_pool=counting_pool), trips
