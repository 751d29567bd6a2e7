"""Can a lesson's live part run here? It needs redis-server processes of its own.

Lessons 16 (persistence) and 17 (incidents) start private servers: they crash them, restart
them, fill their memory and change their config, which nobody may do to a Redis others use.
On fakeredis those parts explain and skip; so does a machine without the ``redis-server``
program. :func:`live_skip_reason` says which, in one sentence a cell prints.
"""

from __future__ import annotations

import shutil

from ..vocab import BackendKind

__all__ = ["live_skip_reason"]


def live_skip_reason(backend_kind: str, fakeredis_lacks: str) -> str | None:
    """Why the live part cannot run here (a sentence), or None when it can.

    ``fakeredis_lacks`` names what the part needs that fakeredis does not have
    (``"SHUTDOWN, BGSAVE and an AOF"``). On the fakeredis backend the part is skipped even if
    ``redis-server`` is installed: that backend was chosen so nothing else starts.
    """
    if backend_kind == BackendKind.FAKE:
        return (f"skipped on fakeredis: this part runs on private redis-server processes "
                f"(fakeredis has no {fakeredis_lacks})")
    if shutil.which("redis-server") is None:
        return ("skipped: this part starts private redis-server processes, and no "
                "redis-server program is installed here")
    return None
