"""Lesson 14: a queue on a stream, what a crash costs each of the three queues, and the log.

- :func:`stream_crash_and_recover` kills a real streams-mode :class:`Worker` mid-batch (as
  :func:`~helpdesk_kit.widgets.crash.crash_and_recover` does for the list modes: its handler
  raises :class:`~helpdesk_kit.widgets.crash.WorkerKilled` and its connection dies with it),
  then a healthy worker takes the dead one's entries with ``XAUTOCLAIM``;
- :func:`compare_queues` puts the three queues side by side: that crash, and jobs/s measured
  now against a raw ``RPUSH``/``LPOP`` loop;
- :func:`maxlen_trap` measures what ``MAXLEN`` drops; :func:`stream_rows` pictures a stream
  entry by entry (waiting, pending for whom and how often delivered, done);
- :class:`StreamLab` is the widget: enqueue, take, ack, kill, recover - by hand.
"""

from __future__ import annotations

import json
import statistics
import time
from typing import Any

import ipywidgets as widgets
import redis

from ..app import REGISTRY, TaskContext
from ..backends.raw import bytes_reply
from ..keys import KeySchema
from ..lessons import Table, capture_logs
from ..queue import Mode, StreamQueue, Task, TaskQueue, TaskRegistry, Worker
from ..queue.stream_entries import GROUP, text
from . import Shown
from .crash import CrashReport, WorkerKilled, counting_registry, crash_and_recover

__all__ = ["COMPARE_HEADERS", "StreamLab", "compare_queues", "maxlen_trap",
           "stream_crash_and_recover", "stream_rows"]

COMPARE_HEADERS = ("queue", "take / ack", "lost in the crash", "run twice", "jobs/s now",
                   "x raw RPUSH/LPOP")


class _MortalPool(redis.ConnectionPool):
    """Refuses connections once ``dead``: a killed process's connections are gone too."""

    dead = False

    def get_connection(self, *args: Any, **kwargs: Any) -> Any:
        if self.dead:
            raise redis.ConnectionError("this worker was killed")
        return super().get_connection(*args, **kwargs)


def stream_crash_and_recover(client: redis.Redis, keys: KeySchema, context: TaskContext, *,
                             tasks: int = 20, batch: int = 5, crash_at: int = 7,
                             idle_s: float = 0.2) -> CrashReport:
    """Enqueue ``tasks`` notifications on a stream; kill a streams-mode worker during its
    ``crash_at``-th task; ``idle_s`` later a healthy one claims what the dead one held."""
    registry, runs = counting_registry(REGISTRY)
    queue = StreamQueue(client, keys, registry=registry)
    before = context.store.counts()["notifications"]
    queue.enqueue_many(("send_notifications", {"ticketId": n, "usuarioId": 1,
                                               "tipo": "ticket_creado"})
                       for n in range(1, tasks + 1))
    shared = client.connection_pool
    pool = _MortalPool(connection_class=shared.connection_class, **shared.connection_kwargs)
    started = 0
    mortal = registry.copy()
    original = registry.get("send_notifications")

    def dies(ctx: Any, task: Task) -> Any:
        nonlocal started
        started += 1
        if started == crash_at:  # kill -9, during the work: nothing acked, nothing handed back
            pool.dead = True
            raise WorkerKilled
        return original.handler(ctx, task)

    mortal.register("send_notifications", dies, original.fields, original.check)
    victim = Worker(StreamQueue(redis.Redis(connection_pool=pool), keys, registry=mortal),
                    context, mode="streams", worker_id="victim-streams", batch=batch,
                    heartbeat_ttl_s=idle_s)
    try:
        victim.process_all()
    except (WorkerKilled, redis.ConnectionError):
        if not pool.dead:
            raise
    finally:
        pool.disconnect()
    taken = len(queue.held_ids("victim-streams")) + queue.inspect().done  # held + acked
    time.sleep(idle_s * 1.5)  # its entries grow idle: nobody touches them any more
    recovered = queue.claim_orphans("healthy-streams", idle_s)
    Worker(queue, context, mode="streams", worker_id="healthy-streams").process_all()
    return CrashReport("streams", tasks, taken, crash_at - 1, recovered, sum(runs.values()),
                       len(runs), context.store.counts()["notifications"] - before)


