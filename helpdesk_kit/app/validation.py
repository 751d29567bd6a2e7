"""Input checks for the actions: a rejected action writes nothing, and says which field.

Each check returns the value it accepted, so an action reads ``check_id("ticket_id", x)``.
"""

from __future__ import annotations

from typing import Any

from ..db.store import TICKET_EDITABLE, check_choice
from ..errors import InputError
from ..models import PRIORITIES, STATUSES

__all__ = ["check_id", "check_int", "check_text", "check_ticket_changes"]


def check_int(name: str, value: object, low: int, high: int | None = None) -> int:
    """``value`` if it is an int within low..high (True is not a number here)."""
    if (isinstance(value, bool) or not isinstance(value, int) or value < low
            or (high is not None and value > high)):
        span = f"from {low} to {high}" if high is not None else f">= {low}"
        raise InputError(f"{name} must be an integer {span}, got {value!r}")
    return value


def check_id(name: str, value: object) -> int:
    """A row id: an int of at least 1."""
    return check_int(name, value, 1)


def check_text(name: str, value: object) -> str:
    """Text with something in it besides spaces."""
    if not isinstance(value, str) or not value.strip():
        raise InputError(f"{name} must not be empty")
    return value


def check_ticket_changes(changes: dict[str, Any]) -> dict[str, Any]:
    """The changes ``update_ticket`` may make (title stripped); raises InputError otherwise."""
    if not changes:
        raise InputError(f"nothing to change; editable: {', '.join(TICKET_EDITABLE)}")
    unknown = sorted(set(changes) - set(TICKET_EDITABLE))
    if unknown:
        raise InputError(f"cannot change {', '.join(unknown)}; "
                         f"editable: {', '.join(TICKET_EDITABLE)}")
    checked = dict(changes)
    if "title" in checked:
        checked["title"] = check_text("title", checked["title"]).strip()
    if "status" in checked:
        check_choice("status", checked["status"], STATUSES, InputError)
    if "priority" in checked:
        check_choice("priority", checked["priority"], PRIORITIES, InputError)
    return checked
