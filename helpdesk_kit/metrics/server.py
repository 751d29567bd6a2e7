"""The seed's ``GET /api/metrics`` route, served by the standard library on 127.0.0.1.

``helpdesk-kit serve`` runs it. Two paths answer:

- ``/api/metrics``: the seed's JSON (``{"redis": {"keys", "queue_length", "memory": {...}}}``)
  extended with the rest of the snapshot, see :meth:`~helpdesk_kit.metrics.Snapshot.to_api_json`;
- ``/metrics``: the same numbers as Prometheus text (:mod:`helpdesk_kit.prometheus`).

Anything else is a 404. When Redis does not answer, the reply is HTTP 503 with a JSON error and
the server keeps running: a monitoring endpoint must outlive what it monitors.
It binds to 127.0.0.1 only: the numbers describe a teaching machine and have no login.
"""

from __future__ import annotations

import json
import logging
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import redis

from ..errors import HelpdeskError
from .prometheus import CONTENT_TYPE, to_prometheus
from .snapshot import MetricsCollector
from .sources import redis_db

__all__ = ["DEFAULT_PORT", "MetricsServer", "make_server", "serve_in_thread"]

#: ``helpdesk-kit serve`` listens here unless ``--port`` says otherwise (redis_exporter's
#: 9121 is left free, so both can run side by side).
DEFAULT_PORT = 9188
HOST = "127.0.0.1"
log = logging.getLogger(__name__)


class MetricsServer(ThreadingHTTPServer):
    """An HTTP server that owns a :class:`MetricsCollector` (the handler reads it)."""

    daemon_threads = True

    def __init__(self, collector: MetricsCollector, port: int = DEFAULT_PORT,
                 host: str = HOST) -> None:
        self.collector = collector
        super().__init__((host, port), _Handler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"


class _Handler(BaseHTTPRequestHandler):
    server: MetricsServer

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0].rstrip("/") or "/"
        if path not in ("/api/metrics", "/metrics"):
            self._send_json(HTTPStatus.NOT_FOUND,
                            {"error": f"no such path: {path}",
                             "paths": ["/api/metrics", "/metrics"]})
            return
        try:
            snap = self.server.collector.snapshot()
        except (HelpdeskError, redis.RedisError) as exc:
            log.warning("metrics: Redis did not answer: %s", exc)
            self._send_json(HTTPStatus.SERVICE_UNAVAILABLE,
                            {"error": "Redis is unavailable", "detail": str(exc)})
            return
        except Exception as exc:  # a bug must not kill the endpoint; say what happened
            log.exception("metrics: snapshot failed")
            self._send_json(HTTPStatus.INTERNAL_SERVER_ERROR,
                            {"error": f"{type(exc).__name__}: {exc}"})
            return
        if path == "/metrics":
            db = redis_db(self.server.collector.client)
            self._send(HTTPStatus.OK, CONTENT_TYPE, to_prometheus(snap, db).encode())
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


def make_server(collector: MetricsCollector, port: int = DEFAULT_PORT) -> MetricsServer:
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
