"""The kit's queue against the raw floor, in this process (jobs/s of no-op tasks, enqueue and
process), then the design's "create a ticket" request with and without the queue.

Every method runs once per round, rounds interleaved (the order turns each round), many short
rounds; a ratio is the median of each round's ratio to the same round's floor
(:func:`bench.report.paired`):

- raw:      a hand-written ``RPUSH`` loop then ``LPOP`` loop carrying the JSON a pop task
            carries (``json.dumps`` / ``json.loads``), no validation, no handler: the floor;
- raw, a thread idle beside it: the same loop while another thread of the process waits on
            an event, as a worker's heartbeat thread waits between beats. That thread does
            no work, yet on some kernels each round trip of a process with two threads costs
            a little more (seen on Linux 6.18 in a 2-core VM): this row is the part of a
            worker's cost that is its heartbeat thread's mere presence, not its Python;
- pop:      ``TaskQueue.enqueue`` + ``Worker(mode="pop").process_all()`` (RPUSH / LPOP);
- reliable, one by one: one ``enqueue`` (one RPUSH) per task, and a worker whose every step
            acks the finished task and reserves the next in one script
            (``TaskQueue.ack_and_reserve``) - at least once, as the SIGKILL tests check;
- reliable, batch 100: ``enqueue_many`` + LMOVE x100 per round trip, one ack per batch;
- streams, one by one: one ``XADD`` per task, and one script per step that acks the finished
            entry and reads the next (``StreamQueue.ack_and_reserve``) - at least once;
- streams, batch 100: ``enqueue_many`` (pipelined ``XADD``) + one ``XREADGROUP COUNT 100``
            and one MULTI of ``XACK`` per batch.

The one-by-one modes pay two round trips per task, as the floor does: their target is 0.8x
of it, measured with this process on one core and redis-server on another (as a server and
its clients run in production; :func:`bench.cores`). With both on one core every round trip
is a switch on that core and the Python around it weighs more: those ratios are printed
under the table, without a target. The peers (RQ, Celery, ...) run in processes of their
own: :mod:`bench.bench_peers`.
"""

from __future__ import annotations

import json
import secrets
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import redis

from bench import cores, tcp_client, tcp_server
from bench.report import Area, Row, paired, print_area
from helpdesk_kit.app import REGISTRY, TaskContext, helpdesk_queue
from helpdesk_kit.app.handlers import send_notifications
from helpdesk_kit.config import Settings
from helpdesk_kit.db import open_store
from helpdesk_kit.db.sample import SAMPLE_NOW, load_sample
from helpdesk_kit.keys import KeySchema
from helpdesk_kit.queue import StreamQueue, Task, TaskQueue, TaskRegistry, Worker

#: (rounds, tasks a round): many short rounds, so the 0.8x ratios are fine ones. A worker's
#: session (registration, maintenance, hand-back: about ten round trips) is paid once a
#: round: 600 tasks keep it near 1% of a round (at 300 it was 3%).
FULL, QUICK = (25, 1_000), (25, 600)
RAW = "raw RPUSH/LPOP loop"
THREADED = "raw loop, a thread idle beside it"
POP = "pop mode (enqueue + LPOP)"
ONE, BATCH = "reliable, one by one", "reliable, batch 100"
STREAMS_ONE, STREAMS = "streams, one by one", "streams, batch 100"


def noop(*_args: object) -> None:
    """The task body: nothing, so we measure the queue alone."""


def _registry_with_noop() -> TaskRegistry:
    registry = REGISTRY.copy()
    registry.register("noop", noop)
    return registry


