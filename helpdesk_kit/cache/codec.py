"""JSON in and out of the cache: rows become JSON text, and JSON text becomes rows again.

Why JSON and never pickle: any client (redis-cli, a lesson cell, another language) can read
the value, and unpickling bytes from a shared server would run whatever code they carry.

The stored text is the row itself, as the seed's ``JSON.stringify(userData)``: timestamps are
ISO 8601 UTC text (:func:`models.to_iso`) and come back as aware ``datetime`` objects.
The JSON literal ``null`` is the one special value: "the database has no such row" (negative
caching). Anything that does not decode to the expected shape raises
:class:`~helpdesk_kit.errors.CacheValueError`; the cache treats that as a miss.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from ..errors import CacheValueError
from ..models import Ticket, User, from_iso, to_iso
from ..vocab import Entity

__all__ = [
    "CODECS",
    "MISSING",
    "Codec",
    "decode_ticket",
    "decode_tickets",
    "decode_user",
    "encode_ticket",
    "encode_tickets",
    "encode_user",
]

#: Stored under a key when the database has no such row (negative caching).
MISSING = "null"

_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


# Speed matters here: this runs on every cache hit and every warmed row. ``dict(vars(row))``
# is a shallow copy (``dataclasses.asdict`` deep-copies and costs ~10x more), and ``_utc``
# skips the time-zone conversion for the "+00:00" text this module itself writes.
def _user_dict(user: User) -> dict[str, Any]:
    data = dict(vars(user))
    data["created_at"] = to_iso(user.created_at)
    return data


def _ticket_dict(ticket: Ticket) -> dict[str, Any]:
    data = dict(vars(ticket))
    data["created_at"] = to_iso(ticket.created_at)
    data["updated_at"] = to_iso(ticket.updated_at)
    return data


def _utc(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo is UTC else from_iso(text)


def _user_from(d: dict[str, Any]) -> User:
    return User(d["id"], d["name"], d["email"], d["role"], d["active"], _utc(d["created_at"]))


def _ticket_from(d: dict[str, Any]) -> Ticket:
    return Ticket(d["id"], d["title"], d["description"], d["status"], d["priority"],
                  d["requester_id"], d["owner_id"], _utc(d["created_at"]),
                  _utc(d["updated_at"]), d["version"])


def _decoding(what: str, text: str, build: Callable[[Any], Any]) -> Any:
    """Run ``build`` on the parsed JSON; any failure becomes one clear CacheValueError."""
    try:
        return build(json.loads(text))
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        shown = text if len(text) <= 60 else text[:57] + "..."
        raise CacheValueError(f"cached value is not a {what}: {shown!r} "
                              f"({type(exc).__name__}: {exc})") from None


def encode_user(user: User) -> str:
    return _dumps(_user_dict(user))


def decode_user(text: str) -> User:
    return _decoding(Entity.USER, text, _user_from)


def encode_ticket(ticket: Ticket) -> str:
    return _dumps(_ticket_dict(ticket))


def decode_ticket(text: str) -> Ticket:
    return _decoding(Entity.TICKET, text, _ticket_from)


def encode_tickets(tickets: list[Ticket], generation: str | None) -> str:
    """A cached list page: the tickets plus the list generation it was built at."""
    return _dumps({"gen": generation, "tickets": [_ticket_dict(t) for t in tickets]})


def decode_tickets(text: str) -> tuple[str | None, list[Ticket]]:
    """``(generation, tickets)`` of a cached list page."""
    return _decoding("ticket list", text,
                     lambda d: (d["gen"], [_ticket_from(t) for t in d["tickets"]]))


def _decode_session(text: str) -> dict[str, Any]:
    def build(d: Any) -> dict[str, Any]:
        if not isinstance(d, dict):
            raise TypeError("a session is a JSON object")
        return d
    return _decoding(Entity.SESSION, text, build)


#: (encode, decode) per cached entity; the cache looks codecs up here by entity name.
Codec = tuple[Callable[[Any], str], Callable[[str], Any]]
CODECS: dict[str, Codec] = {
    Entity.USER: (encode_user, decode_user),
    Entity.TICKET: (encode_ticket, decode_ticket),
    Entity.SESSION: (_dumps, _decode_session),
}
