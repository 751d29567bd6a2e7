"""``helpdesk-kit worker``: run queued tasks, long-running or ``--burst``.

Redis down when the worker starts: a long-running worker waits for it, trying again with a
growing pause (:data:`FIRST_WAIT_S` doubled up to :data:`LONGEST_WAIT_S`) and saying so each
time, and stops only on SIGTERM or SIGINT (then with exit code 0: nothing was taken). A
``--burst`` worker does not wait: it exits with code 2 and the reason. Once running, a Redis
outage is the worker's own business (:meth:`~helpdesk_kit.queue.Worker.run` retries).
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ..config import Settings, parse_queue_mode
from ..vocab import BackendKind, QueueMode
from . import Subparsers, command

log = logging.getLogger("helpdesk_kit.worker")

#: The first pause before trying a silent Redis again; each try doubles it, up to the longest.
FIRST_WAIT_S = 0.5
LONGEST_WAIT_S = 15.0


@contextmanager
def _stopped_by_signals() -> Iterator[threading.Event]:
    """An event that SIGTERM/SIGINT set while the block runs (the handlers come back after;
    only the main thread may install them, so elsewhere the event is never set)."""
    stopped = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield stopped
        return

    def on_signal(signum: int, _frame: object) -> None:
        log.info("worker got %s while waiting for Redis: stopping", signal.Signals(signum).name)
        stopped.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield stopped
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _answering_app(settings: Settings, retry: Any, burst: bool) -> Any:
    """The app, once Redis answers a PING; None if a signal stopped the wait first.

    A ``--burst`` worker raises :class:`~helpdesk_kit.errors.RedisUnreachableError` at the
    first silence instead.
    """
    import redis

    from ..app import HelpdeskApp
    from ..errors import RedisUnreachableError

    app = None
    pause = FIRST_WAIT_S
    with _stopped_by_signals() as stopped:
        while not stopped.is_set():
            try:
                if app is None:  # a Cluster with no node answering raises here
                    app = HelpdeskApp.from_settings(settings, retry=retry)
                assert app.redis is not None  # from_settings always wires one
                app.redis.ping()
                return app
            except (RedisUnreachableError, redis.ConnectionError, redis.TimeoutError) as exc:
                reason = f"{type(exc).__name__}: {exc}"
                if app is not None and app.backend is not None:
                    reason = app.backend.notice or reason  # the URL, redacted
                if burst:
                    if app is not None:
                        app.close()
                    raise RedisUnreachableError(f"Redis did not answer, and a --burst worker "
                                                f"does not wait ({reason})") from None
                log.warning("Redis did not answer (%s); trying again in %.1f s (Ctrl-C or "
                            "SIGTERM stops the worker)", reason, pause)
                stopped.wait(pause)
                pause = min(pause * 2, LONGEST_WAIT_S)
    if app is not None:
        app.close()
    return None


# --- worker ------------------------------------------------------------------------------
def _worker(args: argparse.Namespace, settings: Settings) -> int:
    import importlib

    from ..app import helpdesk_queue
    from ..db.sample import SAMPLE_NOW
    from ..queue import RetryPolicy, StreamQueue, Worker

    for module in args.imports:  # each registers its task types in tasks.REGISTRY
        importlib.import_module(module)
    retry = RetryPolicy(args.max_attempts, args.retry_delay)
    app = _answering_app(settings, retry, args.burst)
    if app is None:
        print(json.dumps({"processed": 0}))  # stopped before Redis answered
        return 0
    with app:
        # a private server or fakeredis lives in this process only: nobody else's tasks
        if app.backend is not None and app.backend.kind in (BackendKind.SERVER,
                                                            BackendKind.FAKE):
            log.warning(
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


def _mode_argument(raw: str) -> QueueMode:
    """``--mode``, parsed as ``HELPDESK_QUEUE_MODE`` is (``seed``: the old name of ``pop``)."""
    return parse_queue_mode(raw, "--mode")


@command
def _worker_parser(sub: Subparsers) -> None:
    p = sub.add_parser("worker", help="run queued tasks (long-running; --burst to drain and "
                       "exit); needs REDIS_URL to share a queue with other processes; waits "
                       "for a Redis that does not answer yet (--burst exits instead)")
    p.add_argument("--mode", type=_mode_argument, choices=tuple(QueueMode), default=None,
                   help="default HELPDESK_QUEUE_MODE, else reliable. "
                   "pop: LPOP, a crash loses the task in hand; reliable: "
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
