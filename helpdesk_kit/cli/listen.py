"""``helpdesk-kit listen``: print the helpdesk's notifications as they are published."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from ..config import Settings
from ..vocab import BackendKind
from . import BACKEND_CHOICES, Subparsers, command


def _listen(args: argparse.Namespace, settings: Settings) -> int:
    from ..app.listen import Listener
    from ..backends import connect
    from ..keys import KeySchema

    backend = connect(settings, args.backend)
    if backend.kind != BackendKind.URL:  # a private server or fakeredis: nobody else publishes
        print(f"note: {backend.description} belongs to this process: no other process can "
              "publish to it; set REDIS_URL to listen to a shared Redis", file=sys.stderr)
    listener = Listener(backend.client, KeySchema.for_backend(backend.kind, settings.key_prefix))
    try:
        with listener:
            # printed once the server confirmed the subscription: nothing after it is missed
            print(f"listening on {listener.channel!r} (Ctrl-C to stop)", file=sys.stderr,
                  flush=True)
            for note in listener.listen(count=args.count, seconds=args.seconds):
                print(note.to_json() if args.json else note, flush=True)
    except KeyboardInterrupt:  # Ctrl-C is how a long listen ends
        pass
    finally:
        backend.client.close()
    print(f"{listener.received} notification(s), {listener.repeats} repeat(s) dropped, "
          f"{listener.ignored} other message(s) ignored", file=sys.stderr)
    return 0


def _positive(kind: type[int] | type[float]) -> Callable[[str], float]:
    def parse(text: str) -> float:
        value = kind(text)
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be positive, got {text}")
        return value
    return parse


@command
def _listen_parser(sub: Subparsers) -> None:
    p = sub.add_parser("listen", help="print notifications as tickets are created and "
                       "commented (Pub/Sub); needs REDIS_URL to hear other processes")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p.add_argument("--count", type=_positive(int), default=None, metavar="N",
                   help="exit after N notifications")
    p.add_argument("--seconds", type=_positive(float), default=None, metavar="S",
                   help="exit after S seconds")
    p.add_argument("--backend", choices=BACKEND_CHOICES, default=None,
                   help="force a Redis backend (default: HELPDESK_REDIS_BACKEND or auto)")
    p.set_defaults(handler=_listen)