def raw_loop(client: redis.Redis, keys: KeySchema, n: int) -> float:
    """The same payload as a pop-mode task, with nothing else around the two round trips."""
    start = time.perf_counter()
    for _ in range(n):
        task = {"id": secrets.token_hex(16), "type": "noop", "payload": {},
                "timestamp": time.time_ns() // 1_000_000, "attempts": 0}
        client.rpush(keys.tasks_pending, json.dumps(task, separators=(",", ":")))
    while (raw := client.lpop(keys.tasks_pending)) is not None:
        json.loads(raw)  # type: ignore[arg-type]
    return n / (time.perf_counter() - start)


def raw_beside_a_thread(client: redis.Redis, keys: KeySchema, n: int) -> float:
    """:func:`raw_loop` while another thread of this process waits, doing nothing."""
    idle = threading.Event()
    waiter = threading.Thread(target=idle.wait, daemon=True)
    waiter.start()
    try:
        return raw_loop(client, keys, n)
    finally:
        idle.set()
        waiter.join()


def pop_mode(client: redis.Redis, keys: KeySchema, n: int) -> float:
    queue = TaskQueue(client, keys, registry=_registry_with_noop())
    worker = Worker(queue, TaskContext(None), mode="pop")  # type: ignore[arg-type]
    start = time.perf_counter()
    for _ in range(n):
        queue.enqueue("noop", {})
    assert worker.process_all()["processed"] == n
    return n / (time.perf_counter() - start)


def reliable_mode(client: redis.Redis, keys: KeySchema, batch: int, n: int) -> float:
    queue = TaskQueue(client, keys, registry=_registry_with_noop())
    return _enqueue_and_process(queue, Worker(queue, None, batch=batch), n)


def streams_mode(client: redis.Redis, keys: KeySchema, batch: int, n: int) -> float:
    queue = StreamQueue(client, keys, registry=_registry_with_noop())
    rate = _enqueue_and_process(queue, Worker(queue, None, mode="streams", batch=batch), n)
    client.delete(keys.tasks_stream, keys.tasks_stream_stats)  # the next round starts empty
    return rate


def _enqueue_and_process(queue: TaskQueue | StreamQueue, worker: Worker, n: int) -> float:
    """Jobs/s of n enqueues (one call each, as requests enqueue; ``enqueue_many`` for a
    batching worker) and a ``process_all`` that must run them all."""
    start = time.perf_counter()
    if worker.batch > 1:
        queue.enqueue_many([("noop", {})] * n)
    else:
        for _ in range(n):
            queue.enqueue("noop", {})  # one RPUSH (or XADD) each
    assert worker.process_all()["processed"] == n
    return n / (time.perf_counter() - start)


def create_ticket_latency(client: redis.Redis, keys: KeySchema, folder: Path, n: int
                          ) -> tuple[float, float]:
    """Median µs of insert+enqueue and of insert+inline notification, interleaved."""
    store = open_store(Settings(data_dir=folder))
    load_sample(store, 40, 300, seed=42, progress=False)
    queue = helpdesk_queue(client, keys)
    context = TaskContext(store, None, client, keys, SAMPLE_NOW)
    queued, inline = [], []
    try:
        for i in range(n):
            start = time.perf_counter()
            ticket = store.create_ticket(5, f"bench {i}")
            queue.enqueue("send_notifications",
                          {"ticketId": ticket.id, "usuarioId": 5, "tipo": "ticket_creado"})
            queued.append(time.perf_counter() - start)
            start = time.perf_counter()
            ticket = store.create_ticket(5, f"bench inline {i}")
            send_notifications(context, Task("send_notifications", {
                "ticketId": ticket.id, "usuarioId": 5, "tipo": "ticket_creado"}))
            inline.append(time.perf_counter() - start)
    finally:
        store.db.close()
    return statistics.median(queued) * 1e6, statistics.median(inline) * 1e6


def interleave(methods: dict[str, Callable[[], float]], rounds: int) -> dict[str, list[float]]:
    """Each method once per round, the order turning each round."""
    rates: dict[str, list[float]] = {name: [] for name in methods}
    order = list(methods)
    for round_ in range(rounds):
        turn = round_ % len(order)
        for name in order[turn:] + order[:turn]:
            rates[name].append(methods[name]())
    return rates


def run(quick: bool = False) -> list[Area]:
    rounds, n = QUICK if quick else FULL
    with tcp_server() as server, tempfile.TemporaryDirectory() as folder:
        client = tcp_client(server.port)
        keys = KeySchema(prefix="bench:")
        with cores(server, apart=True) as placement:
            rates = interleave({
                RAW: lambda: raw_loop(client, keys, n),
                THREADED: lambda: raw_beside_a_thread(client, keys, n),
                POP: lambda: pop_mode(client, keys, n),
                ONE: lambda: reliable_mode(client, keys, 1, n),
                BATCH: lambda: reliable_mode(client, keys, 100, n),
                STREAMS_ONE: lambda: streams_mode(client, keys, 1, n),
                STREAMS: lambda: streams_mode(client, keys, 100, n),
            }, rounds)
        with cores(server, apart=False) as together:
            one_core = paired(interleave({
                RAW: lambda: raw_loop(client, keys, n),
                ONE: lambda: reliable_mode(client, keys, 1, n),
                STREAMS_ONE: lambda: streams_mode(client, keys, 1, n),
            }, rounds), RAW) if together else {}
        queued, inline = create_ticket_latency(client, keys, Path(folder), 60 if quick else 300)
        client.close()
    ratios = paired(rates, RAW)
    targets = {ONE: 0.8, STREAMS_ONE: 0.8}
    rows = [Row(name, ratios[name], f"{statistics.median(values):,.0f} jobs/s",
                targets.get(name)) for name, values in rates.items()]
    floor = Area(f"Task queue against the raw floor, in one process: {n:,} tasks a round, "
                 f"{rounds} paired rounds, {placement or 'not pinned (fewer than 2 cores)'}",
                 RAW, rows)
    streams_to_list = paired({name: rates[name] for name in (ONE, STREAMS_ONE)}, ONE)
    batches = paired({name: rates[name] for name in (BATCH, STREAMS)}, BATCH)
    floor.notes.append(f"streams / reliable: one by one {streams_to_list[STREAMS_ONE]:.2f}x, "
                       f"batch 100 {batches[STREAMS]:.2f}x")
    if one_core:
        floor.notes.append(
            f"{together}, same rounds again (each round trip a switch on one core, so the "
            f"Python around it weighs more): reliable, one by one {one_core[ONE]:.2f}x, "
            f"streams, one by one {one_core[STREAMS_ONE]:.2f}x")
    return [floor, Area("create_ticket: the request's own time (local file database)",
                        "insert + inline notification",
                        [Row("insert + enqueue", inline / queued, f"{queued:,.0f} µs", None,
                             f"inline: {inline:,.0f} µs")])]


if __name__ == "__main__":
    for area in run():
        print_area(area)
