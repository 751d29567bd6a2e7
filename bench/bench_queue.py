"""Queue throughput (enqueue + process of no-op tasks, jobs/s) beside the raw floor and the peers.

Every method runs once per round, rounds interleaved (the order turns each round); a ratio is
the median of each round's ratio to the same round's baseline (:func:`bench.report.paired`):

- raw:         a hand-written ``RPUSH`` loop then ``LPOP`` loop carrying the JSON a pop task
               carries (``json.dumps`` / ``json.loads``), no validation, no handler: the floor;
- pop:         ``TaskQueue.enqueue`` + ``Worker(mode="pop").process_all()`` (RPUSH / LPOP);
- reliable, one by one: one ``enqueue`` (one RPUSH) per task, and a worker whose every step
               acks the finished task and reserves the next in one script
               (``TaskQueue.ack_and_reserve``) - at-least-once, as the SIGKILL tests check;
- reliable, batch 100: ``enqueue_many`` + LMOVE x100 per round trip, one ack per batch;
- RQ SimpleWorker and arq (``poll_delay`` 0.01 s), on the same server (:mod:`bench.peers`).

Then the design's "create a ticket" request: DB insert + enqueue vs insert + the notification
done inline (the work the queue moves out of the request).
"""

from __future__ import annotations

import json
import secrets
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import redis

from bench import HOST, tcp_client, tcp_redis
from bench.peers import arq_rate, rq_rate
from bench.report import Area, Row, paired, print_area
from helpdesk_kit.app import REGISTRY, TaskContext, helpdesk_queue
from helpdesk_kit.app.handlers import send_notifications
from helpdesk_kit.config import Settings
from helpdesk_kit.db import open_store
from helpdesk_kit.db.sample import SAMPLE_NOW, load_sample
from helpdesk_kit.keys import KeySchema
from helpdesk_kit.queue import Task, TaskQueue, TaskRegistry, Worker

ROUNDS = 3  # (bench_streams' rounds, with N tasks)
N = 10_000
#: Against the peers: (rounds, the kit's tasks a round, RQ jobs, arq jobs).
FULL, QUICK = (7, 4_000, 500, 1_500), (5, 500, 100, 300)
RAW = "raw RPUSH/LPOP loop"
POP = "pop mode (enqueue + LPOP)"
ONE, BATCH = "reliable, one by one", "reliable, batch 100"
RQ, ARQ = "RQ SimpleWorker", "arq (poll_delay 0.01 s)"


def noop(*_args: object) -> None:
    """The task body: nothing, so we measure the queue alone."""


def _registry_with_noop() -> TaskRegistry:
    registry = REGISTRY.copy()
    registry.register("noop", noop)
    return registry


