"""The load of a failover drill, and what it measured (:mod:`helpdesk_kit.lab.failover` runs it).

A drill runs the helpdesk's own load - readers (``get_ticket``, cache-aside), a writer
(``update_ticket``: database, then invalidation), a producer (``enqueue``) and a worker - on a
Sentinel-managed primary or a Redis Cluster, kills the primary that serves the queue with
SIGKILL (no shutdown: a crash), waits for the replica to take over, and reports:

- **read outage**: the longest time without an answered read. Reads fail open (the database
  answers while Redis is gone), so this stays small; ``redis_outage_s`` says how long Redis
  itself was unreachable, measured by a probe that reads and writes every 10 ms;
- **write outage**: from the first failed write (enqueue or invalidation) after the kill to
  the first one that worked again;
- **seconds until the new primary serves** (the probe's first write after the kill), and until
  the Sentinels or the cluster *named* one (``promoted_s``);
- **acknowledged but lost tasks**: pushes the producer was told succeeded that no worker ever
  ran and no list holds. Without ``durable`` some can be lost: replication is asynchronous.
  With it (``WAIT`` for every connected replica after each push) an acknowledged push is on
  every replica the primary could see, so far fewer can be - not none: a replica that was
  not connected can still be promoted, and ``WAIT`` is best effort;
- **stale cache entries** on the new primary: for tickets whose last invalidation was
  confirmed, there must be none; a write whose invalidation failed said so (a warning);
- **steady**: whether the primary killed was the one every sample before the kill named. If
  the Sentinels had already failed over on their own (a loaded machine missed their PINGs for
  ``down-after-milliseconds``), the old primary kept taking writes - and confirming them with
  ``WAIT`` from the replica still attached - after a replica was promoted. Redis cannot keep
  those (``WAIT`` "does not make Redis a strongly consistent store"); such a run measures that
  split, not the crash the drill causes, so :func:`~helpdesk_kit.lab.failover.sentinel_drill`
  runs it again and says so (``unsteady_runs``).
"""

from __future__ import annotations

import itertools
import logging
import random
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import redis

from ..app import HelpdeskApp
from ..cache import Cache
from ..db import HelpdeskStore
from ..keys import KeySchema
from ..queue import Task, TaskQueue, TaskRegistry, Worker

__all__ = ["DrillReport", "Event", "named_only", "probe_registry", "run_drill"]


@dataclass(frozen=True)
class Event:
    """One operation of the load: when (seconds since the drill began), what, and if it worked."""

    t: float
    op: str  # "read", "write", "enqueue", "probe-read", "probe-write"
    ok: bool


@dataclass
class DrillReport:
    """What one failover did to the load (see the module docstring for each figure)."""

    kind: str
    durable: bool
    killed: str
    new_primary: str | None
    killed_at: float
    promoted_s: float
    new_primary_serves_s: float
    redis_outage_s: float
    read_outage_s: float
    write_outage_s: float
    reads_failed: int
    acknowledged: int
    processed: int
    lost: int
    stale_confirmed: int
    stale_reported: int
    keys_before: dict[str, int] = field(default_factory=dict)
    keys_after: dict[str, int] = field(default_factory=dict)
    events: list[Event] = field(default_factory=list, repr=False)
    primaries: list[tuple[float, str | None]] = field(default_factory=list, repr=False)
    #: Every sample before the kill named the node that was killed (see the module docstring).
    steady: bool = True
    #: Earlier runs of this drill set aside because they were not steady.
    unsteady_runs: int = 0

    def summary(self) -> str:
        wait = "durable: WAIT for the replicas" if self.durable else "without WAIT"
        return (f"{self.kind} failover ({wait}): new primary named after "
                f"{self.promoted_s:.2f} s, serving after {self.new_primary_serves_s:.2f} s; "
                f"Redis unreachable {self.redis_outage_s:.2f} s; read outage "
                f"{self.read_outage_s:.2f} s ({self.reads_failed} failed reads: fail-open); "
                f"write outage {self.write_outage_s:.2f} s; tasks acknowledged "
                f"{self.acknowledged}, lost {self.lost}; stale entries after a confirmed "
                f"invalidation {self.stale_confirmed} (after a reported failure "
                f"{self.stale_reported})" + self._unsteady_note())

    def _unsteady_note(self) -> str:
        if not self.steady:
            return "; NOT STEADY: the failover did not start with the kill"
        if self.unsteady_runs:
            return (f"; {self.unsteady_runs} earlier run(s) set aside: their failover did not "
                    "start with the kill")
        return ""


class _Log:
    """Thread-safe event list with a shared clock."""

    def __init__(self) -> None:
        self.start = time.monotonic()
        self.events: list[Event] = []
        self._lock = threading.Lock()

    def now(self) -> float:
        return time.monotonic() - self.start

    def add(self, op: str, ok: bool, at: float | None = None) -> None:
        """Note an operation at ``at`` (seconds on this clock), by default now."""
        with self._lock:
            self.events.append(Event(self.now() if at is None else at, op, ok))


def probe_registry(processed: set[str], lock: threading.Lock) -> TaskRegistry:
    """One task type, ``probe``, whose handler only notes that it ran (by task id)."""
    def run(_context: object, task: Task) -> None:
        with lock:
            processed.add(task.id)

    registry = TaskRegistry()
    registry.register("probe", run, {"n": int})
    return registry


@contextmanager
def _quiet() -> Iterator[None]:
    """A failover makes every thread log its Redis errors: keep them out of the output."""
    logger = logging.getLogger("helpdesk_kit")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(level)


