"""huey 3.5 on ``RedisHuey``, as ``huey_consumer -w 1`` runs it: one worker thread, results
off (``results=False``), the blocking read (``BRPOP``) RedisHuey uses by default.

At most once: ``BRPOP`` takes the task off the list; a worker that dies while running it
loses it.
"""

from __future__ import annotations

from harness import Reporter, arguments, serve
from huey import RedisHuey


def main() -> None:
    args = arguments(__doc__.splitlines()[0])
    huey = RedisHuey(f"bench-{args.queue}", url=args.url, results=False)
    reporter = Reporter(args.url, args.queue)

    @huey.task()
    def job(batch: str, size: int) -> None:
        reporter.job(batch, size)

    if args.role == "producer":
        serve(args.url, args.queue, lambda batch, size: job(batch, size))
        return
    huey.create_consumer(workers=1).run()  # SIGTERM: it stops after the task in hand


if __name__ == "__main__":
    main()
