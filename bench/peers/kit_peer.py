"""helpdesk-kit's queue, the way the kit runs it: ``TaskQueue.enqueue`` (or
``StreamQueue.enqueue``) and a ``Worker(...).run()`` in its own process, one task at a time.

``--variant`` is the mode: ``pop`` (RPUSH / BLPOP: at most once), ``reliable`` (BLMOVE into
the worker's own list, acked after the handler, recovered when the worker dies: at least
once) or ``streams`` (XREADGROUP / XACK after the handler, XAUTOCLAIM: at least once).
"""

from __future__ import annotations

from typing import Any

import redis
from harness import Reporter, arguments, serve

from helpdesk_kit.keys import KeySchema
from helpdesk_kit.queue import StreamQueue, TaskQueue, TaskRegistry, Worker


def main() -> None:
    args = arguments(__doc__.splitlines()[0])
    client = redis.Redis.from_url(args.url, decode_responses=True)
    reporter = Reporter(args.url, args.queue)
    registry = TaskRegistry()
    registry.register("job", lambda _context, task: reporter.job(**task.payload),
                      {"batch": str, "size": int})
    keys = KeySchema(prefix=f"bench:{args.queue}:")
    queue: Any
    if args.variant == "streams":
        queue = StreamQueue(client, keys, registry=registry)
    else:
        queue = TaskQueue(client, keys, registry=registry)
    if args.role == "producer":
        serve(args.url, args.queue,
              lambda batch, size: queue.enqueue("job", {"batch": batch, "size": size}))
        return
    Worker(queue, None, mode=args.variant, batch=1).run()  # SIGTERM: finish, hand back, exit


if __name__ == "__main__":
    main()
