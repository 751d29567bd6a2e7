"""Settings from the environment, with documented defaults and secrets kept out of sight.

Everything that differs between a laptop, Binder, CI and a real deployment comes from an
environment variable read here, once. Tokens and passwords never appear in ``repr()``, in log
lines or in error messages: use :func:`redact_url` whenever a URL is shown.
"""

from __future__ import annotations

import os
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

from .errors import ConfigError

__all__ = ["BackendChoice", "Settings", "default_data_dir", "redact_url"]

BackendChoice = Literal["auto", "url", "server", "fake"]
_BACKENDS: tuple[str, ...] = ("auto", "url", "server", "fake")

#: What each variable means; ``helpdesk-kit doctor`` and the README show this table.
ENVIRONMENT: dict[str, str] = {
    "REDIS_URL": "redis:// or rediss:// URL of a Redis server (default: start a private one)",
    "HELPDESK_REDIS_BACKEND": "auto | url | server | fake (auto: url, else server, else fake)",
    "REDIS_SOCKET_TIMEOUT": "seconds before a Redis call counts as failed (default 2.0)",
    "TURSO_DATABASE_URL": "libsql://, https://, ws:// or file: URL (default: a local file)",
    "TURSO_AUTH_TOKEN": "token for a remote Turso/libSQL database (never printed)",
    "HELPDESK_DATA_DIR": "folder for the local database (default ~/.local/share/helpdesk-kit)",
    "HELPDESK_KEY_PREFIX": "prefix for every Redis key, so a class can share one Redis",
    "HELPDESK_CACHE_TTL": "default cache TTL in seconds (default 300, the seed's EX 300)",
}


def default_data_dir() -> Path:
    """Where the local database lives unless ``HELPDESK_DATA_DIR`` says otherwise (XDG style)."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "helpdesk-kit"


def redact_url(url: str | None) -> str:
    """Return ``url`` with any password or token replaced by ``***`` (safe to print or log)."""
    if not url:
        return ""
    parts = urllib.parse.urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        if ":" in userinfo:  # user:password@host
            netloc = f"{userinfo.split(':', 1)[0]}:***@{host}"
        else:  # redis://TOKEN@host: a lone userinfo is the password in redis URLs
            netloc = f"***@{host}"
    query = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
    safe_query = [
        (k, "***" if k.lower() in {"authtoken", "token", "password"} else v) for k, v in query
    ]
    return urllib.parse.urlunsplit(
        (parts.scheme, netloc, parts.path, urllib.parse.urlencode(safe_query, safe="*"), "")
    )


def _float(env: Mapping[str, str], name: str, default: float, minimum: float) -> float:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from None
    if value < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, got {value}")
    return value


@dataclass(frozen=True)
class Settings:
    """The kit's configuration. Build it with :meth:`from_env`; change it with :meth:`with_`."""

    redis_url: str | None = field(default=None, repr=False)
    redis_backend: BackendChoice = "auto"
    redis_socket_timeout: float = 2.0
    database_url: str | None = field(default=None, repr=False)
    auth_token: str | None = field(default=None, repr=False)
    data_dir: Path = field(default_factory=default_data_dir)
    key_prefix: str = ""
    cache_ttl: int = 300

    def __post_init__(self) -> None:
        if self.redis_backend not in _BACKENDS:
            raise ConfigError(
                f"HELPDESK_REDIS_BACKEND must be one of {', '.join(_BACKENDS)}; "
                f"got {self.redis_backend!r}"
            )
        if self.cache_ttl <= 0:
            raise ConfigError(f"HELPDESK_CACHE_TTL must be a positive number of seconds, "
                              f"got {self.cache_ttl}")

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
            redis_backend=(get("HELPDESK_REDIS_BACKEND") or "auto").lower(),  # type: ignore[arg-type]
            redis_socket_timeout=_float(e, "REDIS_SOCKET_TIMEOUT", 2.0, 0.01),
            database_url=get("TURSO_DATABASE_URL"),
            auth_token=get("TURSO_AUTH_TOKEN"),
            data_dir=Path(data_dir).expanduser() if data_dir else default_data_dir(),
            key_prefix=get("HELPDESK_KEY_PREFIX") or "",
            cache_ttl=int(_float(e, "HELPDESK_CACHE_TTL", 300, 1)),
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
