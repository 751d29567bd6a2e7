"""Dramatiq 2.2 on its ``RedisBroker``, as ``dramatiq --processes 1 --threads 1`` runs it:
one ``Worker(broker, worker_threads=1)``, the broker's default middleware (no results
middleware: nothing is stored).

At least once: a fetched message waits in the worker's ack set until the actor returned
(ack after the handler); a dead worker's messages go back to the queue once its heartbeat is
60 s old. An idle consumer polls, backing off up to ``worker_timeout`` (1 s).
"""

from __future__ import annotations

import signal
import threading

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from harness import Reporter, arguments, serve


def main() -> None:
    args = arguments(__doc__.splitlines()[0])
    broker = RedisBroker(url=args.url, namespace=f"bench-{args.queue}")
    dramatiq.set_broker(broker)
    reporter = Reporter(args.url, args.queue)

    @dramatiq.actor(queue_name="jobs")
    def job(batch: str, size: int) -> None:
        reporter.job(batch, size)

    if args.role == "producer":
        serve(args.url, args.queue, lambda batch, size: job.send(batch, size))
        return
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    worker = dramatiq.Worker(broker, worker_threads=1)
    worker.start()
    stop.wait()
    worker.stop()


if __name__ == "__main__":
    main()
