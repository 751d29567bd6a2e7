"""What every queue's script in ``bench/peers/`` shares: the job, the completion counter and
the producer's side of the talk with the benchmark.

A queue is measured as its users run it: a **worker** process of its own (the queue's own
worker, its settings named in the script), and a **producer** process that enqueues through
the queue's own client. Both are the same script (``python bench/peers/celery_peer.py
worker|producer --url ... --queue ...``), run by the Python of the venv that queue lives in;
so this module imports only the standard library and redis-py (any version from 4.2).

**The job** is the same for every queue: ``job(batch, size)`` reads the clock
(``time.monotonic_ns()``, one clock for every process of the machine) and counts itself.

**The completion counter** (:class:`Batches`): the worker counts each batch's jobs in memory;
the batch's last job pushes its start time to ``<queue>:done:<batch>`` in Redis, where the
producer waits for it (``BLPOP``). So a queue without a burst mode still says when a batch of
N jobs is done, and no job pays a counting round trip of its own (an ``INCR`` per job would
add one to every queue's every job and squeeze their differences).

**The producer** reads one command a line on stdin and answers one JSON line on stdout:

- ``{"op": "ready", "seconds": 60}``: a batch of 1, sent again until the worker runs one
  (a worker starting late may not see jobs sent before it, a stream group made at ``$``);
- ``{"op": "burst", "jobs": N}``: N jobs, one enqueue call each, then waits for the last:
  ``{"seconds": s, "enqueue_seconds": e}``;
- ``{"op": "latency", "jobs": M, "gap_ms": g}``: M single jobs, each after a random pause of
  up to g ms once the last one ran (the worker is idle: a polling worker is caught at every
  point of its interval); ``{"latencies_ns": [...]}``, enqueue call to the job's first line;
- ``{"op": "quit"}``.
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import json
import random
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import redis
import redis.asyncio

__all__ = ["Batches", "arguments", "done_key", "serve"]

#: How long a producer waits for a batch before it calls the queue stuck.
STUCK_S = 120.0

#: A producer's ``send(batch, size)``: enqueue one job, through the queue's own client.
Send = Callable[[str, int], Awaitable[Any] | Any]


def arguments(description: str) -> argparse.Namespace:
    """``worker|producer --url redis://... --queue NAME`` (every peer script's command line)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("role", choices=["worker", "producer"])
    parser.add_argument("--url", required=True, help="the redis-server every queue shares")
    parser.add_argument("--queue", required=True, help="a name no other queue of the run uses")
    parser.add_argument("--variant", default="", help="a setting some peers are measured in")
    return parser.parse_args()


def done_key(queue: str, batch: str) -> str:
    """The list a batch's last job pushes its start time to."""
    return f"bench:{queue}:done:{batch}"


class Batches:
    """The completion counter: how many jobs of each batch this worker has run.

    :meth:`count` returns True for the job that completes its batch (the worker then tells
    Redis). A job delivered twice counts twice: at-least-once queues redeliver only after a
    crash, and the benchmark crashes nothing.
    """

    def __init__(self) -> None:
        self.seen: dict[str, int] = {}

    def count(self, batch: str, size: int) -> bool:
        ran = self.seen.get(batch, 0) + 1
        if ran >= size:
            self.seen.pop(batch, None)
            return True
        self.seen[batch] = ran
        return False


class Reporter:
    """The job's body for a worker with a synchronous client: count, and report the last."""

    def __init__(self, url: str, queue: str) -> None:
        self.client = redis.Redis.from_url(url)
        self.queue = queue
        self.batches = Batches()

    def job(self, batch: str, size: int) -> None:
        started = time.monotonic_ns()
        if self.batches.count(batch, size):
            self.client.rpush(done_key(self.queue, batch), started)


class AsyncReporter:
    """The same for an asyncio worker (taskiq, arq, SAQ): its own asyncio client."""

    def __init__(self, url: str, queue: str) -> None:
        self.url = url
        self.queue = queue
        self.batches = Batches()
        self.client: redis.asyncio.Redis | None = None

    async def job(self, batch: str, size: int) -> None:
        started = time.monotonic_ns()
        if self.batches.count(batch, size):
            if self.client is None:  # made in the worker's own event loop
                self.client = redis.asyncio.Redis.from_url(self.url)
            await self.client.rpush(done_key(self.queue, batch), started)


def serve(url: str, queue: str, send: Send, close: Callable[[], Any] | None = None) -> None:
    """The producer: answer the benchmark's commands until ``quit`` (``send`` may be async)."""
    asyncio.run(_serve(url, queue, send, close))


async def _serve(url: str, queue: str, send: Send, close: Callable[[], Any] | None) -> None:
    client = redis.asyncio.Redis.from_url(url)
    try:
        while line := await asyncio.to_thread(sys.stdin.readline):
            command = json.loads(line)
            if command["op"] == "quit":
                break
            answer = await _answer(command, client, queue, send)
            print(json.dumps(answer), flush=True)
    finally:
        if close is not None:
            await _maybe(close())
        await client.aclose()


async def _answer(command: dict[str, Any], client: redis.asyncio.Redis, queue: str,
                  send: Send) -> dict[str, Any]:
    op = command["op"]
    if op == "ready":
        deadline = time.monotonic() + float(command["seconds"])
        while time.monotonic() < deadline:
            batch = uuid.uuid4().hex
            await _maybe(send(batch, 1))
            if await client.blpop([done_key(queue, batch)], timeout=0.5):
                return {"ready": True}
        return {"ready": False}
    if op == "burst":
        jobs, batch = int(command["jobs"]), uuid.uuid4().hex
        start = time.perf_counter()
        for _ in range(jobs):
            await _maybe(send(batch, jobs))
        sent = time.perf_counter()
        done = await client.blpop([done_key(queue, batch)], timeout=STUCK_S)
        if done is None:
            return {"error": f"{jobs} jobs not done after {STUCK_S:.0f} s"}
        return {"seconds": time.perf_counter() - start, "enqueue_seconds": sent - start}
    if op == "latency":
        latencies = []
        for _ in range(int(command["jobs"])):
            await asyncio.sleep(random.uniform(0, float(command["gap_ms"]) / 1000))
            batch = uuid.uuid4().hex
            sent_ns = time.monotonic_ns()
            await _maybe(send(batch, 1))
            done = await client.blpop([done_key(queue, batch)], timeout=STUCK_S)
            if done is None:
                return {"error": f"a single job not started after {STUCK_S:.0f} s"}
            latencies.append(int(done[1]) - sent_ns)
        return {"latencies_ns": latencies}
    return {"error": f"unknown op {op!r}"}


async def _maybe(result: Any) -> Any:
    """Await what an async client returned; a sync client's result is already there."""
    if inspect.isawaitable(result):
        return await result
    return result
