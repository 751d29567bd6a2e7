"""Lesson 02: the key schema, TTLs (expiry, jitter), JSON vs pickle, sessions.

The pickle demonstration is deliberately harmless: its payload calls ``print``. The point is
that ``pickle.loads`` calls *whatever callable the bytes name* - an attacker who can write to
a shared Redis would name ``os.system`` instead. JSON can only ever produce data.
"""

from __future__ import annotations

import html
import pickle
import time
from collections import Counter
from typing import Any

import ipywidgets as widgets
import redis
from matplotlib.figure import Figure

from ..cache import Cache
from ..keys import KeySchema
from ..lessons import Table
from . import Shown

__all__ = [
    "KeyInspector",
    "expiry_plot",
    "expiry_times",
    "harmless_pickle_payload",
    "jitter_plot",
    "key_table",
    "touch_session",
    "watch_expiry",
]


def key_table(keys: KeySchema) -> Table:
    """The seed's keys under this prefix, with the Redis type and meaning from keys.py."""
    examples: list[tuple[str, str, object]] = [  # the third: what holds the docstring
        ("user:{userId}", keys.user(7), KeySchema.user),
        ("ticket:{ticketId}", keys.ticket(7), KeySchema.ticket),
        ("tasks:pending", keys.tasks_pending, vars(KeySchema)["tasks_pending"]),  # the property
        ("session:{sessionId}", keys.session("abc123"), KeySchema.session),
    ]
    rows = [(seed, example, (doc.__doc__ or "").split(" - ", 1)[-1].strip().replace("``", ""))
            for seed, example, doc in examples]
    return Table(("seed", "key here", "type and meaning"), rows, caption="The key schema")


def watch_expiry(client: redis.Redis, key: str, ttl_ms: int = 1200, every: float = 0.1
                 ) -> list[tuple[float, int]]:
    """``SET key ... PX ttl_ms``, then poll ``PTTL`` until the key is gone.

    Returns ``(seconds since the SET, PTTL)`` samples; the last PTTL is -2 (no such key).
    """
    client.set(key, "expiring soon", px=ttl_ms)
    started = time.perf_counter()
    samples = []
    deadline = started + ttl_ms / 1000 + 5  # never loop forever on a broken server
    while time.perf_counter() < deadline:
        pttl = int(client.pttl(key))
        samples.append((time.perf_counter() - started, pttl))
        if pttl == -2:
            break
        time.sleep(every)
    return samples


def expiry_plot(samples: list[tuple[float, int]]) -> Figure:
    fig = Figure(figsize=(6, 2.8))
    ax = fig.subplots()
    ax.step([s for s, _ in samples], [max(p, 0) for _, p in samples], where="post")
    ax.set_xlabel("seconds since SET (measured)")
    ax.set_ylabel("PTTL (ms)")
    ax.set_title("A key's time to live, polled until Redis removes it")
    fig.tight_layout()
    return fig


def expiry_times(cache: Cache, n: int) -> list[int]:
    """The TTLs ``cache`` would give ``n`` tickets cached together (base TTL + jitter)."""
    return [cache.ttl_for("ticket") for _ in range(n)]


def jitter_plot(without: list[int], with_jitter: list[int]) -> Figure:
    """Keys expiring per second, without and with jitter."""
    fig = Figure(figsize=(7, 3))
    ax = fig.subplots()
    for label, values in (("no jitter", without), ("10% jitter", with_jitter)):
        counts = sorted(Counter(values).items())
        ax.bar([s for s, _ in counts], [c for _, c in counts], alpha=0.6, label=label)
    ax.set_xlabel("second at which the key expires")
    ax.set_ylabel("keys expiring (= reads sent to the DB)")
    ax.set_title("2,000 keys cached together: when do they expire?")
    ax.legend()
    fig.tight_layout()
    return fig


class _HarmlessPayload:
    """What an attacker would store: unpickling it *calls* a function of their choosing."""

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return (print, ("pickle.loads just called print() - it could as well be os.system()",))


def harmless_pickle_payload() -> bytes:
    """Bytes that run ``print(...)`` when unpickled: the shape of a real attack, made safe."""
    return pickle.dumps(_HarmlessPayload(), protocol=4)


def touch_session(cache: Cache, session_id: str, ttl: int) -> dict[str, Any] | None:
    """Read a session and slide its expiry (``GETEX key EX ttl``): active users stay logged in.

    Cached rows keep their TTL on a read (they must expire to pick up changes); a session is
    the opposite: it should live as long as the user is active. See
    :meth:`helpdesk_kit.cache.Cache.get_cached_session`.
    """
    return cache.get_cached_session(session_id, ttl=ttl)


class KeyInspector(Shown):
    """Pick an entity and an id: see the key name, whether it exists, its TTL and value.

    The **cache it** button stores the row through the cache with the TTL from the slider, so
    a short TTL can be watched running out with **refresh**.
    """

    def __init__(self, cache: Cache, store: Any) -> None:
        self.cache = cache
        self.store = store
        self.entity = widgets.Dropdown(options=["ticket", "user"], value="ticket",
                                       description="entity")
        self.ident = widgets.BoundedIntText(value=7, min=1, max=100000, description="id")
        self.ttl = widgets.IntSlider(value=5, min=1, max=300, description="TTL (s)")
        self.cache_button = widgets.Button(description="cache it")
        self.refresh_button = widgets.Button(description="refresh")
        self.view = widgets.HTML()
        self.cache_button.on_click(lambda _: self.cache_it())
        self.refresh_button.on_click(lambda _: self.inspect())
        for control in (self.entity, self.ident):
            control.observe(lambda _: self.inspect(), names="value")
        self.widget = widgets.VBox([
            widgets.HBox([self.entity, self.ident]),
            widgets.HBox([self.ttl, self.cache_button, self.refresh_button]), self.view,
        ])
        self.inspect()

    def key(self) -> str:
        return self.cache.keys.entity(self.entity.value, self.ident.value)

    def cache_it(self) -> str:
        loader = self.store.get_ticket if self.entity.value == "ticket" else self.store.get_user
        row = loader(self.ident.value)
        if row is None:
            self.view.value = f"<i>no {self.entity.value} {self.ident.value} in the database</i>"
            return self.view.value
        self.cache.put(self.entity.value, self.ident.value, row, ttl=self.ttl.value)
        return self.inspect()

    def inspect(self) -> str:
        key = self.key()
        client = self.cache.client
        raw = client.get(key)
        ttl = int(client.ttl(key))
        if raw is None:
            self.view.value = f"<code>{html.escape(key)}</code>: not in Redis (GET -> nil)"
        else:
            text = raw if isinstance(raw, str) else raw.decode("utf-8", "backslashreplace")
            self.view.value = (f"<code>{html.escape(key)}</code>: TTL {ttl} s, "
                               f"{len(text.encode())} bytes<br><code>{html.escape(text)}</code>")
        return self.view.value

