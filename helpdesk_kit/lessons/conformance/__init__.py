"""The conformance suite: what each piece of the learner's helpdesk must do, checked step by step.

The same checks run on three implementations of the pieces:

* the **learner's**, when ``check()`` runs in a lesson (a wrong one gets the broken step and
  why; a passing one is kept in ``my_helpdesk.py``, :mod:`helpdesk_kit.lessons.helpdesk`);
* the **kit's own**, :mod:`.reference` (a thin adapter over ``Cache``), in the tests;
* the **solutions** in ``notebooks/solutions/``, in the tests, on a real redis-server and on
  fakeredis (``tests/test_conformance.py``).

``pieces`` names every piece and its lesson; ``steps`` how a check runs and fails;
``cache_checks`` the checks of lessons 01, 03 and 04; ``queue_checks`` those of 06 and 07;
``pubsub_checks``, ``ratelimit_checks`` and ``stream_checks`` those of lessons 12, 13 and 14.
A later lesson adds its pieces to :data:`.pieces.PIECES`, its check to :data:`CHECKS`, and
its kit version to ``reference``.
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType

from . import reference
from .cache_checks import check_update, check_user_cache, check_warm
from .pieces import PIECES, Piece, lessons_with_pieces, pieces_of
from .pubsub_checks import check_listener
from .queue_checks import check_queue, check_reliable
from .ratelimit_checks import check_rate_limit
from .steps import ConformanceError, Pieces, Steps, Workspace
from .stream_checks import check_consumer

__all__ = ["CHECKS", "KIT", "PIECES", "ConformanceError", "Piece", "Pieces", "Steps",
           "Workspace", "from_module", "lessons_with_pieces", "pieces_of", "verify"]

#: Each lesson's check, by lesson number: ``check(pieces, workspace) -> steps passed``.
CHECKS: dict[str, Callable[[Pieces, Workspace], list[str]]] = {
    "01": check_user_cache,
    "03": check_update,
    "04": check_warm,
    "06": check_queue,
    "07": check_reliable,
    "12": check_listener,
    "13": check_rate_limit,
    "14": check_consumer,
}


def from_module(module: ModuleType) -> dict[str, Callable[..., object]]:
    """The pieces a module defines (a solution, ``my_helpdesk.py``), by name."""
    return {piece.name: getattr(module, piece.name) for piece in PIECES
            if callable(getattr(module, piece.name, None))}


#: The kit's own pieces.
KIT: dict[str, Callable[..., object]] = from_module(reference)


def verify(lesson: str, pieces: Pieces, workspace: Workspace) -> list[str]:
    """Run lesson ``lesson``'s check; returns the steps passed, raises ConformanceError.

    ``pieces`` needs that lesson's pieces; any earlier piece it lacks (lesson 04 reads back
    with lesson 01's ``get_cached_user``, lesson 07 enqueues with lesson 06's
    ``enqueue_task``) is the kit's.
    """
    return CHECKS[lesson]({**KIT, **pieces}, workspace)
