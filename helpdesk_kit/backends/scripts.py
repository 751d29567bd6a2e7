"""The kit's one way to run a Lua script: ``FCALL`` of a Functions library, else ``EVALSHA``.

The cache (its stale-set guard, lock release and warming page), the queue (ack and reserve in
one step) and the rate limiter each keep their Lua source beside the code that uses it, as a
:class:`Library`; a :class:`ScriptRunner` runs one library's scripts on one client.

Sent with ``EVALSHA``, a script lives in the server's *script cache*: ``SCRIPT FLUSH``, a
restart or a failover to a replica empties it, and the next ``EVALSHA`` answers ``NOSCRIPT``
(the runner then sends the whole script once with ``EVAL``, which caches it again - one more
round trip, invisible to the caller).

Redis 7 **Functions** belong to the data set instead: ``FUNCTION LOAD`` once, and they are
saved with it (RDB, AOF) and replicated to replicas like keys; ``FCALL name numkeys keys...
args...`` runs one. The runner loads its library on first use where the server has Functions
(Redis 7 and later; fakeredis 2.2x with Lua too) and uses ``EVALSHA`` where it does not -
Redis 6, or a service that disables ``FUNCTION``.

A library's name carries a hash of its code (``helpdesk_kit_1a2b3c4d``): two versions of the
kit sharing one server (a class) load two libraries instead of replacing each other's.

Libraries are server-global: any user allowed ``FUNCTION LOAD REPLACE`` could put other code
under the kit's names, and ``FCALL`` would run it with the *caller's* permissions. So the
runner calls a library only after reading it back (``FUNCTION LIST WITHCODE``) and finding
exactly its own code there; anything else, and it uses ``EVALSHA``, whose SHA names one
script body. In a class, learners may not load libraries at all: the instructor loads the
kit's (:func:`helpdesk_kit.lab.classroom.load_kit_library`), and learners' clients call them.

The runner is also the one place that records whether this server runs Lua at all
(:attr:`ScriptRunner.lua`): code that has another way (warming's transaction) reads it there.
On Redis Cluster one script call goes to the node of its first key; many calls at once go as
one pipeline per node (:meth:`ScriptRunner.run_per_node`).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping, Sequence
from typing import Any

import redis
from redis.client import NEVER_DECODE
from redis.exceptions import NoPermissionError, NoScriptError

from ..vocab import ScriptMode
from .cluster import group_by_node

__all__ = ["Library", "ScriptRunner"]

log = logging.getLogger("helpdesk_kit.scripts")

#: What FUNCTION LIST found under a library's name.
_OURS = "ours"
_FOREIGN = "foreign"


def _sha1(text: str) -> str:
    return hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest()


class Library:
    """Named Lua scripts, loadable as one Functions library.

    ``base``: the library's name before its version (``helpdesk_kit``). ``scripts``: each
    script's body by name, written for ``EVAL`` (``KEYS``, ``ARGV``); the library wraps each
    body in a function of ``(KEYS, ARGV)``, so the body reads exactly as it does with EVAL.
    """

    def __init__(self, base: str, scripts: Mapping[str, str]) -> None:
        self.scripts = dict(scripts)
        #: The first 8 hex digits of the SHA-1 of the scripts' code.
        self.version = _sha1("".join(self.scripts.values()))[:8]
        #: The library's name: the base, plus the hash of its code.
        self.name = f"{base}_{self.version}"
        #: What ``FUNCTION LOAD`` receives.
        self.code = self._code()
        self._shas = {name: _sha1(body) for name, body in self.scripts.items()}

    def __repr__(self) -> str:
        return f"Library({self.name!r}, {', '.join(self.scripts)})"

    def function_name(self, script: str) -> str:
        """The name ``FCALL`` uses for one script (``hk_1a2b3c4d_guarded_set``)."""
        return f"hk_{self.version}_{script}"

    def sha(self, script: str) -> str:
        """The SHA-1 ``EVALSHA`` names one script by."""
        return self._shas[script]

    def _code(self) -> str:
        lines = [f"#!lua name={self.name}"]
        for name, body in self.scripts.items():
            lines.append(f"local function {name}(KEYS, ARGV)")
            lines.append(body.strip())
            lines.append("end")
            lines.append(f"redis.register_function('{self.function_name(name)}', {name})")
        return "\n".join(lines) + "\n"

    def state(self, libraries: list[Any]) -> str | None:
        """:data:`_OURS`, :data:`_FOREIGN` or None (missing), from one FUNCTION LIST reply."""
        for entry in libraries:
            if isinstance(entry, dict):
                fields = entry
            else:  # RESP2: a flat list of names and values
                fields = dict(zip(entry[::2], entry[1::2], strict=False))
            if fields.get("library_name") == self.name:
                return _OURS if fields.get("library_code") == self.code else _FOREIGN
        return None


def _send(client: redis.Redis, command: tuple[str, str], keys: list[str], args: list[object],
          raw: bool) -> Any:
    """``FCALL name`` / ``EVALSHA sha`` / ``EVAL body``, then ``numkeys keys... args...``."""
    options = {NEVER_DECODE: True} if raw else {}
    return client.execute_command(*command, len(keys), *keys, *args, **options)


def _refuses_scripts(exc: redis.ResponseError) -> bool:
    """True for a server that runs no scripts for us: no such command (an old or managed
    Redis), or an ACL that denies it."""
    message = str(exc).lower()
    return (isinstance(exc, NoPermissionError) or "unknown command" in message
            or "noperm" in message)


class ScriptRunner:
    """Runs one :class:`Library`'s scripts on one client: FCALL, or EVALSHA as a fallback.

    ``client``: a redis-py client; a cluster client too (a call goes to the node of its
    first key). ``functions=False`` skips Functions altogether (lesson 13 compares the two).
    """

    def __init__(self, client: redis.Redis, library: Library, *, functions: bool = True) -> None:
        self.client = client
        self.library = library
        #: How the scripts run here: None until first use (then FUNCTIONS or SCRIPTS).
        self.mode: ScriptMode | None = None if functions else ScriptMode.SCRIPTS
        #: Whether this server runs Lua at all: None until a script ran or was refused
        #: (fakeredis without lupa, an ACL, a service without scripting: False). Only the
        #: runner records it; code with another way (warming) reads it, or sets it to
        #: False to take that way on purpose (the benchmark, a test).
        self.lua: bool | None = None

    def __repr__(self) -> str:
        if self.mode is ScriptMode.FUNCTIONS:
            how = f"FCALL, library {self.library.name}"
        elif self.mode is ScriptMode.SCRIPTS:
            how = "EVALSHA, script cache"
        else:
            how = "not used yet"
        return f"ScriptRunner({how})"

    # --- the library -------------------------------------------------------------------
    def ensure_loaded(self) -> ScriptMode:
        """Load the library if this server has Functions and lacks it; returns the mode."""
        if self.mode is None:
            self.mode = ScriptMode.FUNCTIONS if self.load() else ScriptMode.SCRIPTS
        return self.mode

    def load(self) -> bool:
        """Make sure the library is there: True if its own code is - found there (loaded
        before; in a class, by the instructor, as a learner may not load one) or loaded now.
        One round trip when it is there already, two when it is not."""
        try:
            found = self._library()
            if found is None:
                self.client.function_load(self.library.code)
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
                        "scripts use EVALSHA instead", self.library.name)
        return found == _OURS

    def _library(self) -> str | None:
        """What holds the library's name (``FUNCTION LIST WITHCODE``): ours, foreign (other
        code), or None where it is missing (on a cluster: on any primary, since FCALL runs on
        the node of its key)."""
        found = self.client.function_list(library=self.library.name, withcode=True)
        if isinstance(found, dict):  # a cluster: one reply per primary
            per_node = list(found.values())
        else:
            per_node = [found]
        states = {self.library.state(libraries or []) for libraries in per_node}
        if _FOREIGN in states:
            return _FOREIGN
        if None in states:
            return None
        return _OURS

    # --- running -----------------------------------------------------------------------
    def run(self, name: str, keys: Sequence[str] = (), args: Sequence[object] = (), *,
            raw: bool = False, client: redis.Redis | None = None) -> Any:
        """Run script ``name``: ``FCALL`` (reloading the library once if it vanished, as after
        ``FUNCTION FLUSH`` or a restart without persistence), or ``EVALSHA``.

        ``raw=True`` leaves the reply as bytes (a queue entry may not be UTF-8). ``client``
        sends it on another client of the same server (the caller's own, when it may have
        swapped it); the library is checked on the runner's. Errors reach the caller; one
        that says this server runs no scripts is recorded in :attr:`lua`.
        """
        target = self.client if client is None else client
        try:
            reply = self._run(target, name, list(keys), list(args), raw)
        except ImportError:  # fakeredis without lupa: no Lua here at all
            self.lua = False
            raise
        except redis.ResponseError as exc:
            if _refuses_scripts(exc):
                self.lua = False
            raise
        if self.lua is None:
            self.lua = True
        return reply

    def _run(self, target: redis.Redis, name: str, keys: list[str], args: list[object],
             raw: bool) -> Any:
        if self.ensure_loaded() is ScriptMode.SCRIPTS:
            return self._evalsha(target, name, keys, args, raw)
        fcall = ("FCALL", self.library.function_name(name))
        try:
            return _send(target, fcall, keys, args, raw)
        except redis.ResponseError as exc:
            if "not found" not in str(exc).lower():
                raise
        # the library is gone (FUNCTION FLUSH, a restart without persistence): load it again
        if not self.load():  # gone, and this user may not load it again: EVALSHA
            self.mode = ScriptMode.SCRIPTS
            return self._evalsha(target, name, keys, args, raw)
        return _send(target, fcall, keys, args, raw)

    def _evalsha(self, target: redis.Redis, name: str, keys: list[str], args: list[object],
                 raw: bool) -> Any:
        try:
            return _send(target, ("EVALSHA", self.library.sha(name)), keys, args, raw)
        except NoScriptError:  # a new or restarted server: send the script itself, once
            return _send(target, ("EVAL", self.library.scripts[name]), keys, args, raw)

    def run_per_node(self, name: str,
                     calls: Sequence[tuple[Sequence[str], Sequence[object]]]) -> list[Any]:
        """Run script ``name`` once per ``(keys, args)``: one pipeline per node that holds
        some of the calls' first keys (one pipeline on a single server). Replies come in the
        order of ``calls``.

        A cluster pipeline refuses scripts, so each node's pipeline runs on that node's own
        client. A stale slot map answers MOVED: a RedisError for the caller.
        """
        replies: list[Any] = [None] * len(calls)
        for node, indexes in group_by_node(self.client, [keys[0] for keys, _ in calls]):
            batch = [calls[i] for i in indexes]
            for i, reply in zip(indexes, self._run_batch(node, name, batch), strict=True):
                replies[i] = reply
        return replies

    def _run_batch(self, node: redis.Redis, name: str,
                   batch: list[tuple[Sequence[str], Sequence[object]]]) -> list[Any]:
        """One pipeline on one node: FCALL, or EVALSHA; on the first failure the library is
        loaded again (or the node taught the script), and the pipeline sent once more."""
        for attempt in range(2):
            if self.ensure_loaded() is ScriptMode.FUNCTIONS:
                command = ("FCALL", self.library.function_name(name))
            else:
                command = ("EVALSHA", self.library.sha(name))
            pipe = node.pipeline(transaction=False)
            for keys, args in batch:
                pipe.execute_command(*command, len(keys), *keys, *args)
            try:
                return list(pipe.execute())
            except NoScriptError:  # a node that never ran it (new, restarted): teach it
                if attempt:
                    raise
                node.script_load(self.library.scripts[name])
            except redis.ResponseError as exc:
                if attempt or "not found" not in str(exc).lower():
                    raise
                if not self.load():  # the library is gone, and may not be loaded again
                    self.mode = ScriptMode.SCRIPTS
        raise AssertionError("unreachable: the second attempt returns or raises")
