"""``helpdesk-kit doctor`` and ``seed``: what the kit uses, and the sample data."""

from __future__ import annotations

import argparse
import json

from ..config import Settings
from . import BACKEND_CHOICES, Subparsers, command


# --- doctor ------------------------------------------------------------------------------
def _doctor(args: argparse.Namespace, settings: Settings) -> int:
    from ..doctor import report

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
    from ..config import redact_url
    from ..db import open_store
    from ..db.sample import ensure_sample, load_sample
    from ..errors import InputError

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
