"""The invalidation connection of the near cache: ``CLIENT TRACKING`` in broadcast mode.

A connection of its own (the client's settings, RESP2 whatever the client speaks), does::

    CLIENT ID                                  -> n
    CLIENT TRACKING ON REDIRECT n BCAST PREFIX user: PREFIX ticket: ...
    SUBSCRIBE __redis__:invalidate

and from then on Redis publishes there the name of every key under those prefixes that
changes - written by any client, deleted, expired, evicted; ``FLUSHDB`` sends "every key".
That is Redis 6's server-assisted client-side caching; redis-py's own client-side cache needs
Redis 7.4 and RESP3, this works on 7.0. A thread reads the messages and hands the key names to
the near cache. When idle it sends ``PING``; a connection silent for ``lease`` seconds is
treated as dropped. However it ends, ``on_down`` runs: the near cache empties L1 then, because
an invalidation may have been lost with the connection. The thread holds its owner's
callbacks weakly: a near cache nobody uses any more is collected, and its thread then ends.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any

import redis

__all__ = ["CHANNEL", "Tracker"]

log = logging.getLogger("helpdesk_kit.cache")

#: Where Redis publishes invalidations for a RESP2 client that redirects to it.
CHANNEL = "__redis__:invalidate"


def _weakly(callback: Callable[..., None]) -> Callable[[], Callable[..., None] | None]:
    """A bound method held weakly (its object may go); anything else, as it is."""
    if hasattr(callback, "__self__"):
        return weakref.WeakMethod(callback)
    return lambda: callback


class Tracker:
    """Hear which keys under ``prefixes`` change, on a connection made with ``client``'s settings.

    ``on_up(client_id)`` runs once tracking is on, before :attr:`active` turns true;
    ``on_keys(names)`` for each message (None: every key); ``on_down(reason)`` when it ends,
    after :attr:`active` turned false. All three run in the tracker's thread.
    """

    def __init__(self, client: redis.Redis, prefixes: list[str], *,
                 on_up: Callable[[int], None], on_keys: Callable[[list[bytes] | None], None],
                 on_down: Callable[[str], None], ping_every: float = 0.5,
                 lease: float = 2.0, name: str = "near-cache") -> None:
        if not 0 < ping_every < lease:
            raise ValueError("need 0 < ping_every < lease")
        self.client, self.prefixes, self.name = client, prefixes, name
        self._on_up, self._on_keys, self._on_down = _weakly(on_up), _weakly(on_keys), \
            _weakly(on_down)
        self.ping_every, self.lease = ping_every, lease
        #: False once this Redis refused tracking (too old, or an ACL): it is not tried again.
        self.supported = True
        self.client_id: int | None = None
        self._up, self._heard_until, self._closed = False, 0.0, False
        self._thread: threading.Thread | None = None
        self._conn: Any = None
        self._settled = threading.Event()

    @property
    def active(self) -> bool:
        """Tracking is on and the connection spoke within the lease."""
        return self._up and time.monotonic() < self._heard_until

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        """Connect and listen in a background thread (no-op if running, refused or closed)."""
        if self.running or self._closed or not self.supported:
            return
        self._settled.clear()
        self._thread = threading.Thread(target=self._listen, daemon=True, name=self.name)
        self._thread.start()

    def wait(self, timeout: float) -> bool:
        """Wait until tracking is on or has failed; returns :attr:`active`."""
        if self.running or self._up:
            self._settled.wait(timeout)
        return self.active

    def drop(self) -> None:
        """Cut the connection now, as a network failure would: ``on_down`` runs, and the
        near cache tries tracking again later (lesson 16, where CLIENT KILL is not allowed)."""
        conn = self._conn
        if conn is not None:
            conn.disconnect()

    def close(self) -> None:
        """Stop for good (``on_down("closed")`` runs)."""
        self._closed = True
        conn = self._conn
        if conn is not None:
            conn.disconnect()  # the thread's read fails at once, and it ends
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(5)

    def _listen(self) -> None:
        pool, conn, reason = self.client.connection_pool, None, "the tracking connection ended"
        try:
            # RESP2 and bytes, whatever the client's own connections use: pub/sub frames
            # then read the same everywhere, and a key that is not UTF-8 cannot stop us
            # (redis-py 8's maintenance notifications need RESP3: not on this connection)
            options = {k: v for k, v in pool.connection_kwargs.items()
                       if "maint_notifications" not in k}
            conn = self._conn = pool.connection_class(
                **{**options, "protocol": 2, "decode_responses": False})
            conn.connect()
            refused = None if self._closed else self._track(conn)
            if refused is not None:
                self.supported, reason = False, refused
                return
            while not self._closed:
                if conn.can_read(timeout=self.ping_every):
                    message = conn.read_response(disable_decoding=True)
                    self._heard_until = time.monotonic() + self.lease
                    on_keys = self._on_keys()
                    if on_keys is None:  # nobody uses the near cache any more
                        reason = "its near cache is gone"
                        break
                    # Redis sends key names as an array (None: every key). A PUBLISH to the
                    # channel from some client (it is a plain channel) carries a string: not
                    # from Redis, so it is no invalidation, and it must not end tracking.
                    if message[0] == b"message" and (message[2] is None
                                                     or isinstance(message[2], list)):
                        on_keys(message[2])
                elif time.monotonic() > self._heard_until:
                    raise TimeoutError(f"no answer to PING for {self.lease} s")
                else:
                    conn.send_command("PING", check_health=False)
        except Exception as exc:  # redis, the socket, or a connection closed under our feet
            reason = f"the tracking connection failed ({type(exc).__name__}: {exc})"
        finally:
            was_up, self._up, self._conn, self.client_id = self._up, False, None, None
            if conn is not None:
                conn.disconnect()
            reason = "closed" if self._closed else reason
            if was_up and not self._closed:
                log.warning("near cache off until tracking is back: %s", reason)
            on_down = self._on_down()
            if on_down is not None:
                on_down(reason)
            self._settled.set()

    def _track(self, conn: Any) -> str | None:
        """Turn tracking on for this connection; None, or why this Redis refuses it."""
        try:
            conn.send_command("CLIENT", "ID", check_health=False)
            reply = conn.read_response(disable_decoding=True)
            prefixes = [word for prefix in self.prefixes for word in ("PREFIX", prefix)]
            conn.send_command("CLIENT", "TRACKING", "ON", "REDIRECT", reply, "BCAST", *prefixes,
                              check_health=False)
            conn.read_response(disable_decoding=True)
        except redis.ResponseError as exc:  # Redis < 6, or an ACL without CLIENT
            return f"this Redis refuses CLIENT TRACKING ({exc})"
        conn.send_command("SUBSCRIBE", CHANNEL, check_health=False)
        conn.read_response(disable_decoding=True)
        self.client_id = int(reply)
        on_up = self._on_up()
        if on_up is None:
            raise ReferenceError("its near cache is gone")
        on_up(self.client_id)  # from here on every change is heard
        self._heard_until = time.monotonic() + self.lease
        self._up = True
        self._settled.set()
        return None
