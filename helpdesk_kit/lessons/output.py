"""What a lesson shows: the kit's log lines, measured durations, hit rates, small tables.

Split out of :mod:`helpdesk_kit.lessons` (which re-exports every name here), so that module
stays about *setting a lesson up*. Everything here is output: deterministic where a stored
notebook needs it (log lines without times), honest where it measures (medians, not means).
"""

from __future__ import annotations

import contextlib
import contextvars
import html
import io
import logging
import os
import re
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # only for the type hint: the app is above this module
    from ..app import HelpdeskApp

__all__ = ["Picture", "Table", "capture_logs", "fmt_seconds", "median_seconds", "picture",
           "quiet_thread", "replay_hit_rates", "short_paths", "show_logs"]


# --- logging: the kit's log lines, readable and deterministic in a notebook ---------------
#: True inside quiet_thread(). A context variable, not a thread-local, so that a thread the
#: kit starts in a copy of its starter's context (a worker's heartbeat) is quiet with it.
_quiet_now: contextvars.ContextVar[bool] = contextvars.ContextVar("helpdesk_quiet", default=False)
_mute_lock = threading.Lock()      # capture_logs() runs in several threads at once


def _quiet() -> bool:
    """Is the thread that logs this record a quiet one? (A handler runs in that thread.)"""
    return _quiet_now.get()


class _NotebookHandler(logging.Handler):
    """Prints ``INFO helpdesk_kit.app: Cache HIT`` (no time) to the *current* ``sys.stdout``."""

    muted = 0  # > 0 while capture_logs() collects the lines for a widget instead

    def emit(self, record: logging.LogRecord) -> None:
        if not _NotebookHandler.muted and not _quiet():
            print(self.format(record), file=sys.stdout)


_handler = _NotebookHandler()
_handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))


def show_logs(on: bool = True) -> None:
    """Print the kit's INFO log lines in the notebook (``setup`` turns this on), or stop."""
    logger = logging.getLogger("helpdesk_kit")
    if not on:
        logger.removeHandler(_handler)
        return
    if _handler not in logger.handlers:
        logger.addHandler(_handler)
    if logger.getEffectiveLevel() > logging.INFO:
        logger.setLevel(logging.INFO)


@contextlib.contextmanager
def capture_logs(name: str = "helpdesk_kit") -> Iterator[list[str]]:
    """Collect the kit's log messages into a list (and keep them out of the notebook).

    Widgets use it so a button click shows ``Cache MISS`` inside the widget, not in some
    other cell's output.
    """
    lines: list[str] = []

    class _Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if not _quiet():  # a quiet background thread's lines belong to no widget
                lines.append(record.getMessage())

    logger = logging.getLogger(name)
    collector = _Collect()
    logger.addHandler(collector)
    previous = logger.level
    if logger.getEffectiveLevel() > logging.INFO:
        logger.setLevel(logging.INFO)
    with _mute_lock:
        _NotebookHandler.muted += 1
    try:
        yield lines
    finally:
        with _mute_lock:
            _NotebookHandler.muted -= 1
        logger.removeHandler(collector)
        logger.setLevel(previous)


@contextlib.contextmanager
def quiet_thread() -> Iterator[None]:
    """Keep the *current thread's* log lines out of the notebook while the ``with`` lasts.

    For background threads: a line they log lands in whichever cell runs at that moment, long
    after any ``capture_logs()`` around their start has ended. Other threads keep printing.
    """
    token = _quiet_now.set(True)
    try:
        yield
    finally:
        _quiet_now.reset(token)


# --- measured numbers: timing and tables -----------------------------------------------
def median_seconds(call: Callable[[], object], repeat: int = 21) -> float:
    """The median of ``repeat`` timed calls: robust when a shared machine is busy."""
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def fmt_seconds(seconds: float) -> str:
    """``0.084 ms``, ``12.3 µs``, ``1.20 s``: a duration in the unit a reader can picture."""
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds * 1e6:.1f} µs"


