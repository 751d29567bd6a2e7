"""Input checks for the actions: a rejected action writes nothing, and says which field.

Each check returns the value it accepted, so an action reads ``check_id("ticket_id", x)``.
"""

from __future__ import annotations

from ..errors import InputError

__all__ = ["check_id", "check_int", "check_text"]


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
