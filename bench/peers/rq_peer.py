"""RQ, as ``rq worker --worker-class rq.worker.SimpleWorker`` runs it: one job at a time in
the worker's own process (RQ's default ``Worker`` forks a work horse per job; SimpleWorker
does not), results not kept (``result_ttl=0``).

At most once by default: a job whose worker dies goes to the failed job registry
(``AbandonedJobError``), run again only if it was enqueued with ``retry=Retry(...)``.
"""

from __future__ import annotations

import sys

import redis
from harness import Reporter, arguments, serve
from rq import Queue
from rq.worker import SimpleWorker

REPORTER: Reporter | None = None


def job(batch: str, size: int) -> None:
    """The job: RQ imports it by name, ``rq_peer.job``."""
    assert REPORTER is not None
    REPORTER.job(batch, size)


def main() -> None:
    global REPORTER
    args = arguments(__doc__.splitlines()[0])
    connection = redis.Redis.from_url(args.url)
    queue = Queue(f"bench-{args.queue}", connection=connection)
    if args.role == "producer":
        serve(args.url, args.queue,
              lambda batch, size: queue.enqueue("rq_peer.job", batch, size, result_ttl=0))
        return
    REPORTER = Reporter(args.url, args.queue)
    sys.modules.setdefault("rq_peer", sys.modules["__main__"])  # "rq_peer.job" is this one
    SimpleWorker([queue], connection=connection).work(logging_level="WARNING")


if __name__ == "__main__":
    main()
