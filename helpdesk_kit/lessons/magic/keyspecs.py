"""Which arguments of a command are keys: Redis's own *key specs*, read the way Redis reads them.

Since Redis 7, ``COMMAND INFO <name>`` describes where a command's keys are, as a list of key
specs. Each spec says where to *begin the search* - at a fixed index (``GET key``: index 1)
or after a keyword (``XREAD ... STREAMS key ...``: after ``STREAMS``) - and how to *find the
keys* from there: a range (``MSET k1 v1 k2 v2``: every 2nd argument to the end) or a count
given by an argument (``EVAL script 2 k1 k2``: ``2`` keys after the count).
:func:`key_positions` follows the same steps as the server (``getKeysUsingKeySpecs`` in
Redis's ``db.c``), so the magic prefixes exactly the arguments Redis treats as keys - and
never a value that happens to look like one (``SET a a``: only the first ``a``).

Where the specs come from: the server's ``COMMAND INFO`` first; a server that gives none
(fakeredis, Redis 6) gets the table Redis 7.0 publishes, stored in
:mod:`.keyspec_table` (``scripts/redis-key-specs`` writes it; a test compares it with a live
server). A command in neither is refused by the magic rather than sent unprefixed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from .keyspec_table import KEY_SPECS

__all__ = ["KeySpec", "KeySpecs", "key_positions", "spec_from_reply", "specs_from_info"]

#: ("index", position) or ("keyword", keyword, start from: > 0 forwards, < 0 from the end).
Begin = tuple[Any, ...]
#: ("range", last key, step, limit) or ("keynum", index of the count, first key, step).
Find = tuple[Any, ...]


@dataclass(frozen=True)
class KeySpec:
    """One key spec: where the search begins, and how the keys are found from there."""

    begin: Begin
    find: Find


def _begin(argv: Sequence[bytes], begin: Begin) -> int:
    """The index the keys start at, or 0 (the keyword is not there: no keys from this spec)."""
    if begin[0] == "index":
        return int(begin[1])
    keyword = str(begin[1]).lower()
    start = int(begin[2])
    argc = len(argv)
    first = start if start > 0 else argc + start
    last = argc - 1 if start > 0 else 1
    index = first
    while index != last:
        if index >= argc or index < 1:
            break
        if argv[index].lower() == keyword.encode():
            return index + 1
        index = index + 1 if first <= last else index - 1
    return 0


def _range(argv: Sequence[bytes], first: int, find: Find) -> range | None:
    """The key indexes of one spec, or None when the arguments do not fit it (a syntax error
    the server will answer: no argument is prefixed for it)."""
    argc = len(argv)
    if find[0] == "range":
        lastkey = int(find[1])
        step = int(find[2])
        limit = int(find[3])
        if lastkey >= 0:
            last = first + lastkey
        elif limit == 0:
            last = argc + lastkey
        else:
            last = first + ((argc - first) // limit + lastkey)
    else:  # "keynum"
        count_at = first + int(find[1])
        offset = int(find[2])
        step = int(find[3])
        if count_at >= argc:
            return None
        try:
            count = int(argv[count_at])
        except ValueError:
            return None
        if count < 0:
            return None
        first += offset
        last = first + (count - 1) * step
        if count == 0:
            return range(0)
    if step < 1 or last >= argc or last < first or first >= argc:
        return None
    return range(first, last + 1, step)


def key_positions(argv: Sequence[bytes], specs: Sequence[KeySpec]) -> list[int]:
    """The indexes in ``argv`` (``argv[0]`` is the command's name) that hold key names."""
    found: set[int] = set()
    for spec in specs:
        first = _begin(argv, spec.begin)
        if not first:
            continue
        indexes = _range(argv, first, spec.find)
        if indexes is not None:
            found.update(indexes)
    return sorted(found)


# --- reading COMMAND INFO ------------------------------------------------------------------
def _mapping(value: Any) -> dict[str, Any]:
    """A RESP3 map or a RESP2 flat array of alternating names and values, as a dict."""
    if isinstance(value, dict):
        return {_text(name): item for name, item in value.items()}
    return {_text(name): item for name, item in zip(value[::2], value[1::2], strict=True)}


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def spec_from_reply(raw: Any) -> KeySpec | None:
    """One key spec of a ``COMMAND INFO`` reply, or None if its search is ``unknown``."""
    spec = _mapping(raw)
    begin = _mapping(spec["begin_search"])
    find = _mapping(spec["find_keys"])
    begin_args = _mapping(begin["spec"])
    find_args = _mapping(find["spec"])
    begin_type = _text(begin["type"])
    find_type = _text(find["type"])
    if begin_type == "index":
        start: Begin = ("index", int(begin_args["index"]))
    elif begin_type == "keyword":
        start = ("keyword", _text(begin_args["keyword"]), int(begin_args["startfrom"]))
    else:
        return None
    if find_type == "range":
        keys: Find = ("range", int(find_args["lastkey"]), int(find_args["keystep"]),
                      int(find_args["limit"]))
    elif find_type == "keynum":
        keys = ("keynum", int(find_args["keynumidx"]), int(find_args["firstkey"]),
                int(find_args["keystep"]))
    else:
        return None
    return KeySpec(start, keys)


def specs_from_info(entry: Any) -> dict[str, tuple[KeySpec, ...]]:
    """Name -> key specs for one ``COMMAND INFO`` entry and its subcommands (``object|freq``).

    An entry without key specs (fakeredis, Redis 6) gives nothing: the table decides then.
    """
    found: dict[str, tuple[KeySpec, ...]] = {}
    if not entry or len(entry) < 9:
        return found
    specs = tuple(s for s in (spec_from_reply(raw) for raw in entry[8] or []) if s is not None)
    if entry[8]:
        found[_text(entry[0]).lower()] = specs
    for sub in (entry[9] if len(entry) > 9 else None) or []:
        found.update(specs_from_info(sub))
    return found


def _table_specs(name: str) -> tuple[KeySpec, ...] | None:
    if name not in KEY_SPECS:
        return None
    return tuple(KeySpec(tuple(begin), tuple(find)) for begin, find in KEY_SPECS[name])


#: Commands with subcommands whose keys the table knows (``OBJECT ENCODING key``...).
_TABLE_CONTAINERS = frozenset(name.split("|")[0] for name in KEY_SPECS if "|" in name)


def _legacy_keyless(entry: Any) -> bool:
    """Does a ``COMMAND INFO`` entry without key specs say the command has no keys at all?
    (first key position 0 and not ``movablekeys``: ``PING``, ``INFO``, ``SCAN``...)"""
    flags = {_text(flag).lower() for flag in entry[2] or []}
    return int(entry[3]) == 0 and "movablekeys" not in flags


class KeySpecs:
    """The key specs of every command a session meets, asked of the server once each.

    ``command_info(name)`` runs ``COMMAND INFO name`` and returns its one entry (None for a
    command the server does not know); it is called the first time a command is met.
    """

    def __init__(self, command_info: Callable[[str], Any]) -> None:
        self._command_info = command_info
        self._known: dict[str, tuple[KeySpec, ...] | None] = {}
        self._containers: set[str] = set(_TABLE_CONTAINERS)

    def lookup(self, argv: Sequence[bytes]) -> tuple[KeySpec, ...] | None:
        """The specs for ``argv``'s command (its subcommand's for ``OBJECT ENCODING key``).

        ``()`` means no argument is a key (``PING``), and also a command the server does not
        know (it will answer with an error, nothing to prefix); None means the server knows
        the command, it has keys, and nobody can say where: the magic refuses to send it.
        """
        name = _text(argv[0]).lower()
        if name not in self._known:
            self._known[name] = self._ask(name)
        if name in self._containers and len(argv) > 1:
            sub = f"{name}|{_text(argv[1]).lower()}"
            if sub not in self._known:
                self._known[sub] = self._ask(sub)
            return self._known[sub]
        return self._known[name]

    def _ask(self, name: str) -> tuple[KeySpec, ...] | None:
        entry = self._command_info(name)
        if entry and len(entry) > 9 and entry[9]:
            self._containers.add(name)
        served = specs_from_info(entry).get(name) if entry else None
        if served:
            return served
        table = _table_specs(name)
        if table is not None:
            return table
        if not entry or _legacy_keyless(entry):
            return ()
        return None
