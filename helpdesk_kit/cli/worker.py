"""``helpdesk-kit worker``: run queued tasks, long-running or ``--burst``."""

from __future__ import annotations

import argparse
import json
import logging
from typing import Any

from ..config import Settings
from ..vocab import BackendKind, QueueMode
from . import Subparsers, command


# --- worker ------------------------------------------------------------------------------
def _worker(args: argparse.Namespace, settings: Settings) -> int:
    import importlib

    from ..app import HelpdeskApp, helpdesk_queue
    from ..db.sample import SAMPLE_NOW
    from ..queue import RetryPolicy, StreamQueue, Worker

    for module in args.imports:  # each registers its task types in tasks.REGISTRY
        importlib.import_module(module)
    retry = RetryPolicy(args.max_attempts, args.retry_delay)
    app = HelpdeskApp.from_settings(settings, retry=retry)
    with app:
        # a private server or fakeredis lives in this process only: nobody else's tasks
        if app.backend is not None and app.backend.kind in (BackendKind.SERVER,
                                                            BackendKind.FAKE):
            logging.getLogger("helpdesk_kit.worker").warning(
                "No REDIS_URL: this worker uses %s, which no other process shares - it only "
                "sees tasks enqueued by itself. Set REDIS_URL to work on the app's queue.",
                app.backend.description)
        context = app.task_context(SAMPLE_NOW if args.sample_now else None)
        mode = QueueMode(args.mode or settings.queue_mode)  # --mode, else HELPDESK_QUEUE_MODE
        queue: Any = app.queue  # from_settings builds the one HELPDESK_QUEUE_MODE names
        if mode == QueueMode.STREAMS and not isinstance(queue, StreamQueue):
            queue = StreamQueue(queue.client, app.keys, registry=queue.registry, retry=retry,
                                max_task_bytes=settings.max_task_bytes)
        elif mode != QueueMode.STREAMS and isinstance(queue, StreamQueue):
            queue = helpdesk_queue(queue.client, app.keys, retry=retry)
        worker = Worker(queue, context, mode=mode,
                        batch=args.batch, heartbeat_ttl_s=args.heartbeat_ttl,
                        poll_timeout_s=args.poll)
        result = worker.run(burst=args.burst)
        print(json.dumps(result))
    return 0


@command
def _worker_parser(sub: Subparsers) -> None:
    p = sub.add_parser("worker", help="run queued tasks (long-running; --burst to drain and "
                       "exit); needs REDIS_URL to share a queue with other processes")
    p.add_argument("--mode", choices=tuple(QueueMode), default=None,
                   help="default HELPDESK_QUEUE_MODE, else reliable. "
                   "seed: LPOP, a crash loses the task in hand; reliable: "
                   "LMOVE + ack, retries, dead letters, recovery; streams: the same "
                   "guarantees on a stream (XREADGROUP + XACK, XAUTOCLAIM recovery)")
    p.add_argument("--burst", action="store_true", help="exit when the queue is empty")
    p.add_argument("--batch", type=int, default=1, help="tasks taken per round trip "
                   "(reliable and streams modes; on a crash the whole batch runs again)")
    p.add_argument("--heartbeat-ttl", type=float, default=10.0,
                   help="seconds without a heartbeat before others recover our tasks")
    p.add_argument("--poll", type=float, default=0.5,
                   help="seconds a blocking dequeue waits (how fast a stop is noticed)")
    p.add_argument("--max-attempts", type=int, default=3, help="tries before a dead letter")
    p.add_argument("--retry-delay", type=float, default=1.0,
                   help="seconds before the first retry (doubles each time)")
    p.add_argument("--sample-now", action="store_true",
                   help="use the sample data's fixed 'now' (2026-06-01) in the tasks")
    p.add_argument("--import", dest="imports", action="append", default=[], metavar="MODULE",
                   help="import MODULE first (it may register more task types)")
    p.set_defaults(handler=_worker)
