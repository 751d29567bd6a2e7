"""Network profiles: put the design's "remote Turso at 50 ms, REST cache at 5 ms" on one laptop.

On this machine a Redis hit and a local libSQL lookup both cost well under a millisecond, so
"Redis is 10x faster" cannot show up by itself. What makes the design's numbers is the network:
every *round trip* to a remote database or a REST cache pays the link's latency. A profile adds
exactly that - one sleep of the round-trip time (RTT) per round trip - around the real calls:

* the database: one RTT per ``Database.execute`` and one per ``Database.batch`` (a batch is one
  round trip to Turso, which is why the store batches its writes);
* Redis: one RTT per command and one per pipeline ``execute()`` - a pipeline of 100 SETs pays one
  RTT, 100 separate SETs pay 100. That is the whole reason pipelining matters.

The wrappers return *new* objects and leave the originals untouched, so the same store or
client can be used with and without a profile in one run. A profile with zero RTT adds nothing
and its numbers are *measured*; any other profile's numbers are *simulated* (real code, real
queries, plus a sleep that stands in for the network), and every result says which.
"""

from __future__ import annotations

import copy
import dataclasses
import random
import threading
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import redis

from ..db.store import HelpdeskStore
from ..errors import ConfigError

__all__ = [
    "CLOUD",
    "INTERNET",
    "LOCAL",
    "PROFILES",
    "SEED",
    "NetworkProfile",
    "RoundTrips",
    "get_profile",
    "wrap_database",
    "wrap_redis",
    "wrap_store",
]

Sleep = Callable[[float], None]


@dataclass(frozen=True)
class NetworkProfile:
    """How far the database and the cache are: a round-trip time for each, in milliseconds."""

    name: str
    db_rtt_ms: float
    cache_rtt_ms: float
    jitter_ms: float = 0.0  # each round trip waits RTT +- a uniform random jitter (never < 0)
    simulated: bool = True
    description: str = ""

    def __post_init__(self) -> None:
        for what in ("db_rtt_ms", "cache_rtt_ms", "jitter_ms"):
            if getattr(self, what) < 0:
                raise ConfigError(f"{what} of profile {self.name!r} cannot be negative")

    @property
    def label(self) -> str:
        """``"measured"`` when nothing is added, else ``"simulated"`` (shown beside numbers)."""
        return "simulated" if self.simulated else "measured"

    @property
    def adds_delay(self) -> bool:
        return self.db_rtt_ms > 0 or self.cache_rtt_ms > 0 or self.jitter_ms > 0

    def __str__(self) -> str:
        return (f"{self.name}: DB {self.db_rtt_ms:g} ms, cache {self.cache_rtt_ms:g} ms per "
                f"round trip ({self.label})")


#: This machine as it is: nothing added, every number is a real measurement.
LOCAL = NetworkProfile("local", 0.0, 0.0, simulated=False,
                       description="this machine, nothing added (loopback Redis, local file)")
#: App, database and Redis in one cloud region: a couple of ms to the database.
CLOUD = NetworkProfile("cloud", 2.0, 0.5, jitter_ms=0.1,
                       description="same-region cloud: database 2 ms, Redis 0.5 ms away")
#: The design's picture: remote Turso ~50 ms per query, Upstash REST cache ~5 ms per command,
#: both over the internet.
INTERNET = NetworkProfile("internet", 50.0, 5.0, jitter_ms=1.0,
                          description="over the internet: remote Turso ~50 ms, Upstash REST "
                                      "Redis ~5 ms (the design's numbers)")
#: :data:`INTERNET` under its old name, ``seed``: lessons 06 and 09 import it (and key their
#: results by its name) until they are updated. New code uses :data:`INTERNET`.
SEED = dataclasses.replace(INTERNET, name="seed")
#: The profile's old name, read as ``internet`` by :func:`get_profile` (with a warning).
OLD_INTERNET_NAME = "seed"

PROFILES: dict[str, NetworkProfile] = {p.name: p for p in (LOCAL, CLOUD, INTERNET)}


def get_profile(name: str | NetworkProfile) -> NetworkProfile:
    """A preset by name (``local``, ``cloud``, ``internet``); a profile passes through.

    ``seed``, the internet profile's old name, still works, with a FutureWarning.
    """
    if isinstance(name, NetworkProfile):
        return name
    if name.lower() == OLD_INTERNET_NAME:
        warnings.warn(f"the network profile {name!r} is called {INTERNET.name!r} now; "
                      f"{name!r} still works for now", FutureWarning, stacklevel=2)
        return INTERNET
    try:
        return PROFILES[name.lower()]
    except KeyError:
        raise ConfigError(f"unknown network profile {name!r}; "
                          f"choose one of {', '.join(PROFILES)}") from None


