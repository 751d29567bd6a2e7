"""The cache's Lua scripts as one Redis Functions library, with EVALSHA where there is none.

Three small scripts make the cache safe: the stale-set guard and the lock release
(:mod:`.guard`) and the warming page (:mod:`.warm`). Sent with ``EVALSHA``, a script lives in
the server's *script cache*: ``SCRIPT FLUSH``, a restart or a failover to a replica empties it,
and the next ``EVALSHA`` answers ``NOSCRIPT`` (redis-py's ``register_script`` then sends the
whole script again - one more round trip, invisible to the caller).

Redis 7 **Functions** belong to the data set instead: ``FUNCTION LOAD`` once, and they are
saved with it (RDB, AOF) and replicated to replicas like keys; ``FCALL name numkeys keys...
args...`` runs one. :class:`KitScripts` loads the kit's library on first use where the server
has Functions (Redis 7 and later; fakeredis 2.2x with Lua too) and falls back to
``register_script`` (``EVALSHA``) where it does not - Redis 6, or a service that disables
``FUNCTION``. Each script is a :class:`KitScript`, called like redis-py's ``Script``
(``keys=``, ``args=``, ``client=`` a pipeline), so the cache's modules do not change.

The library's name carries a hash of its code (``helpdesk_kit_1a2b3c4d``): two versions of
the kit sharing one server (a class) load two libraries instead of replacing each other's.

Libraries are server-global: any user allowed ``FUNCTION LOAD REPLACE`` could put other code
under the kit's names, and ``FCALL`` would run it with the *caller's* permissions. So the kit
calls a library only after reading it back (``FUNCTION LIST WITHCODE``) and finding its own
code there; anything else, and it uses ``EVALSHA``, whose SHA names one script body. In a
class, learners may not load libraries at all: the instructor loads the kit's
(:func:`helpdesk_kit.lab.classroom.load_kit_library`), and learners' caches call it.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from typing import Any

import redis

from .guard import GUARDED_SET, RELEASE_LOCK
from .warm import WARM_SET

__all__ = ["LIBRARY", "LIBRARY_CODE", "SCRIPTS", "KitScript", "KitScripts", "function_name"]

log = logging.getLogger("helpdesk_kit.cache")

#: The kit's scripts by name: the bodies the library wraps, one function each.
SCRIPTS: dict[str, str] = {"guarded_set": GUARDED_SET, "release_lock": RELEASE_LOCK,
                           "warm_set": WARM_SET}
_VERSION = hashlib.sha1("".join(SCRIPTS.values()).encode(), usedforsecurity=False).hexdigest()[:8]
#: The library's name: the kit's, plus the hash of its code.
LIBRARY = f"helpdesk_kit_{_VERSION}"


def function_name(script: str) -> str:
    """The name ``FCALL`` uses for one of :data:`SCRIPTS` (``hk_1a2b3c4d_guarded_set``)."""
    return f"hk_{_VERSION}_{script}"


def _library_code() -> str:
    """One ``#!lua`` library: each script's body inside a function of ``(KEYS, ARGV)``, so
    the body reads exactly as it does with EVAL."""
    lines = [f"#!lua name={LIBRARY}"]
    for name, body in SCRIPTS.items():
        lines += [f"local function {name}(KEYS, ARGV)", body.strip(), "end",
                  f"redis.register_function('{function_name(name)}', {name})"]
    return "\n".join(lines) + "\n"


#: What ``FUNCTION LOAD`` receives.
LIBRARY_CODE = _library_code()


class KitScripts:
    """The kit's scripts on one client: FCALL of the library, or EVALSHA as a fallback.

    ``mode`` is None until first use, then ``"functions"`` or ``"scripts"`` (EVALSHA).
    ``functions=False`` skips Functions altogether (lesson 13 compares the two).
    """

    def __init__(self, client: redis.Redis, *, functions: bool = True) -> None:
        self.client = client
        self.mode: str | None = None if functions else "scripts"
        self.evalsha = {name: client.register_script(body) for name, body in SCRIPTS.items()}
        self.scripts = {name: KitScript(self, name) for name in SCRIPTS}

    def __repr__(self) -> str:
        how = {"functions": f"FCALL, library {LIBRARY}", "scripts": "EVALSHA, script cache",
               None: "not used yet"}[self.mode]
        return f"KitScripts({how})"

    def ensure_loaded(self) -> str:
        """Load the library if this server has Functions and lacks it; returns the mode."""
        if self.mode is None:
            self.mode = "functions" if self.load() else "scripts"
        return self.mode

    def load(self) -> bool:
        """Make sure the library is there: True if the kit's own code is - found there
        (loaded before; in a class, by the instructor, as a learner may not load one) or
        loaded now. One round trip when it is there already, two when it is not."""
        try:
            found = self._library()
            if found is None:
                self.client.function_load(LIBRARY_CODE)
                return True
        except redis.ResponseError as exc:
            if "already exists" in str(exc):  # another process loaded it meanwhile
                return self._library() == _OURS
            # unknown command (Redis 6), NOPERM (a class's learner, and no library loaded
            # for them), a read-only replica...: EVALSHA
            log.info("Redis Functions unavailable (%s); the kit's scripts use EVALSHA", exc)
            return False
        except ImportError as exc:  # fakeredis without lupa: no Lua at all
            log.info("no Lua here (%s)", exc)
            return False
        if found != _OURS:
            log.warning("the Functions library %s holds code that is not the kit's: its "
                        "scripts use EVALSHA instead", LIBRARY)
        return found == _OURS

    def _library(self) -> str | None:
        """What holds the kit's library name (``FUNCTION LIST WITHCODE``): :data:`_OURS`,
        :data:`_FOREIGN` (other code), or None where it is missing (on a cluster: on any
        primary, since FCALL runs on the node of its key)."""
        found = self.client.function_list(library=LIBRARY, withcode=True)
        per_node = list(found.values()) if isinstance(found, dict) else [found]
        states = {_code_state(libraries or []) for libraries in per_node}
        if _FOREIGN in states:
            return _FOREIGN
        return None if None in states else _OURS

    def call(self, name: str, keys: Sequence[Any] = (), args: Sequence[Any] = (),
             client: Any = None) -> Any:
        """Run script ``name``: ``FCALL`` (reloading the library once if it vanished, as after
        ``FUNCTION FLUSH`` or a restart without persistence), or ``EVALSHA``."""
        if self.ensure_loaded() == "scripts":
            return self.evalsha[name](keys=list(keys), args=list(args), client=client)
        target = self.client if client is None else client
        try:
            return target.fcall(function_name(name), len(keys), *keys, *args)
        except redis.ResponseError as exc:
            if "not found" not in str(exc).lower() or client is not None:
                raise  # a pipeline's error surfaces at execute(); the next call reloads
            if not self.load():  # gone, and this user may not load it again: EVALSHA
                self.mode = "scripts"
                return self.evalsha[name](keys=list(keys), args=list(args))
            return target.fcall(function_name(name), len(keys), *keys, *args)


#: What FUNCTION LIST found under the kit's library name.
_OURS = "ours"
_FOREIGN = "foreign"


def _code_state(libraries: list[Any]) -> str | None:
    """:data:`_OURS`, :data:`_FOREIGN` or None (missing), from FUNCTION LIST's reply."""
    for entry in libraries:
        fields = entry if isinstance(entry, dict) else dict(zip(entry[::2], entry[1::2],
                                                                strict=False))
        if fields.get("library_name") == LIBRARY:
            return _OURS if fields.get("library_code") == LIBRARY_CODE else _FOREIGN
    return None


class KitScript:
    """One of the kit's scripts, called like redis-py's ``Script``:
    ``script(keys=[...], args=[...], client=pipe)``. ``sha`` and ``script`` are the EVALSHA
    form's, for code that sends it itself (one pipeline per cluster node)."""

    def __init__(self, scripts: KitScripts, name: str) -> None:
        self.scripts = scripts
        self.name = name
        self.script = SCRIPTS[name]
        self.sha = scripts.evalsha[name].sha

    def __call__(self, keys: Sequence[Any] = (), args: Sequence[Any] = (),
                 client: Any = None) -> Any:
        return self.scripts.call(self.name, keys, args, client)

    def __repr__(self) -> str:
        return f"KitScript({self.name!r})"
