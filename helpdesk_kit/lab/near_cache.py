"""Near-cache experiments (lesson 16, ``make bench``): staleness, the hit-cost ladder, a writer.

Every number is measured here and now, on the Redis the caller gives:

* :func:`measure_staleness` - another *process* rewrites keys that this process holds in L1;
  for each key, the time from just before its write (in the writer) to the moment L1 had
  dropped it (here). Both sides read ``time.monotonic()``, one clock for every process on the
  machine (Linux ``CLOCK_MONOTONIC``), so the difference is a real duration.
* :func:`hit_ladder` - what one read of the same ticket costs from L1, from Redis (GET and
  decoding), from the database file and from the same database across a network (sqld),
  interleaved and summed up by medians.
* :func:`run_writer` - the helpdesk app in another process updates tickets (database write,
  then invalidation), for the lesson's live view of the messages Redis sends.
"""

from __future__ import annotations

import functools
import json
import math
import os
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import redis
from matplotlib.figure import Figure

from ..cache import Cache, NearCache
from ..config import Settings
from ..vocab import Entity

__all__ = ["FILE_RUNG", "L1_RUNG", "REDIS_RUNG", "REMOTE_RUNG", "Staleness", "drop_tracking",
           "fill", "hit_ladder", "ladder_plot", "measure_staleness", "redis_url", "run_writer",
           "staleness_plot"]

#: The raw writer: plain redis-py, so it starts in a fraction of a second. It rewrites each key
#: with its own value (a write is a write: Redis sends the invalidation either way).
_RAW_WRITER = """
import json, sys, time, redis
url, keys, pause = sys.argv[1], json.loads(sys.argv[2]), float(sys.argv[3])
client, written = redis.Redis.from_url(url), []
for key in keys:
    value = client.get(key)
    time.sleep(pause)
    written.append((key, time.monotonic()))
    client.set(key, value, keepttl=True)
print(json.dumps(written))
"""

#: The app writer: the helpdesk in another process, updating tickets the way a user would.
_APP_WRITER = """
import json, sys, time
from helpdesk_kit.app import HelpdeskApp
ids, pause, written = json.loads(sys.argv[1]), float(sys.argv[2]), []
with HelpdeskApp.from_settings() as app:
    for n, ticket_id in enumerate(ids, start=1):
        time.sleep(pause)
        written.append((ticket_id, time.monotonic()))
        app.update_ticket(ticket_id, title=f"changed by another process ({n})")
print(json.dumps(written))
"""


def redis_url(client: Any, settings: Settings | None = None) -> str | None:
    """A URL another process can reach this client's Redis at (None: fakeredis, in-process)."""
    if settings is not None and settings.redis_url:
        return settings.redis_url
    kwargs = getattr(getattr(client, "connection_pool", None), "connection_kwargs", {})
    if type(client).__module__.startswith("fakeredis"):
        return None
    if kwargs.get("path"):
        return f"unix://{kwargs['path']}?db={kwargs.get('db', 0)}"
    if kwargs.get("host"):
        return f"redis://{kwargs['host']}:{kwargs.get('port', 6379)}/{kwargs.get('db', 0)}"
    return None


def _run(args: list[str], env: dict[str, str] | None = None, timeout: float = 60) -> Any:
    done = subprocess.run([sys.executable, "-c", *args], capture_output=True, text=True,
                          timeout=timeout, env=env, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"the writer process failed: {done.stderr.strip()[-500:]}")
    return json.loads(done.stdout.splitlines()[-1])


def run_writer(settings: Settings, url: str, ticket_ids: Sequence[int], pause: float = 0.2,
               ) -> list[tuple[int, float]]:
    """Update ``ticket_ids`` through the app in another process, ``pause`` s apart; returns
    ``(ticket id, monotonic time just before its update)`` for each."""
    env = {**os.environ, "REDIS_URL": url, "HELPDESK_REDIS_BACKEND": "url",
           "HELPDESK_KEY_PREFIX": settings.key_prefix, "HELPDESK_DATA_DIR": str(settings.data_dir),
           "HELPDESK_NEAR_CACHE": "0"}
    written = _run([_APP_WRITER, json.dumps(list(ticket_ids)), str(pause)], env=env)
    return [(int(ident), float(at)) for ident, at in written]


