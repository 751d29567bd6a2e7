"""arq (its own venv: it needs redis-py < 6), as the ``arq`` command runs it (``run_worker``):
one worker, its default ``max_jobs`` (10 at once), results not kept (``keep_result=0``).

``--variant`` is ``poll_delay`` in seconds: arq polls its queue (a sorted set) every
``poll_delay`` (0.5 s by default), busy or idle; the benchmark names the value it used.
At least once: a job stays in the queue until it finished; another worker runs it again
when the running one's in-progress key expires (max_tries 5).
"""

from __future__ import annotations

from typing import Any

from arq import create_pool
from arq.connections import RedisSettings
from arq.worker import func, run_worker
from harness import AsyncReporter, arguments, serve


def main() -> None:
    args = arguments(__doc__.splitlines()[0])
    settings = RedisSettings.from_dsn(args.url)
    queue_name = f"bench-{args.queue}"
    reporter = AsyncReporter(args.url, args.queue)
    pools: list[Any] = []

    async def send(batch: str, size: int) -> None:
        if not pools:
            pools.append(await create_pool(settings, default_queue_name=queue_name))
        await pools[0].enqueue_job("job", batch, size)

    async def close() -> None:
        for pool in pools:
            await pool.aclose()

    if args.role == "producer":
        serve(args.url, args.queue, send, close)
        return

    async def job(ctx: dict[str, Any], batch: str, size: int) -> None:
        await reporter.job(batch, size)

    worker_settings = {"functions": [func(job, name="job")], "redis_settings": settings,
                       "queue_name": queue_name, "poll_delay": float(args.variant or 0.5),
                       "keep_result": 0}
    run_worker(worker_settings)  # SIGTERM: it stops after the jobs in hand


if __name__ == "__main__":
    main()
