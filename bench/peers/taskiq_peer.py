"""taskiq-redis 1.2, as ``taskiq worker taskiq_peer:broker --workers 1`` runs it (one worker
process, its default ``--ack-type when_saved``, no result backend).

``--variant`` is the broker, each with its own guarantee:

- ``list``: ``ListQueueBroker`` (``LPUSH`` / ``BRPOP``): no acknowledgement, at most once;
- ``stream``: ``RedisStreamBroker`` (``XADD`` / ``XREADGROUP``, ``XACK`` after the task):
  at least once; a dead worker's entries are claimed after ``idle_timeout`` (10 minutes).

The worker is the ``taskiq worker`` command itself, so this module is also what it imports:
the URL, queue and broker come from the environment the benchmark starts it with.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from harness import AsyncReporter, arguments, serve
from taskiq_redis import ListQueueBroker, RedisStreamBroker

URL = os.environ.get("BENCH_TASKIQ_URL", "redis://127.0.0.1:6379/0")
QUEUE = os.environ.get("BENCH_TASKIQ_QUEUE", "taskiq")
if os.environ.get("BENCH_TASKIQ_BROKER") == "stream":
    broker = RedisStreamBroker(URL, queue_name=f"bench-{QUEUE}")
else:
    broker = ListQueueBroker(URL, queue_name=f"bench-{QUEUE}")
reporter = AsyncReporter(URL, QUEUE)


@broker.task(task_name="bench.job")
async def job(batch: str, size: int) -> None:
    await reporter.job(batch, size)


async def _send(batch: str, size: int) -> None:
    if not broker.is_worker_process and not getattr(broker, "bench_started", False):
        await broker.startup()
        broker.bench_started = True  # type: ignore[attr-defined]
    await job.kiq(batch, size)


def main() -> None:
    args = arguments(__doc__.splitlines()[0])
    os.environ.update(BENCH_TASKIQ_URL=args.url, BENCH_TASKIQ_QUEUE=args.queue,
                      BENCH_TASKIQ_BROKER=args.variant)
    if args.role == "worker":  # this process becomes `taskiq worker` (same pid: SIGTERM)
        os.execv(sys.executable, [  # noqa: S606 (this interpreter, fixed arguments)
            sys.executable, "-m", "taskiq", "worker", "taskiq_peer:broker", "--workers", "1",
            "--app-dir", str(Path(__file__).parent), "--log-level", "WARNING"])
    import taskiq_peer  # the module the worker imports, made again with this environment

    serve(args.url, args.queue, taskiq_peer._send, taskiq_peer.broker.shutdown)


if __name__ == "__main__":
    main()
