"""One call gives a Redis client, and says which Redis it is and what it can do.

Choice, in order (``HELPDESK_REDIS_BACKEND=auto``):

1. ``url``    - ``REDIS_URL`` is set: that server (``redis://``, ``rediss://``, with password).
2. ``server`` - a ``redis-server`` binary is on PATH: a private server on a unix socket in a
   temporary folder, no persistence, stopped when this Python process exits.
3. ``fake``   - fakeredis, in this process: zero setup, but no INFO, CONFIG or evictions.

Set ``HELPDESK_REDIS_BACKEND`` (or pass ``prefer=``) to force one. Clients decode responses to
``str``: every value the kit stores is JSON text, and readable text is what a lesson shows.
"""

from __future__ import annotations

import logging
import shutil
import ssl
import urllib.parse
from collections.abc import Iterator
from typing import Any

import redis

from ..config import BackendChoice, Settings, redact_url
from ..errors import RedisBackendError
from ..vocab import BackendKind
from .client import Backend, fail_fast_retry, probe
from .server import RedisServer

__all__ = ["FAKEREDIS_NOTICE", "connect"]

log = logging.getLogger(__name__)

FAKEREDIS_NOTICE = (
    "Using fakeredis (in-process): caching and queues work, but INFO memory/stats, "
    "CONFIG maxmemory and evictions need a real redis-server."
)


_private_server: RedisServer | None = None
_fake_server: Any = None


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and what it wraps: redis-py raises its ConnectionError *while handling* the
    ``ssl`` or ``OSError`` that says what really happened, so that error is the context."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _redis_hint(exc: Exception, url: str) -> str:
    """What to do about a failed connection, in the learner's terms."""
    tls = urllib.parse.urlsplit(url).scheme == "rediss"
    causes = list(_causes(exc))
    if isinstance(exc, redis.AuthenticationError):
        return "the server refused the password (or wants one): check the password in REDIS_URL"
    if isinstance(exc, ValueError):
        return "REDIS_URL must start with redis://, rediss:// or unix://"
    # TLS first: redis-py reports each of these as a plain ConnectionError.
    if any(isinstance(c, ssl.SSLCertVerificationError) for c in causes):
        return ("TLS certificate verify failed: the server's certificate is not signed by a CA "
                "this client trusts, or names another host; point ssl_ca_certs= in REDIS_URL "
                "at the CA file that signed it")
    if any(isinstance(c, ssl.SSLError) for c in causes):
        return "the TLS handshake failed: does this port speak TLS? (rediss:// needs it)"
    if tls and any(isinstance(c, FileNotFoundError) for c in causes):
        return "a TLS file named in REDIS_URL (ssl_ca_certs, ssl_certfile, ssl_keyfile) is missing"
    if not tls and any(isinstance(c, ConnectionResetError) for c in causes):
        # A TLS-only server (Upstash is one) drops a plain-text client at once.
        return "the server dropped the connection: if it only speaks TLS, use rediss://"
    if isinstance(exc, redis.TimeoutError):
        if tls:  # a plain port never answers a TLS hello: it waits for a newline
            return ("no answer within REDIS_SOCKET_TIMEOUT: is the host right, is a firewall in "
                    "the way, does this port speak TLS (rediss://) or plain text (redis://)?")
        return "no answer within REDIS_SOCKET_TIMEOUT: is the host right, is a firewall in the way?"
    if isinstance(exc, redis.ConnectionError):
        return "cannot connect: is the server running, are the host and port right?"
    return "the server answered, but not as a usable Redis"


def _connect_url(url: str, timeout: float) -> Backend:
    client: redis.Redis | None = None
    try:
        client = redis.Redis.from_url(
            url, decode_responses=True, socket_timeout=timeout, socket_connect_timeout=timeout,
            retry=fail_fast_retry(),
        )
        client.ping()
        caps = probe(client)
    except (ValueError, redis.RedisError) as exc:
        if client is not None:
            client.close()
        reason = str(exc).replace(url, redact_url(url))
        password = urllib.parse.urlsplit(url).password
        if password:
            reason = reason.replace(password, "***")
        raise RedisBackendError(
            f"Cannot use REDIS_URL={redact_url(url)}: {_redis_hint(exc, url)} "
            f"({type(exc).__name__}: {' '.join(reason.split())})"
        ) from None
    return Backend(client, BackendKind.URL, f"Redis at {redact_url(url)}", caps)


def _connect_server(timeout: float) -> Backend:
    global _private_server
    if _private_server is None or _private_server.process is None:
        _private_server = RedisServer().start()
    client = _private_server.client(socket_timeout=timeout)
    try:
        caps = probe(client)
    except redis.RedisError as exc:
        client.close()
        raise RedisBackendError(
            f"the private redis-server at {_private_server.url} stopped answering "
            f"({type(exc).__name__}: {exc})"
        ) from exc
    return Backend(
        client, BackendKind.SERVER,
        f"private redis-server {caps.server_version} at {_private_server.url}", caps,
    )


def _connect_fake() -> Backend:
    global _fake_server
    import fakeredis  # imported late: only the fallback needs it

    if _fake_server is None:
        _fake_server = fakeredis.FakeServer()
    client = fakeredis.FakeRedis(server=_fake_server, decode_responses=True)
    return Backend(client, BackendKind.FAKE, "fakeredis (in-process)", probe(client),
                   FAKEREDIS_NOTICE)


def connect(settings: Settings | None = None, prefer: BackendChoice | None = None) -> Backend:
    """Return a connected :class:`Backend` following the order in the module docstring.

    In one process, repeated calls share the same private server (or fake server), so the
    app, the worker and a notebook's widgets all see the same data.
    """
    settings = settings or Settings.from_env()
    choice = prefer or settings.redis_backend
    if choice == "url" or (choice == "auto" and settings.redis_url):
        if not settings.redis_url:
            raise RedisBackendError("HELPDESK_REDIS_BACKEND=url needs REDIS_URL to be set")
        return _connect_url(settings.redis_url, settings.redis_socket_timeout)
    if choice == "server" or (choice == "auto" and shutil.which("redis-server")):
        return _connect_server(settings.redis_socket_timeout)
    backend = _connect_fake()
    if choice == "auto":  # a fallback the learner did not ask for: say so, in one line
        log.warning(FAKEREDIS_NOTICE)
    return backend
