"""JSON in and out of the cache: rows become JSON text, and JSON text becomes rows again.

Why JSON and never pickle: any client (redis-cli, a lesson cell, another language) can read
the value, and unpickling bytes from a shared server would run whatever code they carry.

The stored text is the row itself, as the design's ``JSON.stringify(userData)``: timestamps are
ISO 8601 UTC text (:func:`~helpdesk_kit.models.to_iso`) and come back as aware ``datetime`` objects.
The JSON literal ``null`` is the one special value: "the database has no such row" (negative
caching). Anything that does not decode to the expected shape raises
:class:`~helpdesk_kit.errors.CacheValueError`, and nothing else: not JSON, JSON nested too deep
for the parser (``RecursionError``), a field missing, a field of the wrong type (``"id": "7"``,
``"active": "no"``) or a ``role``/``status``/``priority`` outside its allowed set. Every field is
checked, so a row that decodes is a row the store could have returned. The cache treats the
error as a miss (counted, deleted, reloaded).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from ..errors import CacheValueError
from ..models import PRIORITIES, ROLES, STATUSES, Ticket, User, from_iso, to_iso
from ..vocab import Entity

__all__ = [
    "CODECS",
    "MISSING",
    "PAGE",
    "SESSION",
    "TICKET",
    "USER",
    "Codec",
    "TicketPage",
    "codec_for",
    "decode_ticket",
    "decode_tickets",
    "decode_user",
    "encode_ticket",
    "encode_tickets",
    "encode_user",
]

#: Stored under a key when the database has no such row (negative caching).
MISSING = "null"

V = TypeVar("V")
#: A JSON object as ``json.loads`` gives it: each field is checked before it is used.
JsonObject = dict[str, object]

_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def _flat_encoder() -> Callable[[JsonObject], str]:
    """``_dumps`` for the flat rows this module builds, ~40% faster: the C encoder made once.

    ``JSONEncoder.encode`` builds a new C encoder on every call (and a circular-reference
    check, useless for a dict of numbers and strings). Warming encodes thousands of rows per
    second, so the row codecs build it once; the output is the same text (a test compares
    them). Sessions hold what a caller gave, so they keep ``_dumps`` and its checks.
    """
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:  # a Python without the C accelerator
        return _dumps
    encoder = make(None, json.JSONEncoder().default, json.encoder.encode_basestring, None,
                   ":", ",", False, False, True)
    return lambda row: "".join(encoder(row, 0))


_dump_row = _flat_encoder()


# Speed matters here: this runs on every cache hit and every warmed row. ``dict(vars(row))``
# is a shallow copy (``dataclasses.asdict`` deep-copies and costs ~10x more), and ``_utc``
# skips the time-zone conversion for the "+00:00" text this module itself writes.
def _user_dict(user: User) -> JsonObject:
    data = dict(vars(user))
    data["created_at"] = to_iso(user.created_at)
    return data


def _ticket_dict(ticket: Ticket) -> JsonObject:
    data = dict(vars(ticket))
    data["created_at"] = to_iso(ticket.created_at)
    data["updated_at"] = to_iso(ticket.updated_at)
    return data


def _utc(d: JsonObject, name: str) -> datetime:
    text = _text(d, name)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{name} is not an ISO 8601 time: {text!r}") from None
    if moment.tzinfo is None:
        raise ValueError(f"{name} has no time zone: {text!r}")
    return moment if moment.tzinfo is UTC else from_iso(text)


def _int(d: JsonObject, name: str) -> int:
    value = d[name]
    if isinstance(value, bool) or not isinstance(value, int):  # True is not an id
        raise TypeError(f"{name} must be an integer, got {value!r}")
    return value


def _text(d: JsonObject, name: str) -> str:
    value = d[name]
    if not isinstance(value, str):
        raise TypeError(f"{name} must be text, got {value!r}")
    return value


def _choice(d: JsonObject, name: str, allowed: tuple[str, ...]) -> str:
    value = _text(d, name)
    if value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(allowed)}, got {value!r}")
    return value


def _flag(d: JsonObject, name: str) -> bool:
    value = d[name]
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):  # SQLite's booleans, as the store reads them
        return bool(value)
    raise TypeError(f"{name} must be true or false, got {value!r}")


def _object(data: object) -> JsonObject:
    if not isinstance(data, dict):
        raise TypeError(f"expected a JSON object, got {type(data).__name__}")
    return data


def _user_from(data: object) -> User:
    d = _object(data)
    return User(_int(d, "id"), _text(d, "name"), _text(d, "email"), _choice(d, "role", ROLES),
                _flag(d, "active"), _utc(d, "created_at"))


def _ticket_from(data: object) -> Ticket:
    d = _object(data)
    owner = None if d["owner_id"] is None else _int(d, "owner_id")
    return Ticket(_int(d, "id"), _text(d, "title"), _text(d, "description"),
                  _choice(d, "status", STATUSES), _choice(d, "priority", PRIORITIES),
                  _int(d, "requester_id"), owner, _utc(d, "created_at"),
                  _utc(d, "updated_at"), _int(d, "version"))


def _page_from(data: object) -> tuple[str | None, list[Ticket]]:
    d = _object(data)
    generation = d["gen"]
    tickets = d["tickets"]
    if generation is not None and not isinstance(generation, str):
        raise TypeError(f"gen must be text, got {generation!r}")
    if not isinstance(tickets, list):
        raise TypeError("tickets must be a list")
    return generation, [_ticket_from(t) for t in tickets]


#: Everything a malformed value can raise while it is parsed and checked.
_MALFORMED = (ValueError, KeyError, TypeError, AttributeError, RecursionError, OverflowError)


def _decoding(what: str, text: str, build: Callable[[object], V]) -> V:
    """Run ``build`` on the parsed JSON; any failure becomes one clear CacheValueError."""
    try:
        return build(json.loads(text))
    except _MALFORMED as exc:
        shown = text if len(text) <= 60 else text[:57] + "..."
        raise CacheValueError(f"cached value is not a {what}: {shown!r} "
                              f"({type(exc).__name__}: {exc})") from None


def encode_user(user: User) -> str:
    return _dump_row(_user_dict(user))


def decode_user(text: str) -> User:
    return _decoding(Entity.USER, text, _user_from)


def encode_ticket(ticket: Ticket) -> str:
    return _dump_row(_ticket_dict(ticket))


def decode_ticket(text: str) -> Ticket:
    return _decoding(Entity.TICKET, text, _ticket_from)


def encode_tickets(tickets: list[Ticket], generation: str | None) -> str:
    """A cached list page: the tickets plus the list generation it was built at."""
    return _dumps({"gen": generation, "tickets": [_ticket_dict(t) for t in tickets]})


def decode_tickets(text: str) -> tuple[str | None, list[Ticket]]:
    """``(generation, tickets)`` of a cached list page."""
    return _decoding("ticket list", text, _page_from)


def _decode_session(text: str) -> dict[str, Any]:
    return _decoding(Entity.SESSION, text, _object)


@dataclass(frozen=True)
class TicketPage:
    """A cached page of a ticket list, and the list generation it was built at."""

    generation: str | None
    tickets: list[Ticket]


def _encode_page(page: TicketPage) -> str:
    return encode_tickets(page.tickets, page.generation)


def _decode_page(text: str) -> TicketPage:
    generation, tickets = decode_tickets(text)
    return TicketPage(generation, tickets)


@dataclass(frozen=True)
class Codec(Generic[V]):
    """How the values of one entity are written to Redis and read back.

    ``decode`` raises :class:`~helpdesk_kit.errors.CacheValueError` for anything that is not
    such a value, and nothing else. ``missing``: the text ``null`` is a cached "no such row"
    (negative caching), which a list page never is.
    """

    entity: Entity
    encode: Callable[[V], str]
    decode: Callable[[str], V]
    missing: bool = True


#: A user row, ``user:{id}``.
USER = Codec(Entity.USER, encode_user, decode_user)
#: A ticket row, ``ticket:{id}``.
TICKET = Codec(Entity.TICKET, encode_ticket, decode_ticket)
#: Session data, ``session:{id}``: whatever JSON object the caller gave.
SESSION: Codec[dict[str, Any]] = Codec(Entity.SESSION, _dumps, _decode_session)
#: A page of a ticket list, ``tickets:status=..``.
PAGE = Codec(Entity.TICKETS, _encode_page, _decode_page, missing=False)

#: The codec of each entity the generic operations (``put``, ``get_or_load``...) take.
CODECS: dict[Entity, Codec[Any]] = {codec.entity: codec for codec in (USER, TICKET, SESSION)}


def codec_for(entity: Entity) -> Codec[Any]:
    """The codec of ``entity``; a ValueError names the entities that have one."""
    try:
        return CODECS[entity]
    except KeyError:
        known = ", ".join(CODECS)
        raise ValueError(f"the cache has no codec for {entity!r} (it has: {known})") from None