@dataclass
class RoundTrips:
    """Counts round trips (and the time slept for them); safe to share between threads."""

    count: int = 0
    slept_s: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, slept_s: float) -> None:
        with self._lock:
            self.count += 1
            self.slept_s += slept_s

    def reset(self) -> None:
        with self._lock:
            self.count = 0
            self.slept_s = 0.0


class _Link:
    """One simulated network link: waits one RTT (+- jitter) and counts the round trip."""

    def __init__(self, rtt_ms: float, jitter_ms: float, sleep: Sleep, counter: RoundTrips,
                 seed: int | None) -> None:
        self.rtt_ms = rtt_ms
        self.jitter_ms = jitter_ms
        self.sleep = sleep
        self.counter = counter
        self._rng = random.Random(seed)
        self._lock = threading.Lock()  # random.Random is not meant to be shared unguarded

    def round_trip(self) -> None:
        delay_ms = self.rtt_ms
        if self.jitter_ms:
            with self._lock:
                delay_ms += self._rng.uniform(-self.jitter_ms, self.jitter_ms)
        delay_s = max(delay_ms, 0.0) / 1000
        if delay_s > 0:
            self.sleep(delay_s)
        self.counter.add(delay_s)


class SlowDatabase:
    """A :class:`~helpdesk_kit.db.Database` seen across a network: one RTT per round trip.

    ``execute`` and ``batch`` wait, then run on the real database; everything else (``url``,
    ``close``, ``executescript``...) is the wrapped database's own.
    """

    def __init__(self, db: Any, link: _Link) -> None:
        self._db = db
        self._link = link
        self.round_trips = link.counter

    def __repr__(self) -> str:
        return f"SlowDatabase({self._db!r}, rtt={self._link.rtt_ms:g} ms)"

    def execute(self, sql: str, args: Sequence[Any] = ()) -> Any:
        self._link.round_trip()
        return self._db.execute(sql, args)

    def batch(self, statements: Sequence[Any]) -> list[Any]:
        if statements:  # an empty batch never leaves the process
            self._link.round_trip()
        return self._db.batch(statements)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._db, name)


def _profile_link(rtt_ms: float, profile: NetworkProfile, sleep: Sleep,
                  counter: RoundTrips | None, seed: int | None) -> _Link:
    return _Link(rtt_ms, profile.jitter_ms if rtt_ms > 0 else 0.0, sleep,
                 counter if counter is not None else RoundTrips(), seed)


def wrap_database(db: Any, profile: NetworkProfile, *, sleep: Sleep = time.sleep,
                  counter: RoundTrips | None = None, seed: int | None = 0) -> SlowDatabase:
    """``db`` behind the profile's database RTT. ``counter`` collects its round trips."""
    return SlowDatabase(db, _profile_link(profile.db_rtt_ms, profile, sleep, counter, seed))


def wrap_store(store: HelpdeskStore, profile: NetworkProfile, *, sleep: Sleep = time.sleep,
               counter: RoundTrips | None = None, seed: int | None = 0) -> HelpdeskStore:
    """A second store on the same database, every round trip slowed by the profile.

    With :data:`LOCAL` nothing is added, which makes this the way to *count* queries too.
    Closing either store closes the shared database.
    """
    slow = wrap_database(store.db, profile, sleep=sleep, counter=counter, seed=seed)
    return HelpdeskStore(slow)  # type: ignore[arg-type]  # duck-typed Database


def wrap_redis(client: redis.Redis, profile: NetworkProfile, *, sleep: Sleep = time.sleep,
               counter: RoundTrips | None = None, seed: int | None = 0) -> redis.Redis:
    """A second client on the same connections: one cache RTT per command or pipeline.

    redis-py sends every command through ``execute_command`` and every pipeline through
    ``Pipeline.execute``, so slowing those two covers GET, SET, scripts, SCAN... The copy
    shares the original's connection pool; the original client is not changed.
    """
    link = _profile_link(profile.cache_rtt_ms, profile, sleep, counter, seed)
    slow = copy.copy(client)
    slow.auto_close_connection_pool = False  # the copy must never close the shared pool
    real_execute_command = client.execute_command
    real_pipeline = client.pipeline

    def execute_command(*args: Any, **options: Any) -> Any:
        link.round_trip()
        return real_execute_command(*args, **options)

    def pipeline(transaction: bool = True, shard_hint: Any = None) -> Any:
        pipe = real_pipeline(transaction=transaction, shard_hint=shard_hint)
        real_execute = pipe.execute

        def execute(raise_on_error: bool = True) -> list[Any]:
            # an empty pipeline sends nothing (redis-py returns [] without a round trip)
            if len(pipe):
                link.round_trip()
            return real_execute(raise_on_error=raise_on_error)

        pipe.execute = execute  # type: ignore[method-assign]
        return pipe

    slow.execute_command = execute_command  # type: ignore[method-assign]
    slow.pipeline = pipeline  # type: ignore[method-assign]
    slow.round_trips = link.counter  # type: ignore[attr-defined]
    return slow
