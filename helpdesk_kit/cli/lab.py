"""``helpdesk-kit lab sentinel|cluster``: start a replicated Redis here, until Ctrl-C.

It prints the environment lines that point the kit at it; paste them into another shell and
every command there (``doctor``, ``worker``, ``metrics``, a notebook) uses it::

    $ helpdesk-kit lab cluster
    export HELPDESK_REDIS_BACKEND=cluster
    export REDIS_CLUSTER_URL=redis://127.0.0.1:40123
    ...
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from typing import Any

from ..config import Settings
from . import Subparsers, command


def _start(args: argparse.Namespace) -> Any:
    from ..backends import ClusterLab, SentinelLab

    if args.kind == "sentinel":
        return SentinelLab(replicas=args.replicas, sentinels=args.sentinels,
                           down_after_ms=args.down_after_ms).start()
    return ClusterLab(primaries=args.primaries, replicas=args.replicas,
                      node_timeout_ms=args.node_timeout_ms).start()


def _describe(lab: Any) -> list[str]:
    from ..backends import SentinelLab

    if isinstance(lab, SentinelLab):
        lines = [f"primary   {lab.primary_address()}"]
        lines += [f"replica   {n.address}" for n in lab.data if n.address != lab.primary_address()]
        return lines + [f"sentinel  {a}" for a in lab.sentinel_addresses]
    roles = lab.roles()
    return [f"{'primary' if roles[n.address] == 'master' else 'replica':9} {n.address}"
            for n in lab.nodes]


def _lab(args: argparse.Namespace, settings: Settings) -> int:
    stopping = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    lab = _start(args)
    try:
        print(f"# {args.kind} lab: " + "; ".join(_describe(lab)), flush=True)
        for name, value in lab.env().items():
            print(f"export {name}={value}", flush=True)
        print("# paste these lines into another shell; Ctrl-C here stops the lab", flush=True)
        while not stopping.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        lab.stop()
        signal.signal(signal.SIGTERM, previous)
        print(f"# {args.kind} lab stopped and removed", file=sys.stderr, flush=True)
    return 0


@command
def _lab_parser(sub: Subparsers) -> None:
    p = sub.add_parser("lab", help="run a local Sentinel set (primary, replicas, Sentinels) or "
                       "a 6-node Redis Cluster until Ctrl-C; prints the environment to use it")
    p.add_argument("kind", choices=("sentinel", "cluster"))
    p.add_argument("--replicas", type=int, default=None,
                   help="replicas (sentinel: of the primary, default 2; cluster: per primary, "
                   "default 1)")
    p.add_argument("--sentinels", type=int, default=3, help="Sentinels (default 3, quorum 2)")
    p.add_argument("--primaries", type=int, default=3, help="cluster primaries (default 3)")
    p.add_argument("--down-after-ms", type=int, default=1000,
                   help="Sentinel: silence before a primary counts as down (default 1000)")
    p.add_argument("--node-timeout-ms", type=int, default=2000,
                   help="cluster: silence before a node counts as failed (default 2000)")
    p.set_defaults(handler=_lab_with_defaults)


def _lab_with_defaults(args: argparse.Namespace, settings: Settings) -> int:
    if args.replicas is None:
        args.replicas = 2 if args.kind == "sentinel" else 1
    return _lab(args, settings)