def _outage(events: list[Event], ops: tuple[str, ...], after: float) -> float:
    """From the first failure of ``ops`` after ``after`` to the next success (0: none; to the
    last event if it never came back)."""
    relevant = [e for e in events if e.op in ops and e.t >= after]
    first_fail = next((e.t for e in relevant if not e.ok), None)
    if first_fail is None:
        return 0.0
    back = next((e.t for e in relevant if e.ok and e.t > first_fail), relevant[-1].t)
    return back - first_fail


def named_only(primaries: list[tuple[float, str | None]], killed: str, before: float) -> bool:
    """True if every sample taken before ``before`` named ``killed`` as the primary (or
    nobody, when no Sentinel answered): no failover had begun before the kill."""
    return all(address in (None, killed) for t, address in primaries if t < before)


def _longest_gap(events: list[Event], op: str) -> float:
    times = [e.t for e in events if e.op == op and e.ok]
    return max((b - a for a, b in itertools.pairwise(times)), default=0.0)


def run_drill(client: Any, store: HelpdeskStore, keys: KeySchema, *, kind: str,
              kill: Callable[[], str], wait_promoted: Callable[[], str | None],
              who: Callable[[], str | None], keys_per_node: Callable[[], dict[str, int]],
              probe_key: str, durable: bool = False, before_s: float = 1.0,
              after_s: float = 1.5, ticket_ids: range = range(1, 21), seed: int = 0
              ) -> DrillReport:
    """Run the load, ``kill()`` the primary (returns its address), wait for
    ``wait_promoted()`` (the new primary's address), keep the load ``after_s`` more seconds
    once writes work again, then drain the queue and count. ``who()`` names today's primary
    (sampled for the timeline); ``probe_key`` must live on the primary that is killed.
    """
    log = _Log()
    stop = threading.Event()
    processed: set[str] = set()
    lock = threading.Lock()
    acked: list[str] = []
    last_write: dict[int, bool] = {}
    primaries: list[tuple[float, str | None]] = []
    cache = Cache(client, keys, ttl=120, retry_after=0.2)
    queue = TaskQueue(client, keys, registry=probe_registry(processed, lock), durable=durable,
                      replica_timeout_ms=500)
    app = HelpdeskApp(store, cache, queue)
    rng = random.Random(seed)

    def loop(body: Callable[[], None], pause: float) -> Callable[[], None]:
        def run() -> None:
            while not stop.is_set():
                body()
                time.sleep(pause)
        return run

    def read() -> None:
        log.add("read", bool(app.get_ticket(rng.choice(ticket_ids))["success"]))

    def write() -> None:
        ticket = rng.choice(ticket_ids)
        result = app.update_ticket(ticket, title=f"title {log.now():.3f}")
        ok = bool(result["success"]) and "warning" not in result
        last_write[ticket] = ok
        log.add("write", ok)

    def produce() -> None:
        try:
            task = queue.enqueue("probe", {"n": len(acked)})
        except (redis.RedisError, Exception):
            log.add("enqueue", False)
            return
        acked.append(task.id)
        log.add("enqueue", True)

    def probe() -> None:
        for op, call in (("probe-read", lambda: client.get(probe_key)),
                         ("probe-write", lambda: client.set(probe_key, "1", ex=60))):
            began = log.now()  # stamped when sent: one sent before the kill did not "serve"
            try:
                call()
                log.add(op, True, began)
            except redis.RedisError:
                log.add(op, False, began)

    def watch() -> None:
        try:
            named = who()
        except Exception:
            named = None
        primaries.append((log.now(), named))  # stamped when answered: what it knew by then

    worker = Worker(queue, None, poll_timeout_s=0.1, heartbeat_ttl_s=3.0)
    threads = [threading.Thread(target=loop(body, pause), daemon=True)
               for body, pause in ((read, 0.005), (read, 0.005), (write, 0.02),
                                   (produce, 0.005), (probe, 0.01), (watch, 0.1))]
    threads.append(threading.Thread(target=lambda: worker.run(handle_signals=False),
                                    daemon=True))
    with _quiet():
        for thread in threads:
            thread.start()
        time.sleep(before_s)
        before = keys_per_node()
        watch()  # the last word before the kill: which primary is it?
        killed = kill()  # returns once the process is gone
        killed_at = log.now()
        new_primary = wait_promoted()
        promoted_at = log.now()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not any(
                e.op == "probe-write" and e.ok and e.t > promoted_at for e in list(log.events)):
            time.sleep(0.05)
        time.sleep(after_s)
        stop.set()
        worker.stop()
        for thread in threads:
            thread.join(timeout=10)
        Worker(queue, None, heartbeat_ttl_s=3.0).process_all()  # what is left, on the new primary
        after = keys_per_node()
    stale_confirmed = stale_reported = 0
    for ticket, confirmed in last_write.items():
        cached = cache.get_cached_ticket(ticket)
        if cached is not None and cached != store.get_ticket(ticket):
            if confirmed:
                stale_confirmed += 1
            else:
                stale_reported += 1
    events = list(log.events)
    serves = next((e.t for e in events if e.op == "probe-write" and e.ok and e.t > killed_at),
                  events[-1].t)
    return DrillReport(
        kind, durable, killed, new_primary, killed_at, promoted_at - killed_at,
        serves - killed_at, _outage(events, ("probe-read", "probe-write"), killed_at),
        _longest_gap(events, "read"), _outage(events, ("write", "enqueue"), killed_at),
        sum(1 for e in events if e.op == "read" and not e.ok), len(acked), len(processed),
        len(set(acked) - processed), stale_confirmed, stale_reported, before, after, events,
        primaries, named_only(primaries, killed, killed_at))

