"""Keyspace notifications: hear Redis expire and evict the kit's keys, live (lesson 12).

Redis can publish a message when something happens to a key: on ``__keyevent@0__:expired``,
the key's name when its TTL ran out and Redis deleted it; on ``__keyevent@0__:evicted``, when
``maxmemory`` made Redis delete it to make room. They are off by default
(``notify-keyspace-events ""``): each matching change then costs a ``PUBLISH``, and switching
them on is a ``CONFIG SET`` for the *whole server*.

So the kit switches them on **only on its own private redis-server** (the one ``connect()``
starts when no ``REDIS_URL`` is set), and puts the old value back afterwards. On a server you
own (``REDIS_URL``) it changes nothing: :func:`keyspace_skip_reason` says why, and which
command you could run yourself. fakeredis publishes no ``expired`` or ``evicted`` events (it
removes expired keys only when they are read, and never evicts): skipped, with that reason.

These are Pub/Sub messages like any other: a watcher not subscribed when the key expires never
hears of it. Use them to *react* (refresh a cache, log an eviction), never as a to-do list.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import redis

from ..app.listen import binary_twin
from ..backends import Backend
from ..errors import FeatureUnavailableError
from ..keys import KeySchema
from ..vocab import BackendKind, KeyspaceEvent
from .eviction import memory_limit

__all__ = ["KeyEvent", "KeyspaceReport", "KeyspaceWatch", "expiry_and_eviction",
           "keyspace_events", "keyspace_skip_reason"]

#: The classes this lab switches on: ``E`` keyevent channels, ``x`` expired, ``e`` evicted.
FLAGS = "Exe"


def keyspace_skip_reason(backend_kind: str) -> str | None:
    """Why lesson 12 cannot watch keyspace events on this backend (a sentence), or None."""
    if backend_kind == BackendKind.FAKE:
        return ("skipped: fakeredis sends no expired or evicted events (it drops an expired "
                "key only when it is read, and never evicts)")
    if backend_kind != BackendKind.SERVER:
        return (f"skipped: notify-keyspace-events is a setting of the whole server, and this "
                f"Redis ({backend_kind}) is yours, not the kit's: it is left as it is. On a "
                f"server of your own, `CONFIG SET notify-keyspace-events {FLAGS}` turns them on")
    return None


@dataclass(frozen=True)
class KeyEvent:
    """One keyspace notification: which event, for which key."""

    event: KeyspaceEvent
    key: str

    @classmethod
    def parse(cls, channel: bytes | str, data: bytes | str) -> KeyEvent | None:
        """``__keyevent@<db>__:<event>`` + the key name, or None for any other message."""
        try:
            name = channel if isinstance(channel, str) else channel.decode("utf-8")
            key = data if isinstance(data, str) else data.decode("utf-8", "backslashreplace")
            head, _, event = name.rpartition(":")
            if not (head.startswith("__keyevent@") and head.endswith("__")):
                return None
            return cls(KeyspaceEvent(event), key)
        except (UnicodeDecodeError, ValueError):
            return None


class KeyspaceWatch:
    """Subscribed to the ``expired`` and ``evicted`` events of one database, for keys under
    one prefix. The server must have them switched on (:func:`keyspace_events` does it)."""

    def __init__(self, client: redis.Redis, keys: KeySchema, db: int = 0) -> None:
        self.keys = keys
        self.channels = [f"__keyevent@{db}__:{event}" for event in KeyspaceEvent]
        self._twin = binary_twin(client)
        self._pubsub: Any = None

    def start(self, timeout: float = 5.0) -> KeyspaceWatch:
        """SUBSCRIBE and wait for the server's confirmations (nothing after them is missed)."""
        self._pubsub = self._twin.pubsub()
        self._pubsub.subscribe(*self.channels)
        confirmed = 0
        deadline = time.monotonic() + timeout
        while confirmed < len(self.channels) and time.monotonic() < deadline:
            message = self._pubsub.get_message(timeout=0.05)
            if message is not None and message["type"] in (b"subscribe", "subscribe"):
                confirmed += 1
        if confirmed < len(self.channels):
            raise redis.TimeoutError("no SUBSCRIBE confirmation for the keyspace channels")
        return self

    def events(self, seconds: float = 0.5, *, until: int | None = None) -> list[KeyEvent]:
        """Events for our keys heard within ``seconds`` (or as soon as ``until`` arrived)."""
        heard: list[KeyEvent] = []
        deadline = time.monotonic() + seconds
        while (until is None or len(heard) < until) and time.monotonic() < deadline:
            message = self._pubsub.get_message(timeout=min(0.05, deadline - time.monotonic()))
            if message is None or message["type"] not in (b"message", "message"):
                continue
            event = KeyEvent.parse(message["channel"], message["data"])
            if event is not None and event.key.startswith(self.keys.prefix):
                heard.append(event)
        return heard

    def close(self) -> None:
        if self._pubsub is not None:
            self._pubsub.close()
            self._pubsub = None
        self._twin.connection_pool.disconnect()