def _noop_registry() -> TaskRegistry:
    registry = REGISTRY.copy()
    registry.register("noop", lambda _ctx, _task: None)
    return registry


def _rate(run: Any, tasks: int) -> float:
    started = time.perf_counter()
    run()
    return tasks / (time.perf_counter() - started)


def _throughput(client: redis.Redis, keys: KeySchema, tasks: int, rounds: int
                ) -> dict[str, float]:
    """Enqueue + process ``tasks`` no-op tasks, each way, interleaved rounds; median jobs/s."""
    registry = _noop_registry()

    def raw() -> None:
        for n in range(tasks):
            client.rpush(keys.tasks_pending, json.dumps({"type": "noop", "payload": {"n": n}}))
        while (item := client.lpop(keys.tasks_pending)) is not None:
            json.loads(item)  # type: ignore[arg-type]

    def listed(mode: Mode) -> None:
        queue = TaskQueue(client, keys, registry=registry)
        queue.enqueue_many([("noop", {})] * tasks)
        Worker(queue, None, mode=mode, batch=100).process_all()

    def streamed() -> None:
        queue = StreamQueue(client, keys, registry=registry)
        queue.enqueue_many([("noop", {})] * tasks)
        Worker(queue, None, mode="streams", batch=100).process_all()
        client.delete(keys.tasks_stream)

    ways = {"raw": raw, "seed": lambda: listed("seed"), "reliable": lambda: listed("reliable"),
            "streams": streamed}
    rates: dict[str, list[float]] = {name: [] for name in ways}
    for _ in range(rounds):
        for name, run in ways.items():
            rates[name].append(_rate(run, tasks))
    return {name: statistics.median(values) for name, values in rates.items()}


def compare_queues(client: redis.Redis, keys: KeySchema, context: TaskContext, *,
                   tasks: int = 1000, rounds: int = 3) -> list[tuple[object, ...]]:
    """The three queues side by side: one crash mid-batch each, and jobs/s measured now."""
    crashes: dict[str, CrashReport] = {}
    modes: tuple[Mode, ...] = ("seed", "reliable")
    with capture_logs():  # the killed workers' last words stay out of the notebook
        for mode in modes:
            queue = TaskQueue(client, KeySchema(prefix=f"{keys.prefix}crash-{mode}:"),
                              registry=REGISTRY)
            crashes[mode] = crash_and_recover(queue, context, mode=mode)
        crashes["streams"] = stream_crash_and_recover(
            client, KeySchema(prefix=f"{keys.prefix}crash-streams:"), context)
        rates = _throughput(client, KeySchema(prefix=f"{keys.prefix}speed:"), tasks, rounds)
    how = {"seed": "LPOP / -", "reliable": "LMOVE / LREM", "streams": "XREADGROUP / XACK"}
    return [(mode, how[mode], crashes[mode].lost, crashes[mode].duplicates,
             f"{rates[mode]:,.0f}", f"{rates[mode] / rates['raw']:.2f}")
            for mode in ("seed", "reliable", "streams")]


def maxlen_trap(client: redis.Redis, keys: KeySchema, *, max_len: int = 50,
                tasks: int = 1000) -> tuple[int, int, int]:
    """Enqueue ``tasks`` on a stream capped at ``max_len`` before any worker runs:
    (enqueued, entries left, tasks a worker then ran)."""
    queue = StreamQueue(client, keys, registry=_noop_registry(), max_len=max_len)
    queue.enqueue_many([("noop", {})] * tasks)
    left = queue.length()
    with capture_logs():
        ran = Worker(queue, None, mode="streams", batch=100).process_all()["processed"]
    return tasks, left, ran


