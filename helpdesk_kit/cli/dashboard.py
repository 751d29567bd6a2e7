"""``helpdesk-kit dashboard``: the instructor's live view, served by Voila."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..config import Settings
from . import Subparsers, command

# --- dashboard ---------------------------------------------------------------------------
#: The instructor view: lesson 08's monitoring widget, alone on a page (served by Voila).
DASHBOARD_NOTEBOOK = "notebooks/instructor_dashboard.ipynb"


def _dashboard_notebook(given: str | None) -> str:
    """The notebook to serve: ``--notebook``, else ours from here or from the kit's checkout."""
    from ..errors import InputError

    if given is not None:
        if not Path(given).is_file():
            raise InputError(f"--notebook {given}: no such file")
        return given
    for root in (Path.cwd(), Path(__file__).resolve().parents[2]):
        if (root / DASHBOARD_NOTEBOOK).is_file():
            return str(root / DASHBOARD_NOTEBOOK)
    raise InputError(f"{DASHBOARD_NOTEBOOK} not found: run this in the kit's repository folder "
                     "or pass --notebook PATH")


def _loopback(ip: str) -> bool:
    """True for an address only this machine reaches (127.0.0.1, ::1, localhost)."""
    import ipaddress

    try:
        return ip == "localhost" or ipaddress.ip_address(ip).is_loopback
    except ValueError:  # a host name: it may resolve to the network
        return False


def _token_config(folder: Path) -> str:
    """The visitors' token, kept in ``folder/voila.json`` (0600) where Voila reads it (a
    command line shows in ``ps``). The same token on every start; delete the file for a new one.
    """
    import contextlib
    import json
    import os
    import secrets

    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o700)
    path = folder / "voila.json"
    token = ""
    with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
        token = str(json.loads(path.read_text(encoding="utf-8"))["Voila"]["token"] or "")
    token = token or secrets.token_urlsafe(24)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        os.fchmod(out.fileno(), 0o600)
        json.dump({"Voila": {"token": token}}, out)
    return token


def _dashboard_command(args: argparse.Namespace, config_dir: Path | None = None) -> list[str]:
    """The ``voila`` command line: no sources, no tracebacks (unless asked, on loopback), and
    with ``config_dir`` the voila.json that asks every visitor for the token."""
    command = [sys.executable, "-m", "voila", _dashboard_notebook(args.notebook),
               f"--port={args.port}", f"--Voila.ip={args.ip}", "--no-browser",
               "--strip_sources=True", f"--show_tracebacks={bool(args.show_tracebacks)}"]
    if config_dir is not None:
        command.append(f"--Voila.config_file_paths={config_dir}")
    return command


def _dashboard(args: argparse.Namespace, settings: Settings) -> int:
    import importlib.util
    import os

    from ..errors import FeatureUnavailableError, InputError

    if importlib.util.find_spec("voila") is None:
        raise FeatureUnavailableError("the dashboard needs Voila: "
                                      "pip install 'helpdesk-kit[dashboard]'")
    if args.show_tracebacks and not _loopback(args.ip):
        raise InputError("--show-tracebacks only on 127.0.0.1: visitors on the network never "
                         "see the kit's internals")
    link = f"http://{args.ip}:{args.port}/"
    config_dir = None
    where = ""
    if not _loopback(args.ip):  # the class's network: every visitor needs the token
        config_dir = settings.data_dir / "dashboard"
        token = _token_config(config_dir)
        link += f"?token={token if args.show_token else '<token>'}"
        where = (f"\nVisitors need the token: it is in {config_dir / 'voila.json'} (mode 0600)"
                 "; --show-token prints the link with it")
    command = _dashboard_command(args, config_dir)
    if not settings.redis_url:
        print("note: REDIS_URL is not set, so the dashboard watches a Redis of its own; set it "
              "to the class's Redis (Binder's binder/start does) to see the lessons' keys",
              file=sys.stderr)
    print(f"Instructor dashboard: {link} (Ctrl-C stops it){where}", flush=True)
    # Voila replaces this process, so Ctrl-C (or a test's terminate) reaches it directly.
    os.execv(sys.executable, command)  # noqa: S606 (our own interpreter, fixed arguments)
    return 0  # not reached


@command
def _dashboard_parser(sub: Subparsers) -> None:
    p = sub.add_parser("dashboard", help="serve the instructor's monitoring dashboard (Voila)")
    p.add_argument("--port", type=int, default=8866, help="port (default 8866, Voila's)")
    p.add_argument("--ip", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1; 0.0.0.0 for a classroom LAN, "
                        "which asks every visitor for a token)")
    p.add_argument("--show-token", action="store_true",
                   help="print the link with the token (default: only where the token is)")
    p.add_argument("--show-tracebacks", action="store_true",
                   help="show errors with their tracebacks (only with --ip 127.0.0.1)")
    p.add_argument("--notebook", default=None,
                   help=f"serve this notebook instead of {DASHBOARD_NOTEBOOK}")
    p.set_defaults(handler=_dashboard)
