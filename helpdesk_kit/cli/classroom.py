"""``helpdesk-kit classroom``: one Redis for a class, an ACL user per learner.

The instructor's connection is ``REDIS_URL`` (an admin user: the ``instructor.env`` that
``classroom serve`` writes). Passwords are never printed unless ``--show-passwords`` asks.
"""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path
from typing import Any

from ..config import Settings, redact_url
from . import Subparsers, command

_NO_URL = ("set REDIS_URL to the class Redis as the instructor (an admin user): `helpdesk-kit "
           "classroom serve` writes it to instructor.env; load it with "
           "`set -a; . ./instructor.env; set +a`")


def _instructor(settings: Settings) -> Any:
    """The instructor's client, from REDIS_URL only: a private server would vanish."""
    from ..backends import connect
    from ..errors import ConfigError

    if not settings.redis_url:
        raise ConfigError(_NO_URL)
    return connect(settings, prefer="url").client


def _table(headers: tuple[str, ...], rows: list[tuple[object, ...]], caption: str = "") -> str:
    from ..lessons.output import Table

    return repr(Table(headers, rows, caption=caption))


# --- create / list / reset / revoke / remove ---------------------------------------------
def _create(args: argparse.Namespace, settings: Settings) -> int:
    from ..lab import classroom
    from ..lab.classroom_server import learner_url

    client = _instructor(settings)
    if args.roster is not None:
        names = classroom.read_roster(Path(args.roster))
    else:
        taken = [learner.name for learner in classroom.learners(client)]
        names = classroom.numbered_names(args.learners, taken)
    assert settings.redis_url is not None  # _instructor checked it
    try:
        created, saved = classroom.create(client, names, Path(args.out), settings.redis_url,
                                          host=args.host)
    except OSError as exc:  # --out not writable (that learner's new user is deleted again)
        from ..errors import InputError

        raise InputError(f"--out {args.out}: {exc.strerror or exc}") from None
    headers: tuple[str, ...] = ("learner", "key prefix", "env file (0600)", "REDIS_URL")
    rows: list[tuple[object, ...]] = []
    for learner in created:
        url = learner_url(settings.redis_url, learner.name, learner.password, args.host)
        row = (learner.name, learner.prefix, learner.env_file, redact_url(url))
        rows.append((*row, learner.password) if args.show_passwords else row)
    if args.show_passwords:
        headers += ("password",)
    print(_table(headers, rows, f"{len(created)} learner(s) created"))
    print("Hand each learner their own file; they load it before starting Jupyter:\n"
          f"  set -a; . ./{created[0].name}.env; set +a")
    if not saved:
        print("note: this Redis keeps no ACL file, so a restart forgets these users (run "
              "create again then); `classroom serve` keeps them")
    return 0


def _list(args: argparse.Namespace, settings: Settings) -> int:
    from ..lab.classroom_activity import HEADERS, activity, shown_rows

    rows = activity(_instructor(settings))
    if not rows:
        print("no class on this Redis yet: helpdesk-kit classroom create --learners N --out DIR")
        return 0

    print(_table(HEADERS, shown_rows(rows)))
    return 0


def _reset(args: argparse.Namespace, settings: Settings) -> int:
    from ..lab import classroom

    deleted = classroom.reset(_instructor(settings), args.name)
    print(f"{args.name}: deleted {deleted} key(s) under {args.name}:* (the user stays)")
    return 0


def _revoke(args: argparse.Namespace, settings: Settings) -> int:
    from ..lab import classroom

    classroom.revoke(_instructor(settings), args.name)
    print(f"{args.name}: user deleted, connections closed; keys stay until "
          f"`helpdesk-kit classroom reset {args.name}` or `remove`")
    return 0


def _remove(args: argparse.Namespace, settings: Settings) -> int:
    from ..errors import InputError
    from ..lab import classroom

    client = _instructor(settings)
    if not args.yes:
        count = len(classroom.learners(client))
        raise InputError(f"remove deletes all {count} learner(s), their users and keys: "
                         "add --yes to do it")
    names, deleted = classroom.remove(client)
    print(f"removed {len(names)} learner(s) and {deleted} key(s)")
    return 0


# --- serve -------------------------------------------------------------------------------
#: Binding to these, learners reach the server by another address: create needs --host.
_EVERY_INTERFACE = ("0.0.0.0", "::")  # noqa: S104


