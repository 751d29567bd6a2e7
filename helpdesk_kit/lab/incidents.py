"""Lesson 18: stage "the helpdesk is slow" on a private redis-server, and feel it from outside.

Each incident is staged by one function, so a learner meets the symptom first and finds the
cause with Redis's own tools (the function's source tells the story afterwards):

* :func:`stage_slow_command`: a report job looks up an export's keys with ``KEYS``;
* :func:`stage_big_keys` and :func:`nightly_cleanup`: an import leaves a million events in one
  list and a feature keeps every user who saw a banner in one set; a cleanup job deletes them;
* :func:`stage_full_memory`: ``maxmemory`` with ``noeviction``, and a flood of sessions;
* :func:`morning_rush`: everybody opens the same ticket at once.

They are built from pieces a lesson should not spend cells on:

* :func:`fill_keys` and :func:`fill_collection` write hundreds of thousands of keys, or one
  list or set of a million entries, with one Lua script each (entries pushed a thousand per
  command), in well under a couple of seconds;
* :func:`fill_memory` writes sessions with a TTL until Redis answers ``OOM``: the server's
  ``maxmemory`` is full;
* :func:`felt_during` runs a culprit (a ``KEYS``, a ``DEL``) while another connection keeps
  sending ``PING``, and reports the slowest answer that connection waited for: what every
  other client of a single-threaded server feels;
* :func:`hammer` has several threads read at once, the shape of a hot key.

The diagnosis itself - ``SLOWLOG``, ``LATENCY``, ``INFO``, ``MEMORY USAGE``, ``OBJECT FREQ`` -
is left to the lesson's cells, in plain redis-py. Everything here changes the server a lot:
run it only on a Redis of your own.
"""

from __future__ import annotations

import random
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import redis

from ..backends.launchers import wait_for

__all__ = ["BACKLOG", "BANNER", "EXPORT", "Felt", "clear_records", "felt_during",
           "fill_collection", "fill_keys", "fill_memory", "hammer", "morning_rush",
           "nightly_cleanup", "stage_big_keys", "stage_full_memory", "stage_slow_command"]

#: The incidents' keys, under the lesson's prefix: the export's keys (a pattern)...
EXPORT = "export:"
#: ...the import's backlog (a list)...
BACKLOG = "backlog:import"
#: ...and the banner's readers (a set).
BANNER = "seen:banner"

#: KEYS[1]: a list or a set; ARGV[1] how many entries, ARGV[2] 'list' or 'set', ARGV[3] the
#: text before each entry's number. A thousand entries per RPUSH/SADD (Lua's unpack has a
#: limit of a few thousand arguments).
FILL_COLLECTION = """
local total, batch = tonumber(ARGV[1]), {}
local command = ARGV[2] == 'list' and 'RPUSH' or 'SADD'
for i = 1, total do
  batch[#batch + 1] = ARGV[3] .. i
  if #batch == 1000 or i == total then
    redis.call(command, KEYS[1], unpack(batch))
    batch = {}
  end
end
return redis.call(ARGV[2] == 'list' and 'LLEN' or 'SCARD', KEYS[1])
"""

#: ARGV[1] a key prefix, ARGV[2] how many keys, ARGV[3] each one's value.
FILL_KEYS = """
for i = 1, tonumber(ARGV[2]) do
  redis.call('SET', ARGV[1] .. i, ARGV[3])
end
return tonumber(ARGV[2])
"""

Collection = Literal["list", "set"]


def fill_collection(client: redis.Redis, key: str, count: int, kind: Collection,
                    entry_prefix: str = "") -> int:
    """One ``kind`` at ``key`` with ``count`` entries (``<entry_prefix>1``, ...); its length.

    The key is emptied first. The script blocks the server while it runs (half a second for a
    million list entries): staging, not something to do on a live server.
    """
    client.delete(key)
    return int(client.eval(FILL_COLLECTION, 1, key, count, kind, entry_prefix))


def fill_keys(client: redis.Redis, prefix: str, count: int, value: str = "exported") -> int:
    """``count`` string keys ``<prefix>1``, ``<prefix>2``... with one script.

    The value is text on purpose: Redis shares one object among keys whose value is a small
    integer, and an LFU counter lives in the value's object - those keys would share it.
    """
    return int(client.eval(FILL_KEYS, 0, prefix, count, value))


def fill_memory(client: redis.Redis, prefix: str, *, value_bytes: int = 1000,
                ttl_s: int = 1800, batch: int = 50) -> int:
    """Write sessions (``<prefix>session:N``, a TTL each) until Redis refuses with ``OOM``.

    Returns how many were written. Then it keeps the server full: Redis refuses a write only
    while ``used_memory`` is over ``maxmemory``, and the memory of a pipeline's own request
    is freed once it is read, which may leave a few KB of room again. So the limit is lowered
    to 64 KB under what is used now, as if the flood were still coming in.

    Needs a ``maxmemory`` and a policy that does not evict the sessions (``noeviction``):
    otherwise Redis makes room and this would never end, so it refuses to start on a server
    without a limit.
    """
    limit = int(client.config_get("maxmemory").get("maxmemory") or 0)
    if limit == 0:
        raise ValueError("maxmemory is 0 (no limit): set one first (CONFIG SET maxmemory)")
    value = "x" * value_bytes
    written = 0
    while True:
        pipe = client.pipeline(transaction=False)
        for n in range(written, written + batch):
            pipe.set(f"{prefix}session:{n}", value, ex=ttl_s)
        replies = pipe.execute(raise_on_error=False)
        written += sum(1 for reply in replies if reply is True)
        if any(isinstance(reply, redis.OutOfMemoryError) for reply in replies):
            break
        if written > 10 * limit // value_bytes:  # evicting, not refusing: not "full"
            raise ValueError("Redis keeps making room (an eviction policy?): it never got full")
    used = int(client.info("memory")["used_memory"])
    client.config_set("maxmemory", min(limit, used - 64 * 1024))
    return written


