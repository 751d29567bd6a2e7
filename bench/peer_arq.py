"""arq, measured the way ``bench_queue`` measures the kit: enqueue N no-op jobs, then a burst
worker runs them; prints ``{"jobs": N, "seconds": s}`` as JSON.

It runs in its own venv (``.venv-bench/arq``: arq pins redis-py < 6, the kit wants 8), so it
imports nothing from the kit. ``poll_delay`` is arq's wait between polls when idle (default
0.5 s); the issue asks for a small one, the value it is given here.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import uuid

from arq import create_pool
from arq.connections import RedisSettings
from arq.worker import Worker


async def noop(ctx: dict) -> None:
    """The job body: nothing, so the queue alone is measured."""


async def measure(host: str, port: int, jobs: int, poll_delay: float) -> float:
    settings = RedisSettings(host=host, port=port)
    queue = f"arq:bench:{uuid.uuid4().hex[:8]}"
    pool = await create_pool(settings, default_queue_name=queue)
    try:
        start = time.perf_counter()
        for _ in range(jobs):
            await pool.enqueue_job("noop")
        worker = Worker(functions=[noop], redis_pool=pool, queue_name=queue, burst=True,
                        poll_delay=poll_delay, handle_signals=False, keep_result=0)
        await worker.main()
        seconds = time.perf_counter() - start
        await worker.close()
    finally:
        await pool.aclose()
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--poll-delay", type=float, default=0.01)
    args = parser.parse_args()
    seconds = asyncio.run(measure(args.host, args.port, args.jobs, args.poll_delay))
    print(json.dumps({"jobs": args.jobs, "seconds": seconds}))


if __name__ == "__main__":
    main()