def _stop_on_sigterm(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # a service manager's stop is an instructor's Ctrl-C


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    from ..lab.classroom import load_kit_library
    from ..lab.classroom_server import ClassServer, TlsOptions

    tls = None
    if args.tls_cert or args.tls_key:
        if not (args.tls_cert and args.tls_key):
            from ..errors import InputError

            raise InputError("TLS needs both --tls-cert and --tls-key (and --tls-ca if the "
                             "certificate is not its own CA)")
        tls = TlsOptions(Path(args.tls_cert), Path(args.tls_key),
                         Path(args.tls_ca or args.tls_cert))
    folder = Path(args.dir) if args.dir else settings.data_dir / "classroom"
    server = ClassServer(folder, bind=args.bind, port=args.port, tls=tls,
                         maxmemory=args.maxmemory, policy=args.maxmemory_policy).start()
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    host = "  --host ADDRESS-LEARNERS-USE" if args.bind in _EVERY_INTERFACE else ""
    try:
        with server.client() as client:  # learners may not load Functions: the kit's, now
            functions = "loaded" if load_kit_library(client) else "none here (EVALSHA)"
        print(f"Class Redis at {redact_url(server.url())} (bound to {args.bind}, protected "
              f"mode on, {'TLS' if tls else 'no TLS'}; maxmemory {server.maxmemory}, "
              f"{server.policy}; the kit's Functions library: {functions})\n"
              f"Instructor's connection (0600): {server.instructor_env}\n"
              f"  set -a; . {server.instructor_env}; set +a\n"
              f"  helpdesk-kit classroom create --learners N --out DIR{host}\n"
              "Ctrl-C stops the server.", flush=True)
        code = server.wait()
        print(f"helpdesk-kit: error: the class Redis exited (code {code}); its log: "
              f"{server.log_file}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        server.stop()


@command
def _classroom_parsers(sub: Subparsers) -> None:
    from ..lab.classroom_server import MAXMEMORY, POLICY
    from ..vocab import EvictionPolicy

    p = sub.add_parser("classroom", help="one Redis for a class: an ACL user per learner")
    verbs = p.add_subparsers(dest="verb", required=True, metavar="VERB")

    c = verbs.add_parser("create", help="make learners: an ACL user and an env file each")
    who = c.add_mutually_exclusive_group(required=True)
    who.add_argument("--learners", type=int, metavar="N", help="N learners: learner01...")
    who.add_argument("--roster", metavar="FILE",
                     help="names, one a line (letters, digits, _ -; no personal data)")
    c.add_argument("--out", required=True, metavar="DIR",
                   help="folder for the env files (NAME.env, mode 0600)")
    c.add_argument("--host", default=None, metavar="HOST[:PORT]",
                   help="the address learners reach (default: REDIS_URL's)")
    c.add_argument("--show-passwords", action="store_true",
                   help="also print the passwords (they are always in the env files)")
    c.set_defaults(handler=_create)

    verbs.add_parser("list", help="the learners, their keys and queues").set_defaults(
        handler=_list)
    for verb, handler, text in (("reset", _reset, "delete a learner's keys (the user stays)"),
                                ("revoke", _revoke, "delete a learner's user")):
        v = verbs.add_parser(verb, help=text)
        v.add_argument("name", metavar="NAME")
        v.set_defaults(handler=handler)
    r = verbs.add_parser("remove", help="delete the whole class: users and keys")
    r.add_argument("--yes", action="store_true", help="really delete them")
    r.set_defaults(handler=_remove)

    s = verbs.add_parser("serve", help="run a private Redis for the class until Ctrl-C")
    s.add_argument("--bind", default="127.0.0.1", metavar="ADDRESS",
                   help="address to listen on (default 127.0.0.1; 0.0.0.0: every interface)")
    s.add_argument("--port", type=int, default=6379, help="port (default 6379)")
    s.add_argument("--dir", default=None,
                   help="folder for its files (default: HELPDESK_DATA_DIR/classroom)")
    s.add_argument("--tls-cert", default=None, metavar="PEM", help="serve TLS only (rediss://)")
    s.add_argument("--tls-key", default=None, metavar="PEM")
    s.add_argument("--tls-ca", default=None, metavar="PEM",
                   help="the CA learners trust (default: the certificate itself)")
    s.add_argument("--maxmemory", default=MAXMEMORY, metavar="SIZE",
                   help=f"the most the whole class may hold (default {MAXMEMORY}): Redis has "
                   "no quota per learner")
    s.add_argument("--maxmemory-policy", default=POLICY, choices=tuple(EvictionPolicy),
                   metavar="POLICY", help=f"what goes when it is full (default {POLICY}: only "
                   "keys with a TTL, never queues or the class list)")
    s.set_defaults(handler=_serve)
