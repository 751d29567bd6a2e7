"""A throwaway redis-server that speaks only TLS: the stand-in for Upstash's ``rediss://``.

The design's Redis is Upstash, reached over TLS with a password. Testing that path against a plain
server proves nothing about certificates, so this starts a real ``redis-server`` whose only port
is a TLS port (``--port 0``), with a self-signed certificate made by ``openssl`` for this run.

Ports are picked free (a bind to port 0) and can still be taken by someone else before the server
binds them; :meth:`TlsRedis.start` then tries another port. Any other failure to start means this
machine cannot run a TLS Redis, reported as :class:`TlsUnavailable` so the fixture can skip (or,
in CI, fail) with the reason.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import redis

from helpdesk_kit.backends import fail_fast_retry
from helpdesk_kit.db.sqld import free_port
from helpdesk_kit.processes import stop_process

__all__ = ["Certificate", "TlsRedis", "TlsUnavailable", "make_certificate"]

#: What redis-server logs when the port was taken between ``free_port()`` and its bind.
_PORT_TAKEN = "Address already in use"


class TlsUnavailable(Exception):
    """openssl or a TLS-capable redis-server is missing here (the message says which and why)."""


@dataclass(frozen=True)
class Certificate:
    """A self-signed certificate (it is its own CA) and its private key, as PEM files."""

    cert: Path
    key: Path


def make_certificate(folder: Path, name: str = "server") -> Certificate:
    """A one-day self-signed certificate for ``localhost`` and ``127.0.0.1``, made by openssl.

    Both names are in subjectAltName because clients check the host name there, not in the CN.
    """
    openssl = shutil.which("openssl")
    if openssl is None:
        raise TlsUnavailable("openssl is not on PATH (apt-get install openssl)")
    folder.mkdir(parents=True, exist_ok=True)
    result = Certificate(folder / f"{name}-cert.pem", folder / f"{name}-key.pem")
    done = subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(result.key),
         "-out", str(result.cert), "-days", "1", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
        capture_output=True, text=True, timeout=60, check=False,
    )
    if done.returncode != 0:
        raise TlsUnavailable(f"openssl could not make a certificate: {done.stderr.strip()[-500:]}")
    return result


class TlsRedis:
    """``redis-server`` on ``127.0.0.1:<free port>``, TLS only, requiring ``password``.

    ``folder`` holds its log and working directory; the caller owns (and removes) it.
    Clients need not present a certificate (``--tls-auth-clients no``), as with Upstash.
    """

    def __init__(self, folder: Path, certificate: Certificate, password: str,
                 binary: str = "redis-server") -> None:
        self.folder = folder
        self.certificate = certificate
        self.password = password
        self.binary = binary
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None

    def url(self, ca: Path | None = None, password: str | None = None) -> str:
        """``rediss://:PASSWORD@127.0.0.1:PORT/0?ssl_ca_certs=CA`` (defaults: ours)."""
        secret = self.password if password is None else password
        userinfo = f":{secret}@" if secret else ""
        return (f"rediss://{userinfo}127.0.0.1:{self.port}/0"
                f"?ssl_ca_certs={ca or self.certificate.cert}")

    def client(self, timeout: float = 2.0) -> redis.Redis:
        """A client that trusts our certificate and fails fast (the readiness probe polls)."""
        return redis.Redis.from_url(self.url(), decode_responses=True, socket_timeout=timeout,
                                    socket_connect_timeout=timeout, retry=fail_fast_retry())

    def start(self, attempts: int = 5, timeout: float = 5.0,
              pick_port: Callable[[], int] = free_port) -> TlsRedis:
        """Start on a free port and wait for a TLS PING; another port if that one got taken."""
        for _ in range(attempts):
            self.port = pick_port()
            log = self.folder / f"redis-{self.port}.log"
            with log.open("wb") as out:
                self.process = subprocess.Popen(
                    [self.binary, "--port", "0", "--bind", "127.0.0.1",
                     "--tls-port", str(self.port),
                     "--tls-cert-file", str(self.certificate.cert),
                     "--tls-key-file", str(self.certificate.key),
                     "--tls-ca-cert-file", str(self.certificate.cert),
                     "--tls-auth-clients", "no", "--save", "", "--appendonly", "no",
                     "--requirepass", self.password, "--dir", str(self.folder)],
                    stdout=out, stderr=subprocess.STDOUT, cwd=self.folder,
                )
            try:
                if self._wait_until_ready(timeout):
                    return self
            except BaseException:
                self.stop()
                raise
            text = log.read_text(errors="replace")
            self.stop()
            if _PORT_TAKEN not in text:  # not a race we can win by retrying
                raise TlsUnavailable(f"redis-server exited at start: {text.strip()[-500:]}")
        raise TlsUnavailable(f"redis-server found no free port in {attempts} attempts")

    def _wait_until_ready(self, timeout: float) -> bool:
        """True once a TLS PING is answered; False if the server exited (the log says why)."""
        assert self.process is not None
        deadline = time.monotonic() + timeout
        probe = self.client(timeout=0.25)
        try:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    return False
                try:
                    if probe.ping():
                        return True
                except (redis.ConnectionError, redis.TimeoutError):
                    # Refused: not listening yet. Timeout: someone else holds the port (a
                    # listener that never does TLS); the next poll sees our server exit.
                    time.sleep(0.01)
        finally:
            probe.close()
        log = (self.folder / f"redis-{self.port}.log").read_text(errors="replace")
        raise TlsUnavailable(f"redis-server did not answer TLS within {timeout} s: "
                             f"{log.strip()[-500:]}")

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL); the folder stays for the caller."""
        stop_process(self.process)
        self.process = None
