"""``helpdesk-kit bench``: the design's with-vs-without-Redis table, measured."""

from __future__ import annotations

import argparse

from ..config import Settings
from . import BACKEND_CHOICES, Subparsers, command


# --- bench -------------------------------------------------------------------------------
def _bench(args: argparse.Namespace, settings: Settings) -> int:
    from ..lab.compare import break_even_hit_rate, compare_sandboxed, expected_read_ms
    from ..lab.latency import get_profile

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
    p = sub.add_parser("bench", help="measure: the design's with-vs-without-Redis table")
    which = p.add_subparsers(dest="bench", required=True, metavar="BENCH")
    c = which.add_parser("compare", help="the design's comparison table, measured (local) or "
                         "simulated under a network profile (cloud, internet)")
    c.add_argument("--profile", default="local",
                   help="local (measured, nothing added), cloud (DB 2 ms, cache 0.5 ms) or "
                   "internet (remote Turso 50 ms, REST cache 5 ms): simulated round trips")
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
