"""``helpdesk-kit dashboard``: the instructor's live view, served by Voila."""

from __future__ import annotations

import argparse
import sys

from ..config import Settings
from . import Subparsers, command

# --- dashboard ---------------------------------------------------------------------------
#: The instructor view: lesson 08's monitoring widget, alone on a page (served by Voila).
DASHBOARD_NOTEBOOK = "notebooks/instructor_dashboard.ipynb"


def _dashboard_notebook(given: str | None) -> str:
    """The notebook to serve: ``--notebook``, else ours from here or from the kit's checkout."""
    from pathlib import Path

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


def _dashboard_command(args: argparse.Namespace) -> list[str]:
    """The ``voila`` command line: no sources shown, loopback unless told otherwise."""
    return [sys.executable, "-m", "voila", _dashboard_notebook(args.notebook),
            f"--port={args.port}", f"--Voila.ip={args.ip}", "--no-browser",
            "--strip_sources=True", "--show_tracebacks=True"]


def _dashboard(args: argparse.Namespace, settings: Settings) -> int:
    import importlib.util
    import os

    from ..errors import FeatureUnavailableError

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
