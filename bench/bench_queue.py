"""Queue throughput and the cost of enqueueing, measured side by side on a private redis-server.

Enqueue + process of N no-op tasks (jobs/s), each method in interleaved rounds (medians):

- raw:      a hand-written ``RPUSH`` loop then ``LPOP`` loop carrying the same JSON a seed task
            carries (id, type, payload, timestamp, attempts: built with ``json.dumps``, read
            back with ``json.loads``), no validation, no handler: the floor for two round trips;
- seed:     ``TaskQueue.enqueue`` + ``Worker(mode="seed").process_all()`` (RPUSH / LPOP);
- reliable: ``enqueue_many`` + ``Worker(mode="reliable", batch=100)`` (LMOVE x100 per round
  trip, one pipelined ack per batch) - at-least-once, as the tests check under SIGKILL;
- reliable, batch 1: one ``enqueue`` and one LMOVE + LREM per task, for reference;
- RQ SimpleWorker, when ``rq`` is installed (optional; not a dependency of the kit).

Then the seed's "create a ticket" request: DB insert + enqueue, vs DB insert + the notification
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

from helpdesk_kit.app import REGISTRY, TaskContext, helpdesk_queue
from helpdesk_kit.app.handlers import send_notifications
from helpdesk_kit.backends import RedisServer
from helpdesk_kit.config import Settings
from helpdesk_kit.db import open_store
from helpdesk_kit.db.sample import SAMPLE_NOW, load_sample
from helpdesk_kit.keys import KeySchema
from helpdesk_kit.queue import Task, TaskQueue, Worker

N = 10_000
RQ_JOBS = 1_000  # RQ does ~57 commands per job: 10,000 would take half a minute
ROUNDS = 3
DOCUMENTED_RQ = 370.0  # jobs/s, RECIPES.md (RQ SimpleWorker, this machine)


def noop(*_args: object) -> None:
    """The task body: nothing, so we measure the queue alone."""


def _registry_with_noop() -> TaskQueue:
    registry = REGISTRY.copy()
    registry.register("noop", noop)
    return registry  # type: ignore[return-value]


def raw_loop(client: redis.Redis, keys: KeySchema) -> float:
    """The same payload as a seed-mode task, with nothing else around the two round trips."""
    start = time.perf_counter()
    for _ in range(N):
        task = {"id": secrets.token_hex(16), "type": "noop", "payload": {},
                "timestamp": time.time_ns() // 1_000_000, "attempts": 0}
        client.rpush(keys.tasks_pending, json.dumps(task, separators=(",", ":")))
    while (raw := client.lpop(keys.tasks_pending)) is not None:
        json.loads(raw)  # type: ignore[arg-type]
    return N / (time.perf_counter() - start)


def seed_mode(client: redis.Redis, keys: KeySchema) -> float:
    queue = TaskQueue(client, keys, registry=_registry_with_noop())  # type: ignore[arg-type]
    worker = Worker(queue, TaskContext(None), mode="seed")  # type: ignore[arg-type]
    start = time.perf_counter()
    for _ in range(N):
        queue.enqueue("noop", {})
    assert worker.process_all()["processed"] == N
    return N / (time.perf_counter() - start)


def reliable_mode(client: redis.Redis, keys: KeySchema, batch: int = 100) -> float:
    queue = TaskQueue(client, keys, registry=_registry_with_noop())  # type: ignore[arg-type]
    worker = Worker(queue, TaskContext(None), batch=batch)  # type: ignore[arg-type]
    start = time.perf_counter()
    if batch > 1:
        queue.enqueue_many([("noop", {})] * N)
    else:
        for _ in range(N):
            queue.enqueue("noop", {})
    assert worker.process_all()["processed"] == N
    return N / (time.perf_counter() - start)


def rq_simple_worker(server: RedisServer) -> float | None:
    try:
        from rq import Queue, SimpleWorker
    except ImportError:
        return None
    connection = redis.Redis(unix_socket_path=str(server.socket))
    queue = Queue("bench", connection=connection)
    start = time.perf_counter()
    for _ in range(RQ_JOBS):
        queue.enqueue("bench.bench_queue.noop")  # by name: RQ refuses __main__ functions
    SimpleWorker([queue], connection=connection).work(burst=True, logging_level="WARNING")
    rate = RQ_JOBS / (time.perf_counter() - start)
    connection.flushdb()  # our private server: nothing else lives here
    return rate


def create_ticket_latency(client: redis.Redis, keys: KeySchema, folder: Path
                          ) -> tuple[float, float]:
    """Median µs of insert+enqueue and of insert+inline notification, interleaved."""
    store = open_store(Settings(data_dir=folder))
    load_sample(store, 40, 300, seed=42, progress=False)
    queue = helpdesk_queue(client, keys)
    context = TaskContext(store, None, client, keys, SAMPLE_NOW)
    queued, inline = [], []
    try:
        for i in range(300):
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


def main() -> None:
    with RedisServer() as server, tempfile.TemporaryDirectory() as folder:
        client = server.client()
        keys = KeySchema(prefix="bench:")
        methods: dict[str, Callable[[], float]] = {
            "raw RPUSH/LPOP loop": lambda: raw_loop(client, keys),
            "seed mode (enqueue + LPOP)": lambda: seed_mode(client, keys),
            "reliable, batch 100": lambda: reliable_mode(client, keys, 100),
            "reliable, batch 1": lambda: reliable_mode(client, keys, 1),
        }
        rates: dict[str, list[float]] = {name: [] for name in methods}
        rq_rates: list[float] = []
        for _ in range(ROUNDS):
            for name, run in methods.items():
                rates[name].append(run())
            rq_rate = rq_simple_worker(server)
            if rq_rate is not None:
                rq_rates.append(rq_rate)
        med = {name: statistics.median(values) for name, values in rates.items()}
        raw = med["raw RPUSH/LPOP loop"]
        if rq_rates:
            rq, rq_note = statistics.median(rq_rates), f"RQ SimpleWorker, measured ({RQ_JOBS} jobs)"
        else:
            rq, rq_note = DOCUMENTED_RQ, "RQ SimpleWorker, documented (rq not installed)"
        print(f"enqueue + process of {N:,} no-op tasks, median of {ROUNDS} interleaved rounds")
        print(f"  {'method':32} {'jobs/s':>9} {'x raw':>7} {'x RQ':>7}")
        for name, rate in med.items():
            print(f"  {name:32} {rate:9,.0f} {rate / raw:7.2f} {rate / rq:7.1f}")
        print(f"  {rq_note:32} {rq:9,.0f} {rq / raw:7.2f} {1:7.1f}")
        reliable = med["reliable, batch 100"]
        print(f"targets: reliable >= 10x RQ: {reliable / rq:.1f}x; reliable >= 0.45x raw: "
              f"{reliable / raw:.2f}x; seed >= 0.8x raw: "
              f"{med['seed mode (enqueue + LPOP)'] / raw:.2f}x")
        queued, inline = create_ticket_latency(client, keys, Path(folder))
        print(f"create_ticket: insert + enqueue {queued:,.0f} µs vs insert + inline "
              f"notification {inline:,.0f} µs (inline/queued {inline / queued:.2f}x; "
              "local file database, loopback Redis)")
        client.close()


if __name__ == "__main__":
    main()