def stream_rows(queue: StreamQueue, limit: int = 12) -> list[tuple[object, ...]]:
    """Each entry of the stream (oldest first): its task's ``n`` (or ``ticketId``), its state."""
    client = queue.client
    group = next((g for g in _groups(client, queue.keys.tasks_stream)
                  if text(g["name"]) == GROUP), None)
    last = text(group["last-delivered-id"]) if group else "0-0"
    pending = {text(p["message_id"]): p for p in client.xpending_range(
        queue.keys.tasks_stream, GROUP, "-", "+", 1000)} if group else {}
    rows: list[tuple[object, ...]] = []
    for entry_id, fields in bytes_reply(client, "XRANGE", queue.keys.tasks_stream, "-", "+",
                                        "COUNT", limit):
        entry = text(entry_id)
        try:
            payload = json.loads((fields or {}).get(b"task", b"{}")).get("payload", {})
            n = payload.get("n", payload.get("ticketId", "?"))
        except (ValueError, AttributeError):
            n = "?"
        if entry in pending:
            p = pending[entry]
            state = f"pending for {text(p['consumer'])} (delivered {int(p['times_delivered'])}x)"
        elif _after(entry, last):
            state = "waiting"
        else:
            state = "done (acked)"
        rows.append((n, state))
    return rows


def _groups(client: redis.Redis, stream: str) -> list[dict[str, Any]]:
    try:
        return list(client.xinfo_groups(stream))
    except redis.ResponseError:
        return []


def _after(entry: str, last: str) -> bool:
    def parts(entry_id: str) -> tuple[int, int]:
        millis, _, seq = entry_id.partition("-")
        return int(millis), int(seq or 0)

    return parts(entry) > parts(last)


class StreamLab(Shown):
    """Drive a streams queue by hand: two workers, A and B, and a picture of every entry.

    Each action (what a button does) updates the picture and returns what it did.
    """

    def __init__(self, client: redis.Redis, keys: KeySchema) -> None:
        registry = REGISTRY.copy()
        registry.register("demo", lambda _ctx, _task: None, {"n": int})
        self.queue = StreamQueue(client, keys, registry=registry)
        self.sent = 0
        self.held: list[Any] = []  # what A took and has not acked
        buttons = [("enqueue 3", self.enqueue), ("A takes 2", self.take), ("A acks", self.ack),
                   ("A dies", self.die), ("B recovers", self.recover)]
        self.view = widgets.HTML()
        self.status = widgets.Label("")
        row = []
        for label, action in buttons:
            button = widgets.Button(description=label)
            button.on_click(lambda _b, act=action: act())
            row.append(button)
        self.widget = widgets.VBox([widgets.HBox(row), self.status, self.view])
        self._show("an empty stream: press 'enqueue 3'")

    def _show(self, said: str) -> str:
        self.status.value = said
        self.view.value = Table(("task n", "state"), stream_rows(self.queue))._repr_html_()
        return said

    def enqueue(self) -> str:
        self.queue.enqueue_many(("demo", {"n": self.sent + i}) for i in range(3))
        self.sent += 3
        return self._show("XADD x3: three new entries, waiting")

    def take(self) -> str:
        got = self.queue.reserve_many("A", 2)
        self.held += got
        return self._show(f"XREADGROUP GROUP workers A COUNT 2 ... >: A took {len(got)}")

    def ack(self) -> str:
        self.queue.ack("A", self.held)
        done = len(self.held)
        self.held = []
        return self._show(f"XACK: {done} done")

    def die(self) -> str:
        self.held = []  # nothing acked, nothing handed back: SIGKILL
        return self._show("A died: its entries stay pending for A, growing idle")

    def recover(self) -> str:
        taken = self.queue.claim_orphans("B", 0.0)  # a lesson's TTL: at once
        tasks = self.queue.reserve_many("B", 100)
        self.queue.ack("B", tasks)
        return self._show(f"XAUTOCLAIM: B claimed {taken}, ran and acked them "
                          "(delivered once more)")
