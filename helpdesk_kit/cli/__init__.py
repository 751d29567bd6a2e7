"""The ``helpdesk-kit`` command. Each subcommand is a few lines that call the package.

Each module of this package holds a few subcommands: functions decorated with ``@command``
that add their parser, and the handlers they point to. :func:`build_parser` imports every
module here, so adding a command is adding a module (or a function): nothing else changes.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import pkgutil
import sys
from collections.abc import Callable, Sequence
from typing import Any

from ..config import Settings
from ..errors import HelpdeskError
from ..vocab import BackendKind

__all__ = ["BACKEND_CHOICES", "build_parser", "command", "main"]

Handler = Callable[[argparse.Namespace, Settings], int]
Subparsers = Any  # argparse's _SubParsersAction is private; this is what add_parser lives on
_COMMANDS: list[Callable[[Subparsers], None]] = []


def command(register: Callable[[Subparsers], None]) -> Callable[[Subparsers], None]:
    """Register a function that adds one subcommand's parser (with ``handler=`` default)."""
    _COMMANDS.append(register)
    return register


BACKEND_CHOICES = ("auto", *BackendKind)


# --- main --------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="helpdesk-kit",
        description="Redis caching and task queues in front of a SQL database: a teaching kit.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log at DEBUG level")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in pkgutil.iter_modules(__path__):  # each registers its commands on import
        importlib.import_module(f"{__name__}.{module.name}")
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
