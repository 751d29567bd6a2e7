"""What every database driver gives :class:`~helpdesk_kit.db.database.Database`: one small shape.

A driver module (``libsql_driver``, ``client_driver``) opens a URL and returns a
:class:`Connection`; each statement's answer is a :class:`Result`. The store only ever sees
these two, so a driver can be swapped without touching a query.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

__all__ = ["Connection", "Result", "Statement"]

#: A statement: SQL text and its positional parameters (always parameters, never formatting).
Statement = tuple[str, Sequence[Any]]


@dataclass(frozen=True, slots=True)
class Result:
    """One statement's answer: its rows (tuples, in column order) and the rows it changed."""

    rows: Sequence[tuple[Any, ...]]
    #: rows an INSERT/UPDATE/DELETE changed (drivers differ for ``RETURNING``: count ``rows``)
    rows_affected: int


class Connection(Protocol):
    """An open connection to one database, as a driver module returns it."""

    def execute(self, sql: str, args: Sequence[Any]) -> Result:
        """Run one parameterised statement."""
        ...

    def batch(self, statements: Sequence[Statement]) -> list[Result]:
        """Run statements in one transaction: every one applies, or none does."""
        ...

    def close(self) -> None:
        """Release the connection (safe to call twice)."""
        ...
