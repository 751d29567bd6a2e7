"""The design's ``GET /api/metrics`` route, served by the standard library on 127.0.0.1.

``helpdesk-kit serve`` runs it. Two paths answer:

- ``/api/metrics``: the design's JSON (``{"redis": {"keys", "queue_length", "memory": {...}}}``)
  extended with the rest of the snapshot, see :meth:`~helpdesk_kit.metrics.Snapshot.to_api_json`;
- ``/metrics``: the same numbers as Prometheus text (:mod:`~helpdesk_kit.metrics.prometheus`).

Anything else is a 404. When Redis does not answer, ``/api/metrics`` replies HTTP 503 with a
JSON reason, and ``/metrics`` replies 200 with ``redis_up 0``, as redis_exporter does: the
scrape itself worked, and an alert on ``redis_up == 0`` is how Prometheus learns Redis is down
(a failed scrape would only say the exporter is). Either way the server keeps running: a
monitoring endpoint must outlive what it monitors - and must start without it: given a
*factory* instead of a collector (Redis did not answer at start, and no client could be made
yet: a Cluster none of whose named nodes answers), each request tries the factory again and
answers "Redis down" until one works. Error texts go through :func:`redacted`
first, so a password in ``REDIS_URL`` never reaches a reply or a log line.
It binds to 127.0.0.1 only: the numbers describe a teaching machine and have no login.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import traceback
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import redis

from ..config import redact_url
from ..errors import HelpdeskError
from .prometheus import CONTENT_TYPE, redis_down, to_prometheus
from .snapshot import MetricsCollector
from .sources import redis_db

__all__ = ["DEFAULT_PORT", "PATHS", "CollectorFactory", "MetricsServer", "make_server",
           "redacted", "serve_in_thread"]

#: ``helpdesk-kit serve`` listens here unless ``--port`` says otherwise (redis_exporter's
#: 9121 is left free, so both can run side by side).
DEFAULT_PORT = 9188
HOST = "127.0.0.1"
#: The paths that answer; anything else is a 404.
PATHS = ("/api/metrics", "/metrics")
log = logging.getLogger(__name__)
_URL = re.compile(r"\b[a-z][a-z0-9+.-]*://\S+", re.IGNORECASE)


def redacted(text: str, client: redis.Redis | None) -> str:
    """``text`` without the client's password: URLs in it redacted, the password itself too.

    redis-py's own messages name the host, not the password; but an error may quote the URL
    it was given, and the kit's messages (``RedisBackendError``) quote what they catch.
    """
    text = _URL.sub(lambda match: redact_url(match.group(0)), text)
    pool = getattr(client, "connection_pool", None)  # a Cluster client has none of its own
    password = pool.connection_kwargs.get("password") if pool is not None else None
    return text.replace(str(password), "***") if password else text


#: Makes a collector, or raises (RedisBackendError) while Redis cannot be reached at all.
CollectorFactory = Callable[[], MetricsCollector]


class MetricsServer(ThreadingHTTPServer):
    """An HTTP server that owns a :class:`MetricsCollector` (the handler reads it), or a
    :data:`CollectorFactory` to make one on the first request that can."""

    daemon_threads = True

    def __init__(self, collector: MetricsCollector | CollectorFactory,
                 port: int = DEFAULT_PORT, host: str = HOST) -> None:
        self.collector: MetricsCollector | None = None
        self._factory: CollectorFactory | None = None
        if isinstance(collector, MetricsCollector):
            self.collector = collector
        else:
            self._factory = collector
        self._making = threading.Lock()
        self.host = host
        super().__init__((host, port), _Handler)

    def current_collector(self) -> MetricsCollector:
        """The collector; made now if it was not yet (raises while Redis is unreachable)."""
        with self._making:
            if self.collector is None:
                assert self._factory is not None  # one of the two was given
                self.collector = self._factory()
            return self.collector

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.server_port}"  # server_port: the bound one, for 0


class _Handler(BaseHTTPRequestHandler):
    server: MetricsServer

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0].rstrip("/") or "/"
        if path not in PATHS:
            self._send_json(HTTPStatus.NOT_FOUND,
                            {"error": f"no such path: {path}", "paths": list(PATHS)})
            return
        client = None
        try:
            collector = self.server.current_collector()
            client = collector.client
            snap = collector.snapshot()
        except (HelpdeskError, redis.RedisError) as exc:
            detail = redacted(str(exc), client)
            log.warning("metrics: Redis did not answer: %s", detail)
            if path == "/metrics":  # the scrape worked; redis_up 0 says what did not
                self._send(HTTPStatus.OK, CONTENT_TYPE, redis_down(detail).encode())
            else:
                self._send_json(HTTPStatus.SERVICE_UNAVAILABLE,
                                {"error": "Redis is unavailable", "detail": detail})
            return
        except Exception as exc:  # a bug must not kill the endpoint; say what happened
            error = redacted(f"{type(exc).__name__}: {exc}", client)
            # The frames, not log.exception: its last line repeats the message unredacted.
            log.error("metrics: snapshot failed: %s\n%s", error,
                      "".join(traceback.format_tb(exc.__traceback__)))
            self._send_json(HTTPStatus.INTERNAL_SERVER_ERROR, {"error": error})
            return
        if path == "/metrics":
            self._send(HTTPStatus.OK, CONTENT_TYPE,
                       to_prometheus(snap, redis_db(collector.client)).encode())
        else:
            self._send_json(HTTPStatus.OK, snap.to_api_json())

    def _send_json(self, status: HTTPStatus, body: dict[str, Any]) -> None:
        self._send(status, "application/json",
                   json.dumps(body, ensure_ascii=False).encode("utf-8"))

    def _send(self, status: HTTPStatus, content_type: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        log.info("%s %s", self.address_string(), format % args)


def make_server(collector: MetricsCollector | CollectorFactory, port: int = DEFAULT_PORT
                ) -> MetricsServer:
    """A bound server on 127.0.0.1:``port`` (0 = any free port); call ``serve_forever()``."""
    return MetricsServer(collector, port)


def serve_in_thread(collector: MetricsCollector, port: int = 0
                    ) -> tuple[MetricsServer, threading.Thread]:
    """Start a server in a background thread (notebooks, tests); stop it with ``shutdown()``."""
    server = make_server(collector, port)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              name="helpdesk-metrics", daemon=True)
    thread.start()
    return server, thread
