"""The ``helpdesk-kit`` command. Each subcommand is a few lines that call the package.

Every subcommand is one self-contained block below: a function decorated with ``@command``
that adds its parser, and the handler it points to. Adding a command touches nothing else.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable, Sequence
from typing import Any

from .config import Settings
from .errors import HelpdeskError
from .vocab import BackendKind

__all__ = ["build_parser", "main"]

Handler = Callable[[argparse.Namespace, Settings], int]
Subparsers = Any  # argparse's _SubParsersAction is private; this is what add_parser lives on
_COMMANDS: list[Callable[[Subparsers], None]] = []


def command(register: Callable[[Subparsers], None]) -> Callable[[Subparsers], None]:
    """Register a function that adds one subcommand's parser (with ``handler=`` default)."""
    _COMMANDS.append(register)
    return register


BACKEND_CHOICES = ("auto", *BackendKind)


# --- doctor ------------------------------------------------------------------------------
def _doctor(args: argparse.Namespace, settings: Settings) -> int:
    from .doctor import report

    result = report(settings, args.backend)
    print(json.dumps(result.as_dict(), indent=2) if args.json else result)
    return 0


@command
def _doctor_parser(sub: Subparsers) -> None:
    p = sub.add_parser("doctor", help="show which Redis and database the kit uses, and rows")
    p.add_argument("--backend", choices=BACKEND_CHOICES, default=None,
                   help="force a Redis backend (default: HELPDESK_REDIS_BACKEND or auto)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(handler=_doctor)


# --- seed --------------------------------------------------------------------------------
def _seed(args: argparse.Namespace, settings: Settings) -> int:
    from .config import redact_url
    from .db import open_store
    from .db.sample import ensure_sample, load_sample
    from .errors import InputError

    url = settings.effective_database_url
    if not (args.if_empty or args.yes or url.startswith("file:")):
        raise InputError(f"seed would delete every row of the remote database {redact_url(url)}"
                         ": add --yes if you mean it (or --if-empty to fill it only when empty)")
    store = open_store(settings)
    try:
        if args.if_empty:
            summary = ensure_sample(store, args.users, args.tickets, args.seed,
                                    progress=not args.quiet)
            if summary is None:
                print(f"{store.db.url} already has data; left as it is")
                return 0
        else:
            summary = load_sample(store, args.users, args.tickets, args.seed,
                                  progress=not args.quiet)
        print(f"Loaded {summary} into {store.db.url}")
    finally:
        store.db.close()
    return 0


@command
def _seed_parser(sub: Subparsers) -> None:
    p = sub.add_parser("seed", help="replace the database's rows with deterministic sample data")
    p.add_argument("--users", type=int, default=200)
    p.add_argument("--tickets", type=int, default=2000)
    p.add_argument("--seed", type=int, default=42, help="random seed (same seed, same rows)")
    p.add_argument("--if-empty", action="store_true",
                   help="only load the sample if the database has no users yet")
    p.add_argument("--yes", action="store_true",
                   help="confirm replacing the rows of a remote (TURSO_DATABASE_URL) database")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(handler=_seed)


# --- worker ------------------------------------------------------------------------------
def _worker(args: argparse.Namespace, settings: Settings) -> int:
    import importlib

    from .app import HelpdeskApp
    from .db.sample import SAMPLE_NOW
    from .queue import RetryPolicy, Worker

    for module in args.imports:  # each registers its task types in tasks.REGISTRY
        importlib.import_module(module)
    app = HelpdeskApp.from_settings(settings,
                                    retry=RetryPolicy(args.max_attempts, args.retry_delay))
    with app:
        if app.backend is not None and app.backend.kind != BackendKind.URL:
            logging.getLogger("helpdesk_kit.worker").warning(
                "No REDIS_URL: this worker uses %s, which no other process shares - it only "
                "sees tasks enqueued by itself. Set REDIS_URL to work on the app's queue.",
                app.backend.description)
        context = app.task_context(SAMPLE_NOW if args.sample_now else None)
        worker = Worker(app.queue, context, mode=args.mode,  # type: ignore[arg-type]
                        batch=args.batch, heartbeat_ttl_s=args.heartbeat_ttl,
                        poll_timeout_s=args.poll)
        result = worker.run(burst=args.burst)
        print(json.dumps(result))
    return 0


@command
def _worker_parser(sub: Subparsers) -> None:
    p = sub.add_parser("worker", help="run queued tasks (long-running; --burst to drain and "
                       "exit); needs REDIS_URL to share a queue with other processes")
    p.add_argument("--mode", choices=("seed", "reliable"), default="reliable",
                   help="seed: LPOP, a crash loses the task in hand; reliable (default): "
                   "LMOVE + ack, retries, dead letters, recovery")
    p.add_argument("--burst", action="store_true", help="exit when the queue is empty")
    p.add_argument("--batch", type=int, default=1, help="tasks taken per round trip "
                   "(reliable mode; on a crash the whole batch runs again)")
    p.add_argument("--heartbeat-ttl", type=float, default=10.0,
                   help="seconds without a heartbeat before others recover our tasks")
    p.add_argument("--poll", type=float, default=0.5,
                   help="seconds a blocking dequeue waits (how fast a stop is noticed)")
    p.add_argument("--max-attempts", type=int, default=3, help="tries before a dead letter")
    p.add_argument("--retry-delay", type=float, default=1.0,
                   help="seconds before the first retry (doubles each time)")
    p.add_argument("--sample-now", action="store_true",
                   help="use the sample data's fixed 'now' (2026-06-01) in the tasks")
    p.add_argument("--import", dest="imports", action="append", default=[], metavar="MODULE",
                   help="import MODULE first (it may register more task types)")
    p.set_defaults(handler=_worker)


# --- bench -------------------------------------------------------------------------------
def _bench(args: argparse.Namespace, settings: Settings) -> int:
    from .lab.compare import break_even_hit_rate, compare_sandboxed, expected_read_ms
    from .lab.latency import get_profile

    if args.bench == "break-even":
        rate = break_even_hit_rate(args.db_ms, args.cache_ms)
        print(f"DB {args.db_ms:g} ms, cache {args.cache_ms:g} ms per round trip: caching pays "
              f"above a {rate:.0%} hit rate (a pure calculation, nothing measured)")
        for hit in (0.5, 0.8, 0.9, 0.99):
            print(f"  hit rate {hit:.0%}: {expected_read_ms(hit, args.db_ms, args.cache_ms):.2f}"
                  f" ms per read with the cache, {args.db_ms:g} ms without")
        return 0
    profile = get_profile(args.profile)
    repeat = args.repeat or (30 if not profile.adds_delay else 5)
    print(f"Comparing on a throwaway sample ({args.users} users, {args.tickets} tickets); "
          f"{profile}", flush=True)
    table = compare_sandboxed(settings, args.backend, users=args.users, tickets=args.tickets,
                              profile=profile, repeat=repeat, load_threads=args.threads,
                              load_seconds=args.seconds)
    print(table.to_html() if args.html else table)
    return 0


@command
def _bench_parser(sub: Subparsers) -> None:
    p = sub.add_parser("bench", help="measure: the seed's with-vs-without-Redis table")
    which = p.add_subparsers(dest="bench", required=True, metavar="BENCH")
    c = which.add_parser("compare", help="the seed's comparison table, measured (local) or "
                         "simulated under a network profile (cloud, seed)")
    c.add_argument("--profile", default="local",
                   help="local (measured, nothing added), cloud (DB 2 ms, cache 0.5 ms) or "
                   "seed (remote Turso 50 ms, REST cache 5 ms): simulated round trips")
    c.add_argument("--repeat", type=int, default=None,
                   help="runs per operation and side (default 30 local, 5 simulated)")
    c.add_argument("--threads", type=int, default=4, help="readers in the peak-load row")
    c.add_argument("--seconds", type=float, default=1.0,
                   help="length of each peak-load run (0 skips it)")
    c.add_argument("--users", type=int, default=200)
    c.add_argument("--tickets", type=int, default=2000)
    c.add_argument("--backend", choices=BACKEND_CHOICES, default=None,
                   help="force a Redis backend (default: HELPDESK_REDIS_BACKEND or auto)")
    c.add_argument("--html", action="store_true", help="print an HTML table")
    b = which.add_parser("break-even", help="the hit rate below which caching stops paying")
    b.add_argument("--db-ms", type=float, default=50.0, help="database round trip (ms)")
    b.add_argument("--cache-ms", type=float, default=5.0, help="cache round trip (ms)")
    p.set_defaults(handler=_bench)


# --- metrics / serve ---------------------------------------------------------------------
def _metrics_collector(args: argparse.Namespace, settings: Settings) -> Any:
    from .backends import connect
    from .keys import KeySchema
    from .metrics import MetricsCollector

    backend = connect(settings, args.backend)
    if backend.kind != BackendKind.URL:  # a private server or fakeredis lives only in this process
        print(f"note: {backend.description} belongs to this process and cannot see another "
              "process's data; set REDIS_URL to watch a shared Redis", file=sys.stderr)
    return MetricsCollector(backend.client, KeySchema(prefix=settings.key_prefix),
                            backend=backend.description)


def _sleep(seconds: float) -> None:
    """The pause between ``--watch`` refreshes; tests replace this, not the global time.sleep."""
    import time

    time.sleep(seconds)


def _metrics(args: argparse.Namespace, settings: Settings) -> int:
    from .metrics.tuning import Thresholds, tuning_table

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
    from .metrics.server import make_server

    collector = _metrics_collector(args, settings)
    try:
        server = make_server(collector, args.port)
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
    from .metrics.server import DEFAULT_PORT

    m = sub.add_parser("metrics", help="the seed's /api/metrics numbers and the tuning table")
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


# --- dashboard ---------------------------------------------------------------------------
#: The instructor view: lesson 08's monitoring widget, alone on a page (served by Voila).
DASHBOARD_NOTEBOOK = "notebooks/instructor_dashboard.ipynb"


def _dashboard_notebook(given: str | None) -> str:
    """The notebook to serve: ``--notebook``, else ours from here or from the kit's checkout."""
    from pathlib import Path

    from .errors import InputError

    if given is not None:
        if not Path(given).is_file():
            raise InputError(f"--notebook {given}: no such file")
        return given
    for root in (Path.cwd(), Path(__file__).resolve().parent.parent):
        if (root / DASHBOARD_NOTEBOOK).is_file():
            return str(root / DASHBOARD_NOTEBOOK)
    raise InputError(f"{DASHBOARD_NOTEBOOK} not found: run this in the kit's repository folder "
                     "or pass --notebook PATH")


def _dashboard_command(args: argparse.Namespace) -> list[str]:
    """The ``voila`` command line: no sources shown, loopback unless told otherwise."""
    return [sys.executable, "-m", "voila", _dashboard_notebook(args.notebook),
            f"--port={args.port}", f"--Voila.ip={args.ip}", "--no-browser",
            "--strip_sources=True", "--show_tracebacks=True"]


def _dashboard(args: argparse.Namespace, settings: Settings) -> int:
    import importlib.util
    import os

    from .errors import FeatureUnavailableError

    if importlib.util.find_spec("voila") is None:
        raise FeatureUnavailableError("the dashboard needs Voila: "
                                      "pip install 'helpdesk-kit[dashboard]'")
    command = _dashboard_command(args)
    if not settings.redis_url:
        print("note: REDIS_URL is not set, so the dashboard watches a Redis of its own; set it "
              "to the class's Redis (Binder's binder/start does) to see the lessons' keys",
              file=sys.stderr)
    print(f"Instructor dashboard: http://{args.ip}:{args.port}/ (Ctrl-C stops it)", flush=True)
    # Voila replaces this process, so Ctrl-C (or a test's terminate) reaches it directly.
    os.execv(sys.executable, command)  # noqa: S606 (our own interpreter, fixed arguments)
    return 0  # not reached


@command
def _dashboard_parser(sub: Subparsers) -> None:
    p = sub.add_parser("dashboard", help="serve the instructor's monitoring dashboard (Voila)")
    p.add_argument("--port", type=int, default=8866, help="port (default 8866, Voila's)")
    p.add_argument("--ip", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1; 0.0.0.0 for a classroom LAN)")
    p.add_argument("--notebook", default=None,
                   help=f"serve this notebook instead of {DASHBOARD_NOTEBOOK}")
    p.set_defaults(handler=_dashboard)


# --- main --------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="helpdesk-kit",
        description="Redis caching and task queues in front of a SQL database: a teaching kit.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log at DEBUG level")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for register in _COMMANDS:
        register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        settings = Settings.from_env()
        handler: Handler = args.handler
        return handler(args, settings)
    except HelpdeskError as exc:
        print(f"helpdesk-kit: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
