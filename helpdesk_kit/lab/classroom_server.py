"""The class's Redis and how people reach it: a private class server, URLs and env files.

For a classroom with no Redis yet, :class:`ClassServer` runs ``redis-server`` bound to one
address the instructor chooses (default 127.0.0.1), protected mode on, TLS if given, and a
password for the instructor's ``default`` user. Redis ignores ``requirepass`` once it keeps
its users in an ACL file (``default`` would come up *without* a password), so the password
goes into that file as a SHA-256 hash, beside the learners that ``ACL SAVE`` writes there:
a restarted class server still knows its learners. The password itself is in
``instructor.password`` and ``instructor.env`` (both mode 0600, reused on a restart); the
command line and the config hold no secret (``ps`` shows both to every local user).

Keys are not persisted (caches and queues; a restart starts them empty).

Memory is shared too, and Redis has no quota per user: one learner's loop of SETs could fill
the machine. So the class server has a ``maxmemory`` (default :data:`MAXMEMORY`) and the
policy :data:`POLICY`, ``volatile-lru``: when full, Redis evicts the least recently used keys
*that have a TTL* - cache entries, anybody's - and never a key without one (queues, dead
letters, the class roster). If only keys without a TTL are left, writes answer ``OOM`` for
everyone until the instructor frees memory (``classroom list`` shows who holds it;
``classroom reset NAME`` deletes their keys).
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import shlex
import subprocess
import tempfile
import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

import redis

from ..backends import fail_fast_retry
from ..backends.binaries import KIT_SERVER, embedded_server, server_program
from ..config import redact_url
from ..errors import InputError, RedisBackendError
from ..processes import stop_process
from ..vocab import EvictionPolicy

__all__ = ["MAXMEMORY", "POLICY", "ClassServer", "TlsOptions", "learner_url", "maxmemory_size",
           "write_env_file"]

#: The class server's ``maxmemory`` unless ``--maxmemory`` says otherwise.
MAXMEMORY = "256mb"
#: Evict only keys with a TTL (caches), never queues or the roster: see the module docstring.
POLICY = EvictionPolicy.VOLATILE_LRU
_SIZE = re.compile(r"[1-9][0-9]*(b|k|kb|m|mb|g|gb)?", re.IGNORECASE)

_PORT_TAKEN = "Address already in use"
#: Where the instructor connects when the server listens on every interface.
_WILDCARDS = {"0.0.0.0": "127.0.0.1", "::": "::1", "*": "127.0.0.1"}  # noqa: S104


def learner_url(instructor_url: str, name: str, password: str, host: str | None = None) -> str:
    """The instructor's URL with the learner's user and password (and ``host`` if given).

    Scheme, port, database and TLS options (``?ssl_ca_certs=``) stay; a ``password=`` or
    ``username=`` option is dropped. ``host`` (``192.168.1.10`` or ``host:port``; the port
    stays the instructor's unless given) is the address learners reach when the instructor
    connects another way (127.0.0.1).
    """
    parts = urllib.parse.urlsplit(instructor_url)
    address = parts.netloc.rsplit("@", 1)[-1]
    if host:
        has_port = host.rsplit("]", 1)[-1].count(":") == 1  # "[::1]:6379", "h:6379"
        address = host if has_port or parts.port is None else f"{host}:{parts.port}"
    query = "&".join(p for p in parts.query.split("&")
                     if p and p.split("=", 1)[0].lower() not in ("password", "username"))
    return urllib.parse.urlunsplit((parts.scheme, f"{name}:{password}@{address}", parts.path,
                                    query, ""))


def maxmemory_size(text: str) -> str:
    """``text`` if redis.conf takes it as a ``maxmemory`` (``256mb``, ``1gb``, ``500000``);
    InputError otherwise (0, "no limit", is not offered: a class needs one)."""
    if not _SIZE.fullmatch(text.strip()):
        raise InputError(f"--maxmemory must be a size such as 256mb or 1gb, got {text!r}")
    return text.strip().lower()


def write_env_file(path: Path, values: dict[str, str], comment: str) -> Path:
    """Write ``KEY=value`` lines to ``path``, mode 0600 from the first byte (then renamed in).

    Values are quoted for a shell only where needed (``shlex.quote``), so the file loads with
    ``set -a; . ./FILE; set +a`` and, in the usual case of no quotes, with Docker's
    ``--env-file`` too.
    """
    text = "".join(f"# {line}\n" for line in comment.splitlines())
    text += "".join(f"{key}={shlex.quote(value)}\n" for key, value in values.items())
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")  # 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    path.chmod(0o600)
    return path


@dataclass(frozen=True)
class TlsOptions:
    """PEM files for a TLS-only class server; learners' URLs then name ``ca`` (copy it too)."""

    cert: Path
    key: Path
    ca: Path


def _private_write(path: Path, text: str) -> Path:
    """Write ``text`` to ``path`` readable by this user only (0600, even if it existed)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        os.fchmod(out.fileno(), 0o600)
        out.write(text)
    return path


def _quoted(path: Path) -> str:
    """A path as a redis.conf string (double quotes; backslash and quote escaped)."""
    text = str(path.resolve()).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{text}"'


class ClassServer:
    """``redis-server`` for a class, its files in ``folder`` (kept after it stops).

    ``bind`` is one address (``0.0.0.0`` for every interface of this machine); ``port`` is
    plain TCP, or TLS-only when ``tls`` is given; ``maxmemory`` and ``policy`` bound what the
    class may hold (see the module docstring). ``url()`` is the instructor's URL, password
    included: never print it (``redact_url``); ``repr()`` never shows it.
    """

    def __init__(self, folder: Path, *, bind: str = "127.0.0.1", port: int = 6379,
                 tls: TlsOptions | None = None, binary: str = KIT_SERVER,
                 maxmemory: str = MAXMEMORY, policy: EvictionPolicy = POLICY) -> None:
        found = server_program(binary)
        if tls is not None and found == embedded_server():
            raise RedisBackendError("TLS needs redis-server (Debian/Ubuntu: apt-get install "
                                    "redis-server; macOS: brew install redis): the embedded "
                                    "Valkey server is built without TLS")
        if not 0 < port < 65536:
            raise RedisBackendError(f"--port must be a TCP port (1-65535), got {port}")
        self.binary = found
        self.folder = folder
        self.bind = bind
        self.port = port
        self.tls = tls
        self.maxmemory = maxmemory_size(maxmemory)
        self.policy = EvictionPolicy(policy)
        self.process: subprocess.Popen[bytes] | None = None
        self._secret: str | None = None

    def __repr__(self) -> str:
        return f"ClassServer(bind={self.bind!r}, port={self.port}, folder={str(self.folder)!r})"

    # --- files ---------------------------------------------------------------------------
    @property
    def password_file(self) -> Path:
        return self.folder / "instructor.password"

    @property
    def instructor_env(self) -> Path:
        """``instructor.env``: REDIS_URL for the instructor's ``default`` user (0600)."""
        return self.folder / "instructor.env"

    @property
    def log_file(self) -> Path:
        return self.folder / "redis.log"

    def _password(self) -> str:
        """The instructor's password: the one saved before (a restart), else a new one."""
        if self._secret is None and self.password_file.exists():
            self.password_file.chmod(0o600)
            self._secret = self.password_file.read_text(encoding="utf-8").strip() or None
        if self._secret is None:
            self._secret = secrets.token_urlsafe(24)
            _private_write(self.password_file, self._secret + "\n")
        return self._secret

    def _write_acl_file(self, password: str) -> Path:
        """``users.acl``: the default user (hashed password) plus any saved learners."""
        path = self.folder / "users.acl"
        digest = hashlib.sha256(password.encode()).hexdigest()
        kept = []
        if path.exists():
            kept = [line for line in path.read_text(encoding="utf-8").splitlines()
                    if line.strip() and not line.startswith("user default ")]
        return _private_write(path, "\n".join([f"user default on #{digest} ~* &* +@all",
                                                *kept]) + "\n")

    def _write_config(self, acl_file: Path) -> Path:
        if self.tls is None:
            listen = [f"port {self.port}"]
        else:
            listen = ["port 0", f"tls-port {self.port}", f"tls-cert-file {_quoted(self.tls.cert)}",
                      f"tls-key-file {_quoted(self.tls.key)}",
                      f"tls-ca-cert-file {_quoted(self.tls.ca)}", "tls-auth-clients no"]
        lines = [f"bind {self.bind}", *listen, "protected-mode yes",
                 f"aclfile {_quoted(acl_file)}", f"dir {_quoted(self.folder)}",
                 'save ""', "appendonly no", "daemonize no", "enable-debug-command no",
                 "enable-module-command no",
                 f"maxmemory {self.maxmemory}", f"maxmemory-policy {self.policy}",
                 # Each learner's connect logs its probes (context multi) in ACL LOG: room
                 # enough that a class's real refusals are not pushed out (default 128).
                 "acllog-max-len 2048"]
        return _private_write(self.folder / "redis.conf", "\n".join(lines) + "\n")

    # --- the instructor's connection -----------------------------------------------------
    def _host(self) -> str:
        host = _WILDCARDS.get(self.bind, self.bind)
        return f"[{host}]" if ":" in host else host

    def url(self) -> str:
        """``redis://default:PASSWORD@HOST:PORT/0`` (``rediss://...?ssl_ca_certs=`` for TLS)."""
        password = self._password()
        if self.tls is None:
            return f"redis://default:{password}@{self._host()}:{self.port}/0"
        ca = urllib.parse.quote(str(self.tls.ca.resolve()))
        return f"rediss://default:{password}@{self._host()}:{self.port}/0?ssl_ca_certs={ca}"

    def client(self, timeout: float = 2.0) -> redis.Redis:
        return redis.Redis.from_url(self.url(), decode_responses=True, socket_timeout=timeout,
                                    socket_connect_timeout=timeout, retry=fail_fast_retry())

    # --- running -------------------------------------------------------------------------
    def start(self, timeout: float = 10.0) -> ClassServer:
        """Write the files, start the server, wait for an authenticated PING."""
        self.folder.mkdir(parents=True, exist_ok=True)
        self.folder.chmod(0o700)
        password = self._password()
        config = self._write_config(self._write_acl_file(password))
        write_env_file(self.instructor_env, {"REDIS_URL": self.url(),
                                             "HELPDESK_REDIS_BACKEND": "url"},
                       "helpdesk-kit classroom serve: the instructor's connection (the "
                       "default user). Private: mode 0600.\nLoad it: set -a; . ./instructor.env;"
                       " set +a")
        _private_write(self.log_file, "")  # client addresses are nobody else's business
        with self.log_file.open("wb") as log:  # its log, and a config error, land here
            self.process = subprocess.Popen([self.binary, str(config)], cwd=self.folder,
                                            stdout=log, stderr=subprocess.STDOUT)
        try:
            self._wait_until_ready(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _log_tail(self) -> str:
        try:
            return self.log_file.read_text(errors="replace").strip()[-500:]
        except OSError:
            return ""

    def _wait_until_ready(self, timeout: float) -> None:
        assert self.process is not None
        deadline = time.monotonic() + timeout
        with self.client(timeout=0.5) as probe:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    log = self._log_tail()
                    if _PORT_TAKEN in log:
                        raise RedisBackendError(f"{self.bind}:{self.port} is taken by another "
                                                "program: choose another --port")
                    raise RedisBackendError(f"redis-server exited at start: {log}")
                try:
                    if probe.ping():
                        return
                except (redis.ConnectionError, redis.TimeoutError):
                    time.sleep(0.02)
        raise RedisBackendError(f"the class Redis did not answer within {timeout} s at "
                                f"{redact_url(self.url())}: {self._log_tail()}")

    def wait(self) -> int:
        """Block until the server exits (Ctrl-C interrupts the wait); its exit code."""
        assert self.process is not None
        return self.process.wait()

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL); the folder and its files stay."""
        stop_process(self.process)
        self.process = None
