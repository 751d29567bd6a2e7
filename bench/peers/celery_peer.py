"""Celery 5.7 on its Redis broker, as ``celery worker --pool=solo`` runs it: one task at a
time in the worker's process, ``worker_prefetch_multiplier=1``, results off
(``task_ignore_result``), mingle off (it only slows the start).

``--variant`` is ``task_acks_late``: ``early`` (Celery's default) acks a message when the
worker takes it, before the task runs: at most once. ``late`` acks after the task: at least
once, redelivered once the broker's visibility timeout (1 hour) has passed.
"""

from __future__ import annotations

from celery import Celery
from harness import Reporter, arguments, serve


def main() -> None:
    args = arguments(__doc__.splitlines()[0])
    app = Celery("bench", broker=args.url)
    app.conf.update(
        task_default_queue=f"bench-{args.queue}",
        task_ignore_result=True,
        task_acks_late=args.variant == "late",
        worker_prefetch_multiplier=1,
        worker_hijack_root_logger=False,
        broker_connection_retry_on_startup=True,
    )
    reporter = Reporter(args.url, args.queue)

    @app.task(name="bench.job")
    def job(batch: str, size: int) -> None:
        reporter.job(batch, size)

    if args.role == "producer":
        serve(args.url, args.queue, lambda batch, size: job.delay(batch, size))
        return
    app.worker_main(["worker", "--pool=solo", "--loglevel=WARNING", "--without-mingle"])


if __name__ == "__main__":
    main()
