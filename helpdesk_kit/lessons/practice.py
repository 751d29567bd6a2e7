"""Real servers for an exercise's check: the lesson's lab when it is given, else one of its own.

Lessons 10 and 11 check the learner's code against a live Sentinel set or Cluster. In the
notebook the check gets the lab the lesson started; elsewhere (the test suite, a learner who
skipped the lab's cells) it starts a small one the first time, keeps it for the rest of the
process (a launcher stops its processes at exit) and reuses it. Without a Redis server program
the check cannot run, and :func:`servers_missing` says so.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from ..backends.binaries import no_server_reason
from ..backends.launchers import Launcher
from .checks import CheckResult

__all__ = ["practice_lab", "servers_missing"]

L = TypeVar("L", bound=Launcher)

_started: dict[str, Launcher] = {}


def practice_lab(name: str, make: Callable[[], L]) -> L:
    """The lab called ``name``: made by ``make()`` and started the first time, then reused."""
    if name not in _started:
        lab = make()
        lab.start()
        _started[name] = lab
    found = _started[name]
    return found  # type: ignore[return-value]  # the same ``make`` always gives the same type


def servers_missing() -> CheckResult | None:
    """A "not checked" verdict when no Redis server program is installed here, else None."""
    missing = no_server_reason()
    if missing:
        return CheckResult(None, f"this exercise needs real servers ({missing}).")
    return None
