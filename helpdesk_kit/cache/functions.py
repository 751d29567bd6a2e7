"""The cache's Lua scripts, as one Redis Functions library.

Three small scripts make the cache safe: the stale-set guard and the lock release (written
beside the code that uses them, :mod:`helpdesk_kit.cache.loading`) and the warming page
(:mod:`helpdesk_kit.cache.warm`). Here they become one
:class:`~helpdesk_kit.backends.scripts.Library`, and :class:`CacheScripts` runs them: ``FCALL``
where the server holds exactly this library's code, ``EVALSHA`` where it does not (how and
why: :mod:`helpdesk_kit.backends.scripts`, the runner the queue and the rate limiter use too).

The library's name carries a hash of its code (``helpdesk_kit_1a2b3c4d``); in a class the
instructor loads it (:func:`helpdesk_kit.lab.classroom.load_kit_library`), and learners'
caches call it.
"""

from __future__ import annotations

import redis

from ..backends.scripts import Library, ScriptRunner
from .loading import GUARDED_SET, RELEASE_LOCK
from .warm import WARM_SET

__all__ = ["LIBRARY", "LIBRARY_CODE", "SCRIPTS", "CacheScripts", "KitScripts", "function_name"]

#: The cache's scripts by name: the bodies the library wraps, one function each.
SCRIPTS: dict[str, str] = {
    "guarded_set": GUARDED_SET,
    "release_lock": RELEASE_LOCK,
    "warm_set": WARM_SET,
}
#: The cache's library.
CACHE_LIBRARY = Library("helpdesk_kit", SCRIPTS)
#: The library's name: the kit's, plus the hash of its code.
LIBRARY = CACHE_LIBRARY.name
#: What ``FUNCTION LOAD`` receives.
LIBRARY_CODE = CACHE_LIBRARY.code


def function_name(script: str) -> str:
    """The name ``FCALL`` uses for one of :data:`SCRIPTS` (``hk_1a2b3c4d_guarded_set``)."""
    return CACHE_LIBRARY.function_name(script)


class CacheScripts(ScriptRunner):
    """The cache's scripts on one client. ``functions=False`` skips Functions altogether
    (lesson 13 compares the two)."""

    def __init__(self, client: redis.Redis, *, functions: bool = True) -> None:
        super().__init__(client, CACHE_LIBRARY, functions=functions)


#: The name lesson 13 imports (before the runner moved to :mod:`helpdesk_kit.backends`).
KitScripts = CacheScripts
