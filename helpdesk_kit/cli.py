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

__all__ = ["build_parser", "main"]

Handler = Callable[[argparse.Namespace, Settings], int]
Subparsers = Any  # argparse's _SubParsersAction is private; this is what add_parser lives on
_COMMANDS: list[Callable[[Subparsers], None]] = []


def command(register: Callable[[Subparsers], None]) -> Callable[[Subparsers], None]:
    """Register a function that adds one subcommand's parser (with ``handler=`` default)."""
    _COMMANDS.append(register)
    return register


BACKEND_CHOICES = ("auto", "url", "server", "fake")


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
    from .db import open_store
    from .db.sample import ensure_sample, load_sample

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
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(handler=_seed)


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