@dataclass(frozen=True)
class Staleness:
    """How long each L1 entry outlived a write made in another process, in seconds."""

    samples: list[float]
    #: Writes whose invalidation never arrived, unless a flush of all of L1 took the row
    #: away (0 is the only right answer: that row could be served stale).
    lost: int
    #: Writes whose row left L1 with everything else instead: the tracking connection went
    #: down meanwhile (a busy machine, a network blip) and L1 was emptied - the fail-safe.
    flushed: int = 0

    @property
    def p50(self) -> float:
        return statistics.median(self.samples) if self.samples else math.nan

    @property
    def p99(self) -> float:
        if not self.samples:  # every write went with a flush: nothing was timed
            return math.nan
        ordered = sorted(self.samples)
        return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]

    def __str__(self) -> str:
        flushed = f"; {self.flushed} went with a flush of L1" if self.flushed else ""
        return (f"{len(self.samples)} writes from another process: L1 dropped the entry after "
                f"p50 {self.p50 * 1e3:.2f} ms, p99 {self.p99 * 1e3:.2f} ms "
                f"(lost invalidations: {self.lost}{flushed})")


def drop_tracking(near: NearCache, client: Any) -> str:
    """Cut the near cache's invalidation connection, as a lost network would, and say how:
    ``CLIENT KILL`` of its id, or - for a user that may not (a class's learner) - a drop from
    this side of the connection. Either way L1 must empty and stay off until it is back."""
    try:
        client.client_kill_filter(_id=near.tracker.client_id)
    except redis.exceptions.NoPermissionError:
        near.tracker.drop()
        return "a drop from this side (your user may not CLIENT KILL)"
    return "CLIENT KILL"


def _messages_caught_up(near: NearCache, timeout: float = 5.0) -> bool:
    """Write a marker key under L1's prefix, then delete it, each time waiting until its
    invalidation is heard. The messages of earlier writes - a fill's own SETs - come first on
    the one tracking connection, so by then every one of them has been handled (an order, not
    a clock)."""
    marker = near.keys.entity(Entity.TICKET, "lab-marker")
    heard = threading.Event()

    def listener(names: list[str] | None, _at: float) -> None:
        if names is None or marker in names:
            heard.set()

    near.listeners.append(listener)
    try:
        # the marker is written, then deleted: each change is heard before the next, so no
        # message of ours is left on its way when this returns
        for change in (lambda: near.client.set(marker, ""), lambda: near.client.delete(marker)):
            heard.clear()
            change()
            if not heard.wait(timeout):
                return False
        return True
    finally:
        near.listeners.remove(listener)


def fill(near: NearCache, ids: Sequence[int], load: Callable[[int], Any]) -> bool:
    """Read each ticket until L1 holds it; False (at once) when L1 is off. A row loaded from
    the database reaches L1 on a later read: its own SET comes back as an invalidation first.
    L1 counts as filled once those messages have all been handled (on a busy machine one may
    arrive after the copy was kept, and drop it). ``load(id)`` is the database."""
    keys = [near.keys.ticket(i) for i in ids]
    deadline = time.monotonic() + 10
    while near.active and time.monotonic() < deadline:
        for ident in ids:
            near.get_ticket(ident, functools.partial(load, ident))
        if (all(key in near.local.snapshot() for key in keys) and _messages_caught_up(near)
                and all(key in near.local.snapshot() for key in keys)):
            return True
        time.sleep(0.01)
    return False


def measure_staleness(near: NearCache, url: str, ids: Sequence[int],
                      load: Callable[[int], Any], pause: float = 0.002) -> Staleness:
    """Another process rewrites each ticket of ``ids`` (``pause`` s apart) while L1 holds it;
    the time from each write to its drop here. ``load(id)`` gives a ticket (the database)."""
    if not fill(near, ids, load):
        raise RuntimeError(f"L1 would not hold the tickets: {near.reason}")
    keys = [near.keys.ticket(i) for i in ids]
    dropped: dict[str, float] = {}
    all_heard = threading.Event()

    def heard(names: list[str] | None, at: float) -> None:
        for name in names or ():
            dropped.setdefault(name, at)
        if len(dropped.keys() & set(keys)) == len(keys):
            all_heard.set()

    near.listeners.append(heard)
    flushes = near.local.flushes
    try:
        written = _run([_RAW_WRITER, url, json.dumps(keys), str(pause)])
        all_heard.wait(10)  # bounded: a lost invalidation is counted, not waited for forever
    finally:
        near.listeners.remove(heard)
    samples = [dropped[key] - at for key, at in written if key in dropped]
    unheard = [key for key, _ in written if key not in dropped]
    if near.local.flushes == flushes:  # L1 was never emptied: each unheard write is lost
        return Staleness(samples, len(unheard))
    held = near.local.snapshot()  # emptied meanwhile: what it still holds was not heard
    lost = sum(1 for key in unheard if key in held)
    return Staleness(samples, lost, len(unheard) - lost)


