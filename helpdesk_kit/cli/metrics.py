"""``helpdesk-kit metrics`` and ``serve``: the design's /api/metrics, as text or HTTP."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from ..config import Settings
from ..vocab import BackendKind
from . import BACKEND_CHOICES, Subparsers, command


# --- metrics / serve ---------------------------------------------------------------------
def _metrics_collector(args: argparse.Namespace, settings: Settings, down_ok: bool = False
                       ) -> Any:
    from ..backends import connect
    from ..keys import KeySchema
    from ..metrics import MetricsCollector

    backend = connect(settings, args.backend, down_ok=down_ok)
    if not backend.answering:
        print("note: Redis did not answer at start: /metrics says redis_up 0 (and "
              "/api/metrics 503) until it does", file=sys.stderr)
    elif backend.kind != BackendKind.URL:  # a private server or fakeredis lives only here
        print(f"note: {backend.description} belongs to this process and cannot see another "
              "process's data; set REDIS_URL to watch a shared Redis", file=sys.stderr)
    return MetricsCollector(backend.client, KeySchema(prefix=settings.key_prefix),
                            backend=backend.description)


def _sleep(seconds: float) -> None:
    """The pause between ``--watch`` refreshes; tests replace this, not the global time.sleep."""
    import time

    time.sleep(seconds)


def _metrics(args: argparse.Namespace, settings: Settings) -> int:
    from ..metrics.tuning import Thresholds, tuning_table

    collector = _metrics_collector(args, settings)
    thresholds = Thresholds.from_env()
    try:
        while True:
            snap = collector.snapshot()
            table = tuning_table(snap, thresholds)
            if args.json:
                print(json.dumps({**snap.to_api_json(), "tuning": table.to_dicts()},
                                 ensure_ascii=False), flush=True)
            else:
                print(f"{snap}\n\n{table}\n", flush=True)
            if args.watch is None:
                return 0
            _sleep(args.watch)
    except KeyboardInterrupt:  # Ctrl-C is how --watch ends
        return 0


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    """Serve the metrics; a Redis down at start is what the endpoint reports, not a reason
    not to start (see :mod:`helpdesk_kit.metrics.server`)."""
    import functools

    from ..errors import RedisUnreachableError
    from ..metrics.server import make_server

    source: Any
    try:
        source = _metrics_collector(args, settings, down_ok=True)
    except RedisUnreachableError as exc:  # no client could be made (a Cluster): try per request
        print(f"note: {exc}; /metrics says redis_up 0 until it answers", file=sys.stderr)
        source = functools.partial(_metrics_collector, args, settings)
    try:
        server = make_server(source, args.port)
    except OSError as exc:
        print(f"helpdesk-kit: error: cannot listen on 127.0.0.1:{args.port}: {exc}",
              file=sys.stderr)
        return 2
    print(f"Serving {server.url}/api/metrics and {server.url}/metrics (Ctrl-C to stop)",
          flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


def _positive_seconds(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, got {text}")
    return value


@command
def _metrics_parsers(sub: Subparsers) -> None:
    from ..metrics.server import DEFAULT_PORT

    m = sub.add_parser("metrics", help="the design's /api/metrics numbers and the tuning table")
    m.add_argument("--json", action="store_true", help="print the /api/metrics JSON")
    m.add_argument("--watch", type=_positive_seconds, metavar="N", default=None,
                   help="refresh every N seconds until Ctrl-C")
    m.add_argument("--backend", choices=BACKEND_CHOICES, default=None,
                   help="force a Redis backend (default: HELPDESK_REDIS_BACKEND or auto)")
    m.set_defaults(handler=_metrics)
    s = sub.add_parser("serve", help="serve GET /api/metrics (JSON) and /metrics (Prometheus)")
    s.add_argument("--port", type=int, default=DEFAULT_PORT,
                   help=f"port on 127.0.0.1 (default {DEFAULT_PORT})")
    s.add_argument("--backend", choices=BACKEND_CHOICES, default=None,
                   help="force a Redis backend (default: HELPDESK_REDIS_BACKEND or auto)")
    s.set_defaults(handler=_serve)
