"""What every lesson notebook shares: ``setup()``, navigation, output helpers, ``check()``.

``setup`` opens a lesson (its own key prefix and database, and the ``%%redis`` magic,
:mod:`.magic`), ``navigation`` the links between lessons, ``output`` what a lesson shows (log
lines, tables, timings), ``roundtrips`` a client that counts its round trips, ``checks`` the
"check yourself" verdicts and quizzes. The learner's own helpdesk: ``conformance`` (what each
piece must do), ``workbook`` (``my_helpdesk.py``), ``helpdesk`` (checking and loading the
pieces) and ``assembly`` (the app on them). ``exercises/lessonNN.py`` holds each lesson's
exercise and quizzes. Notebooks import from here: ``from helpdesk_kit.lessons import setup``.
How to write a lesson on all this: ``notebooks/AUTHORING.md``.
"""

from __future__ import annotations

from ..db.sample import SAMPLE_NOW
from .checks import CheckResult, Quiz, check
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
from .roundtrips import RoundTrips, counting_client

__all__ = [
    "LESSONS",
    "SAMPLE_NOW",
    "CheckResult",
    "Lesson",
    "Picture",
    "Quiz",
    "RoundTrips",
    "Table",
    "capture_logs",
    "check",
    "clean_prefix",
    "counting_client",
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