@dataclass(frozen=True)
class Felt:
    """What another client felt while a culprit ran: its PINGs and the slowest answer."""

    pings: int
    slowest_s: float
    median_s: float

    def __str__(self) -> str:
        return (f"{self.pings} PINGs from another client meanwhile: median "
                f"{self.median_s * 1000:.2f} ms, slowest {self.slowest_s * 1000:.1f} ms")


def felt_during(client: redis.Redis, culprit: Callable[[], object],
                probe: redis.Redis) -> Felt:
    """Run ``culprit()`` while ``probe`` (another connection) sends PING after PING.

    The probe starts before the culprit and stops after it, so a culprit that blocks the
    server shows as one PING that waited for all of it.
    """
    waits: list[float] = []
    done = threading.Event()
    started = threading.Event()

    def ping() -> None:
        while not done.is_set():
            began = time.perf_counter()
            probe.ping()
            waits.append(time.perf_counter() - began)
            started.set()

    pinger = threading.Thread(target=ping, name="felt-during", daemon=True)
    pinger.start()
    started.wait(5)
    try:
        culprit()
    finally:
        done.set()
        pinger.join(30)
    return Felt(len(waits), max(waits), statistics.median(waits))


def hammer(read: Callable[[], object], *, threads: int = 4, reads: int = 500) -> int:
    """``threads`` threads call ``read()`` ``reads`` times each, all at once; the total."""
    barrier = threading.Barrier(threads)

    def run() -> None:
        barrier.wait()
        for _ in range(reads):
            read()

    crew = [threading.Thread(target=run, name=f"reader-{n}") for n in range(threads)]
    for thread in crew:
        thread.start()
    for thread in crew:
        thread.join()
    return threads * reads


# --- the four incidents ------------------------------------------------------------------
def clear_records(client: redis.Redis) -> None:
    """``SLOWLOG RESET``, ``LATENCY RESET``, ``CONFIG RESETSTAT``: what is found next is new."""
    client.slowlog_reset()
    client.latency_reset()
    client.config_resetstat()


def stage_slow_command(client: redis.Redis, prefix: str, probe: redis.Redis,
                       keys: int = 100_000) -> Felt:
    """Incident 1: an old export left ``keys`` keys (``<prefix>export:N``); a report job looks
    them up three times with ``KEYS <prefix>export:*`` while ``probe`` pings.

    The records are cleared after the staging's own fill (a Lua script: slow too), so the slow
    log and the latency monitor hold this incident only.
    """
    fill_keys(client, prefix + EXPORT, keys)
    clear_records(client)
    return felt_during(client, lambda: [client.keys(f"{prefix}{EXPORT}*") for _ in range(3)],
                       probe)


def stage_big_keys(client: redis.Redis, prefix: str, *, events: int = 1_000_000,
                   readers: int = 500_000) -> None:
    """Incident 2, the staging: an import's ``events`` events in one list (``backlog:import``)
    and ``readers`` user ids in one set (``seen:banner``)."""
    fill_collection(client, prefix + BACKLOG, events, "list", "event-")
    fill_collection(client, prefix + BANNER, readers, "set", "user:")
    clear_records(client)


def nightly_cleanup(client: redis.Redis, prefix: str, probe: redis.Redis) -> Felt:
    """Incident 2, the symptom: a cleanup job deletes the two big keys, one ``DEL`` each,
    while ``probe`` pings."""
    def cleanup() -> None:
        client.delete(prefix + BACKLOG)
        client.delete(prefix + BANNER)

    return felt_during(client, cleanup, probe)


def stage_full_memory(client: redis.Redis, prefix: str, headroom: int = 1_000_000) -> int:
    """Incident 3: ``maxmemory`` set ``headroom`` bytes above what is used, ``noeviction``;
    then sessions flood in until Redis refuses (:func:`fill_memory`). How many got in.

    It first waits until no ``UNLINK`` is still freeing memory in the background
    (``lazyfree_pending_objects:0``): memory freed after the flood would make room again.
    """
    wait_for(lambda: client.info("memory")["lazyfree_pending_objects"] == 0, 30,
             "the background frees of UNLINK")
    used = int(client.info("memory")["used_memory"])
    client.config_set("maxmemory-policy", "noeviction")
    client.config_set("maxmemory", used + headroom)
    return fill_memory(client, prefix)


def morning_rush(read_ticket: Callable[[int], object], hot: int, *, threads: int = 4,
                 reads: int = 500, others: int = 500, tickets: int = 1000,
                 seed: int = 17) -> int:
    """Incident 4: ``threads`` readers open ticket ``hot`` ``reads`` times each, while
    ``others`` reads go to random tickets 1..``tickets`` (seeded). How many reads in all."""
    rng = random.Random(seed)
    for _ in range(others):
        read_ticket(rng.randint(1, tickets))
    return others + hammer(lambda: read_ticket(hot), threads=threads, reads=reads)
