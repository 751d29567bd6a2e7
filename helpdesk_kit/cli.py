"""The ``helpdesk-kit`` command. Each subcommand is a few lines that call the package."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable, Sequence

from .config import Settings
from .errors import HelpdeskError

__all__ = ["main"]

Handler = Callable[[argparse.Namespace, Settings], int]


def _doctor(args: argparse.Namespace, settings: Settings) -> int:
    from .doctor import report

    result = report(settings, args.backend)
    print(json.dumps(result.as_dict(), indent=2) if args.json else result)
    return 0


def _seed(args: argparse.Namespace, settings: Settings) -> int:
    from .db import open_store
    from .db.sample import load_sample

    store = open_store(settings)
    summary = load_sample(store, args.users, args.tickets, args.seed, progress=not args.quiet)
    print(f"Loaded {summary} into {store.db.url}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="helpdesk-kit",
        description="Redis caching and task queues in front of a SQL database: a teaching kit.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log at DEBUG level")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("doctor", help="show which Redis and database the kit uses, and rows")
    p.add_argument("--backend", choices=("auto", "url", "server", "fake"), default=None,
                   help="force a Redis backend (default: HELPDESK_REDIS_BACKEND or auto)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(handler=_doctor)

    p = sub.add_parser("seed", help="replace the database's rows with deterministic sample data")
    p.add_argument("--users", type=int, default=200)
    p.add_argument("--tickets", type=int, default=2000)
    p.add_argument("--seed", type=int, default=42, help="random seed (same seed, same rows)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(handler=_seed)
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
