"""SAQ 0.26 (its own venv: it needs redis-py < 8), as ``saq saq_peer.settings`` runs it: one
worker, ``concurrency=1``, the blocking read (``BLMOVE`` into its active list) SAQ uses.

At most once by default: a job stays in the active list while it runs, but the sweep (every
60 s) aborts a dead worker's job instead of running it again unless the job has
``retries`` > 1 (the default is 1 attempt).
"""

from __future__ import annotations

import asyncio
import signal
from typing import Any

from harness import AsyncReporter, arguments, serve
from saq import Queue, Worker


def main() -> None:
    args = arguments(__doc__.splitlines()[0])
    queue = Queue.from_url(args.url, name=f"bench-{args.queue}")
    reporter = AsyncReporter(args.url, args.queue)

    async def job(ctx: dict[str, Any], *, batch: str, size: int) -> None:
        await reporter.job(batch, size)

    if args.role == "producer":
        serve(args.url, args.queue,
              lambda batch, size: queue.enqueue("job", batch=batch, size=size), queue.disconnect)
        return
    worker = Worker(queue, functions=[("job", job)], concurrency=1)

    async def run() -> None:
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, lambda: asyncio.ensure_future(worker.stop()))
        await worker.start()

    asyncio.run(run())


if __name__ == "__main__":
    main()
