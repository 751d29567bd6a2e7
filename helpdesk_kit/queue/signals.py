"""SIGTERM and SIGINT as a polite stop: finish the task in hand, hand the rest back, exit.

A worker under a process manager (systemd, Docker, a terminal's Ctrl-C) is told to stop with a
signal. Python lets only the main thread install handlers, so a worker running in another
thread (a notebook's background worker) leaves them alone and is stopped with ``stop()``.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

__all__ = ["stop_on_signals"]

log = logging.getLogger("helpdesk_kit.worker")


@contextmanager
def stop_on_signals(enabled: bool, stop: Callable[[], None], who: str) -> Iterator[None]:
    """While the block runs, SIGTERM/SIGINT call ``stop()`` (main thread only); the previous
    handlers come back afterwards. ``who`` names the worker in the log line."""
    if not enabled or threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_signal(signum: int, _frame: object) -> None:
        log.info("worker %s got %s: finishing the current task", who,
                 signal.Signals(signum).name)
        stop()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
