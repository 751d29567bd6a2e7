"""The streams queue beside the two list modes, measured in the same run on one private server.

Enqueue + process of N no-op tasks (jobs/s), every method once per round, rounds interleaved
(the order turns each round), medians, all against the same raw ``RPUSH``/``LPOP`` floor:

- raw, pop, reliable one by one, reliable batch 100: :mod:`bench.bench_queue`'s own
  functions, so the list modes are measured exactly as there;
- streams, batch 100: ``enqueue_many`` (pipelined ``XADD``) + ``Worker(mode="streams",
  batch=100)`` - one ``XREADGROUP COUNT 100`` and one MULTI of ``XACK`` per batch, a trim
  every 1,000 acks; at-least-once, as the SIGKILL tests check;
- streams, one by one: one ``XADD`` per task (as a request enqueues), one ``XREADGROUP`` and
  one ``XACK`` per task.

``python -m bench streams`` runs it alone (``--quick``: 1,000 tasks).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import redis

from bench import tcp_client, tcp_redis
from bench.bench_queue import (
    BATCH,
    ONE,
    POP,
    RAW,
    ROUNDS,
    N,
    noop,
    pop_mode,
    raw_loop,
    reliable_mode,
)
from bench.report import Area, Row, print_area
from helpdesk_kit.app import REGISTRY
from helpdesk_kit.keys import KeySchema
from helpdesk_kit.queue import StreamQueue, TaskRegistry, Worker

STREAMS, STREAMS_ONE = "streams, batch 100", "streams, one by one"


def _noop_registry() -> TaskRegistry:
    registry = REGISTRY.copy()
    registry.register("noop", noop)
    return registry


def streams_mode(client: redis.Redis, keys: KeySchema, batch: int = 100, n: int = N) -> float:
    queue = StreamQueue(client, keys, registry=_noop_registry())
    worker = Worker(queue, None, mode="streams", batch=batch)
    start = time.perf_counter()
    if batch > 1:
        queue.enqueue_many([("noop", {})] * n)
    else:
        for _ in range(n):
            queue.enqueue("noop", {})  # one XADD each, as a request enqueues
    assert worker.process_all()["processed"] == n
    rate = n / (time.perf_counter() - start)
    client.delete(keys.tasks_stream, keys.tasks_stream_stats)  # the next round starts empty
    return rate


def run(quick: bool = False) -> list[Area]:
    n = 1_000 if quick else N
    with tcp_redis() as port:
        client = tcp_client(port)
        keys = KeySchema(prefix="bench:")
        methods: dict[str, Callable[[], float]] = {
            RAW: lambda: raw_loop(client, keys, n),
            POP: lambda: pop_mode(client, keys, n),
            ONE: lambda: reliable_mode(client, keys, 1, n),
            BATCH: lambda: reliable_mode(client, keys, 100, n),
            STREAMS_ONE: lambda: streams_mode(client, keys, 1, n),
            STREAMS: lambda: streams_mode(client, keys, 100, n),
        }
        rates: dict[str, list[float]] = {name: [] for name in methods}
        order = list(methods)
        for round_ in range(ROUNDS):
            for name in order[round_:] + order[:round_]:  # interleaved, turning each round
                rates[name].append(methods[name]())
        client.close()
    med = {name: statistics.median(values) for name, values in rates.items()}
    rows = [Row(name, med[name] / med[RAW], f"{med[name]:,.0f} jobs/s") for name in methods]
    area = Area(f"Streams queue beside the list modes: {n:,} tasks, median of {ROUNDS} rounds",
                RAW, rows)
    area.notes.append(f"streams / reliable: batch 100 {med[STREAMS] / med[BATCH]:.2f}x, "
                      f"one by one {med[STREAMS_ONE] / med[ONE]:.2f}x")
    return [area]


if __name__ == "__main__":
    for result in run():
        print_area(result)