@dataclass(frozen=True)
class Table:
    """A small table that reads well both as HTML (JupyterLab, GitHub) and as plain text."""

    headers: Sequence[str]
    rows: Sequence[Sequence[object]]
    caption: str = ""

    def _cells(self) -> list[list[str]]:
        return [[str(c) for c in row] for row in self.rows]

    def __repr__(self) -> str:
        cells = self._cells()
        widths = [max([len(h), *(len(r[i]) for r in cells)]) for i, h in enumerate(self.headers)]
        line = "  ".join(h.ljust(w) for h, w in zip(self.headers, widths, strict=True))
        lines = [self.caption] if self.caption else []
        lines += [line, "  ".join("-" * w for w in widths)]
        lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in cells]
        return "\n".join(line.rstrip() for line in lines)

    def _repr_html_(self) -> str:
        head = "".join(f"<th>{html.escape(h)}</th>" for h in self.headers)
        body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>"
                       for r in self._cells())
        caption = f"<caption>{html.escape(self.caption)}</caption>" if self.caption else ""
        return f"<table>{caption}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def replay_hit_rates(app: HelpdeskApp, reads: list[int], window: int, *,
                     before_window: Callable[[int, int], None] | None = None) -> list[float]:
    """Replay ticket reads through ``app``; the cache hit rate of each window of ``window`` reads.

    The last window may be shorter; its rate is over the reads it has. ``before_window(number,
    first_ticket_id)`` runs before each window (lesson 03 invalidates there). Log lines are
    collected, not printed.
    """
    if window < 1:
        raise ValueError(f"window must be at least 1 read, got {window}")
    if app.cache is None:
        raise ValueError("the app has no cache: there is no hit rate to measure")
    rates = []
    with capture_logs():
        for number, start in enumerate(range(0, len(reads), window)):
            if before_window is not None:
                before_window(number, reads[start])
            chunk = reads[start:start + window]
            hits_before = app.cache.total_stats().hits
            for ticket_id in chunk:
                app.get_ticket(ticket_id)
            rates.append((app.cache.total_stats().hits - hits_before) / len(chunk))
    return rates


# --- figures: a real image in the notebook, live and stored -------------------------------
class Picture:
    """A matplotlib figure shown as a PNG image, with a short fixed text beside it.

    A bare ``matplotlib.figure.Figure`` (built without pyplot, as the widgets do) displays as
    the text ``<Figure size ...>`` in a kernel where pyplot was never imported: no image at
    all. This wrapper gives Jupyter the PNG itself (``image/png``), and a ``text/plain`` that
    names the plot, so a stored notebook always holds the picture.
    """

    def __init__(self, figure: Any, title: str = "") -> None:
        self.figure = figure
        self.title = title or _title_of(figure)

    def _repr_png_(self) -> bytes:
        buffer = io.BytesIO()
        self.figure.savefig(buffer, format="png", bbox_inches="tight")
        return buffer.getvalue()

    def __repr__(self) -> str:
        return f"[plot: {self.title}]" if self.title else "[plot]"


def _title_of(figure: Any) -> str:
    titles = [ax.get_title() for ax in getattr(figure, "axes", []) if ax.get_title()]
    return "; ".join(titles)


def picture(figure: Any, title: str = "") -> Picture:
    """Show ``figure`` as an image in a notebook cell: ``picture(latency_plot(samples))``."""
    return Picture(figure, title)


# --- paths: what a learner needs to read, not this machine's layout -----------------------
def short_paths(text: object) -> str:
    """``text`` with the home folder as ``~`` and the temporary folder as ``$TMPDIR``.

    ``doctor`` names real paths (the database file, a private server's socket); in a notebook
    that is shared, or stored in git, ``/home/ana/...`` says nothing useful and tells who ran
    it. ``~/.local/share/...`` reads the same on every machine.
    """
    shown = str(text)
    temp = os.path.realpath(tempfile.gettempdir())
    for folder in {temp, tempfile.gettempdir()}:
        shown = re.sub(re.escape(folder.rstrip("/")) + r"(?=/)", "$TMPDIR", shown)
    home = str(Path.home()).rstrip("/")
    if home and home != "/":
        shown = re.sub(re.escape(home) + r"(?=/|\b)", "~", shown)
    return shown