@contextmanager
def keyspace_events(backend: Backend, keys: KeySchema) -> Iterator[KeyspaceWatch]:
    """Switch the events on (the kit's own server only), watch them, switch them back."""
    reason = keyspace_skip_reason(backend.kind)
    if reason is not None:
        raise FeatureUnavailableError(reason)
    client = backend.client
    previous = str(client.config_get("notify-keyspace-events").get("notify-keyspace-events", ""))
    client.config_set("notify-keyspace-events", FLAGS)
    watch = KeyspaceWatch(client, keys)
    try:
        yield watch.start()
    finally:
        watch.close()
        client.config_set("notify-keyspace-events", previous)


@dataclass(frozen=True)
class KeyspaceReport:
    """What :func:`expiry_and_eviction` did and heard (every number counted)."""

    expiring: int         # keys written with a short TTL
    expired_heard: int    # "expired" events heard for them
    expired_after_s: float  # from the TTL's end to the last of those events
    written: int          # keys written under a small maxmemory
    evicted_counted: int  # evictions Redis counted meanwhile (INFO evicted_keys)
    evicted_heard: int    # "evicted" events heard for our keys


def expiry_and_eviction(backend: Backend, keys: KeySchema, *, expiring: int = 20,
                        ttl_ms: int = 200, written: int = 400, value_bytes: int = 2048,
                        headroom_bytes: int = 256 * 1024) -> KeyspaceReport:
    """Set ``expiring`` keys with a ``ttl_ms`` TTL and hear them expire; then write
    ``written`` values past a small ``maxmemory`` and hear the evictions."""
    client = backend.client
    with keyspace_events(backend, keys) as watch:
        for i in range(expiring):
            client.set(f"{keys.prefix}expiring:{i}", "x", px=ttl_ms)
        ends = time.monotonic() + ttl_ms / 1000
        # Redis deletes expired keys in the background, about 10 times a second
        expired = watch.events(ttl_ms / 1000 + 3, until=expiring)
        expired_after = max(0.0, time.monotonic() - ends)
        before = int(client.info("stats")["evicted_keys"])
        used = int(client.info("memory")["used_memory"])
        with memory_limit(client, used + headroom_bytes, "allkeys-lru"):
            for i in range(written):
                client.set(f"{keys.prefix}filler:{i}", "x" * value_bytes)
            evicted = int(client.info("stats")["evicted_keys"]) - before
            heard = watch.events(1.0, until=evicted)
    expired_keys = [e for e in expired if e.event == KeyspaceEvent.EXPIRED]
    evicted_keys = [e for e in heard if e.event == KeyspaceEvent.EVICTED]
    return KeyspaceReport(expiring, len(expired_keys), expired_after, written, evicted,
                          len(evicted_keys))
