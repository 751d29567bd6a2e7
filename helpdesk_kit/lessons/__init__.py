"""What every lesson notebook shares: ``setup()``, navigation, output helpers, ``check()``.

``setup`` opens a lesson (its own key prefix and database), ``navigation`` the links between
lessons, ``output`` what a lesson shows (log lines, tables, timings), ``checks`` the
"check yourself" verdicts. Notebooks import from here: ``from helpdesk_kit.lessons import setup``.
"""

from __future__ import annotations

from ..db.sample import SAMPLE_NOW
from .checks import CheckResult, check
from .lesson import Lesson, clean_prefix, lesson_prefix, local_sqld, setup
from .navigation import LESSONS, nav_markdown
from .output import (
    Picture,
    Table,
    capture_logs,
    fmt_seconds,
    median_seconds,
    picture,
    quiet_thread,
    replay_hit_rates,
    short_paths,
    show_logs,
)

__all__ = [
    "LESSONS",
    "SAMPLE_NOW",
    "CheckResult",
    "Lesson",
    "Picture",
    "Table",
    "capture_logs",
    "check",
    "clean_prefix",
    "fmt_seconds",
    "lesson_prefix",
    "local_sqld",
    "median_seconds",
    "nav_markdown",
    "picture",
    "quiet_thread",
    "replay_hit_rates",
    "setup",
    "short_paths",
    "show_logs",
]