def raw_loop(client: redis.Redis, keys: KeySchema, n: int = N) -> float:
    """The same payload as a pop-mode task, with nothing else around the two round trips."""
    start = time.perf_counter()
    for _ in range(n):
        task = {"id": secrets.token_hex(16), "type": "noop", "payload": {},
                "timestamp": time.time_ns() // 1_000_000, "attempts": 0}
        client.rpush(keys.tasks_pending, json.dumps(task, separators=(",", ":")))
    while (raw := client.lpop(keys.tasks_pending)) is not None:
        json.loads(raw)  # type: ignore[arg-type]
    return n / (time.perf_counter() - start)


def pop_mode(client: redis.Redis, keys: KeySchema, n: int = N) -> float:
    queue = TaskQueue(client, keys, registry=_registry_with_noop())
    worker = Worker(queue, TaskContext(None), mode="pop")  # type: ignore[arg-type]
    start = time.perf_counter()
    for _ in range(n):
        queue.enqueue("noop", {})
    assert worker.process_all()["processed"] == n
    return n / (time.perf_counter() - start)


def reliable_mode(client: redis.Redis, keys: KeySchema, batch: int = 100, n: int = N) -> float:
    queue = TaskQueue(client, keys, registry=_registry_with_noop())
    worker = Worker(queue, TaskContext(None), batch=batch)  # type: ignore[arg-type]
    start = time.perf_counter()
    if batch > 1:
        queue.enqueue_many([("noop", {})] * n)
    else:
        for _ in range(n):
            queue.enqueue("noop", {})  # one RPUSH each, as a request enqueues
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


def _interleave(methods: dict[str, Callable[[], float | str]], rounds: int
                ) -> dict[str, list[float | str]]:
    """Each method once per round, the order turning each round."""
    rates: dict[str, list[float | str]] = {name: [] for name in methods}
    order = list(methods)
    for round_ in range(rounds):
        turn = round_ % len(order)
        for name in order[turn:] + order[:turn]:
            rates[name].append(methods[name]())
    return rates


def _row(rates: dict[str, list[float | str]], name: str, baseline: str,
         target: float | None = None) -> Row:
    """One method against a baseline of the same rounds, or "not run" and why."""
    pair = {n: rates[n] for n in (name, baseline)}
    why = next((str(r) for values in pair.values() for r in values if isinstance(r, str)), "")
    if why:
        return Row(name, None, note=why)
    numbers = {n: [float(r) for r in values] for n, values in pair.items()}
    return Row(name, paired(numbers, baseline)[name],
               f"{statistics.median(numbers[name]):,.0f} jobs/s", target)


def run(quick: bool = False) -> list[Area]:
    """Two interleavings: the kit against the raw floor (many short rounds: the ratios that
    must hold to 0.8x are fine ones), then the kit against the peers (fewer, longer rounds)."""
    floor_rounds, floor_n = (11, 300) if quick else (25, 1_000)
    peer_rounds, n, rq_jobs, arq_jobs = QUICK if quick else FULL
    with tcp_redis() as port, tempfile.TemporaryDirectory() as folder:
        client = tcp_client(port)
        keys = KeySchema(prefix="bench:")
        floor = _interleave({
            RAW: lambda: raw_loop(client, keys, floor_n),
            POP: lambda: pop_mode(client, keys, floor_n),
            ONE: lambda: reliable_mode(client, keys, 1, floor_n),
            BATCH: lambda: reliable_mode(client, keys, 100, floor_n),
        }, floor_rounds)
        peers = _interleave({
            RQ: lambda: rq_rate(HOST, port, rq_jobs),
            ONE: lambda: reliable_mode(client, keys, 1, n),
            ARQ: lambda: arq_rate(HOST, port, arq_jobs),
            BATCH: lambda: reliable_mode(client, keys, 100, n),
        }, peer_rounds)
        queued, inline = create_ticket_latency(client, keys, Path(folder), 60 if quick else 300)
        client.close()
    return [
        Area(f"Task queue against the raw floor: {floor_n:,} tasks a round, {floor_rounds} "
             "paired rounds", RAW, [_row(floor, RAW, RAW), _row(floor, POP, RAW),
                                    _row(floor, ONE, RAW, 0.8), _row(floor, BATCH, RAW)]),
        Area(f"Task queue against RQ: RQ {rq_jobs:,} jobs, the kit {n:,}, {peer_rounds} paired "
             "rounds (same server)", RQ,
             [_row(peers, RQ, RQ), _row(peers, ARQ, RQ), _row(peers, ONE, RQ, 10),
              _row(peers, BATCH, RQ, 10)]),
        Area(f"Task queue against arq: arq {arq_jobs:,} jobs, the same rounds", ARQ,
             [_row(peers, ARQ, ARQ), _row(peers, ONE, ARQ, 1), _row(peers, BATCH, ARQ, 1)]),
        Area("create_ticket: the request's own time (local file database)",
             "insert + inline notification",
             [Row("insert + enqueue", inline / queued, f"{queued:,.0f} µs", None,
                  f"inline: {inline:,.0f} µs")]),
    ]


if __name__ == "__main__":
    for area in run():
        print_area(area)
