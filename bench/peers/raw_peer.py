"""The raw floor as a worker of its own: ``RPUSH`` a JSON job, a loop of ``BLPOP`` and
``json.loads``. No validation, no retry, no acknowledgement: at most once (a job popped by a
worker that dies is gone). What any queue on a Redis list costs at the least.
"""

from __future__ import annotations

import json
import signal
import sys

import redis
from harness import Reporter, arguments, serve


def main() -> None:
    args = arguments(__doc__.splitlines()[0])
    client = redis.Redis.from_url(args.url)
    key = f"bench:{args.queue}:jobs"
    if args.role == "producer":
        serve(args.url, args.queue,
              lambda batch, size: client.rpush(key, json.dumps({"batch": batch, "size": size})))
        return
    reporter = Reporter(args.url, args.queue)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    while True:
        popped = client.blpop([key], timeout=1)
        if popped is not None:
            job = json.loads(popped[1])
            reporter.job(job["batch"], job["size"])


if __name__ == "__main__":
    main()