#: The rungs of the ladder, by name: one read of the same ticket from each level.
L1_RUNG = "L1 (this process)"
REDIS_RUNG = "Redis (GET + decode)"
FILE_RUNG = "database: a local file"
REMOTE_RUNG = "database: over http:// (sqld)"


def hit_ladder(near: NearCache, cache: Cache, ticket_id: int, database: Callable[[], Any],
               calls: int = 200, rounds: int = 7, remote: Callable[[], Any] | None = None,
               remote_calls: int = 20) -> dict[str, float]:
    """Median seconds per read of one ticket from L1, Redis, the database file and, when
    ``remote`` is given, the same database across a network (``remote_calls`` per round: each
    is a millisecond-scale HTTP request), the levels interleaved round by round. With L1 off
    (fakeredis) there is no L1 rung: the ladder starts at Redis."""
    ways: dict[str, tuple[Callable[[], Any], int]] = {}
    if fill(near, [ticket_id], lambda _i: database()):
        ways[L1_RUNG] = (lambda: near.get_cached_ticket(ticket_id), calls)
    cache.cache_ticket(database())
    ways[REDIS_RUNG] = (lambda: cache.get_cached_ticket(ticket_id), calls)
    ways[FILE_RUNG] = (database, calls)
    if remote is not None:
        ways[REMOTE_RUNG] = (remote, remote_calls)
    times: dict[str, list[float]] = {name: [] for name in ways}
    for _ in range(rounds):
        for name, (read, count) in ways.items():
            started = time.perf_counter()
            for _ in range(count):
                read()
            times[name].append((time.perf_counter() - started) / count)
    return {name: statistics.median(values) for name, values in times.items()}


#: One colour per rung, in the ladder's order.
_RUNG_COLOURS = {L1_RUNG: "#2a9d8f", REDIS_RUNG: "#e76f51", FILE_RUNG: "#264653",
                 REMOTE_RUNG: "#8d99ae"}


def ladder_plot(ladder: dict[str, float]) -> Figure:
    """The hit-cost ladder: one bar per level, microseconds on a log scale."""
    fig = Figure(figsize=(7, 0.6 + 0.5 * len(ladder)))
    ax = fig.subplots()
    names = list(ladder)
    values = [ladder[name] * 1e6 for name in names]
    ax.barh(names, values, color=[_RUNG_COLOURS.get(name, "#999999") for name in names])
    ax.set_xscale("log")
    for y, value in enumerate(values):
        ax.text(value, y, f" {value:,.1f} µs", va="center", fontsize=9)
    ax.invert_yaxis()
    ax.set_xlabel("microseconds per read (median, this machine, log scale)")
    ax.set_title("What one read costs: L1, Redis, the database here and across a network")
    fig.tight_layout()
    return fig


def staleness_plot(result: Staleness) -> Figure:
    """How long L1 kept an entry after another process wrote it: sorted samples, p50 and p99."""
    fig = Figure(figsize=(7, 3))
    ax = fig.subplots()
    ms = sorted(s * 1e3 for s in result.samples)
    ax.plot([100 * (i + 1) / len(ms) for i in range(len(ms))], ms, marker=".", linewidth=1)
    for value, label, color in ((result.p50 * 1e3, "p50", "green"),
                                (result.p99 * 1e3, "p99", "red")):
        ax.axhline(value, color=color, linestyle="--", linewidth=0.8,
                   label=f"{label} {value:.2f} ms")
    ax.set_xlabel("percentile of writes")
    ax.set_ylabel("ms from the write to the drop")
    ax.set_title("Staleness window: a write elsewhere until L1 forgets")
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    return fig
