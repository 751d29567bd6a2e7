"""The queries the design calls (``queries.obtenerTicket`` and friends), on libSQL.

Every statement is parameterised. Each method is one ``execute`` or one atomic ``batch``, so
the store adds almost nothing over a bare driver call (``make bench`` measures it): what costs
is the driver and the network, which is exactly what the cache lessons measure.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from importlib import resources
from typing import Any

from ..errors import DatabaseError, HelpdeskError
from ..models import PRIORITIES, STATUSES, Interaction, Ticket, User, from_iso, to_iso, utcnow
from .database import Database, Statement

__all__ = ["TICKET_COLUMNS", "TICKET_EDITABLE", "HelpdeskStore", "check_choice"]

USER_COLUMNS = "id, name, email, role, active, created_at"
TICKET_COLUMNS = (
    "id, title, description, status, priority, requester_id, owner_id, created_at, "
    "updated_at, version"
)
INTERACTION_COLUMNS = "id, ticket_id, author_id, body, created_at"
TABLES = ("users", "tickets", "interactions", "interactions_archive", "notifications")
#: The ticket fields a caller may change (the app checks against the same tuple).
TICKET_EDITABLE = ("title", "description", "status", "priority", "owner_id")


def user_from_row(row: Sequence[Any]) -> User:
    return User(row[0], row[1], row[2], row[3], bool(row[4]), from_iso(row[5]))


def ticket_from_row(row: Sequence[Any]) -> Ticket:
    return Ticket(row[0], row[1], row[2], row[3], row[4], row[5], row[6],
                  from_iso(row[7]), from_iso(row[8]), row[9])


def interaction_from_row(row: Sequence[Any]) -> Interaction:
    return Interaction(row[0], row[1], row[2], row[3], from_iso(row[4]))


def check_choice(name: str, value: object, allowed: tuple[str, ...],
                 error: type[HelpdeskError] = DatabaseError) -> None:
    """Raise ``error`` unless ``value`` is one of ``allowed``.

    The store raises :class:`DatabaseError`; the app checks the same way before writing,
    raising :class:`~helpdesk_kit.errors.InputError`.
    """
    if value not in allowed:
        raise error(f"{name} must be one of {', '.join(allowed)}; got {value!r}")


class HelpdeskStore:
    """The system of record. Build with :func:`helpdesk_kit.db.open_store`."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def __repr__(self) -> str:
        return f"HelpdeskStore({self.db.url!r})"

    # --- schema -----------------------------------------------------------------------
    def apply_schema(self) -> None:
        """Create the tables and indexes if they are missing (safe to run on every start)."""
        script = resources.files("helpdesk_kit.db").joinpath("schema.sql").read_text()
        self.db.executescript(script)

    def counts(self) -> dict[str, int]:
        """Rows per table, in one round trip."""
        results = self.db.batch([(f"SELECT COUNT(*) FROM {t}", ()) for t in TABLES])
        return {t: int(r.rows[0][0]) for t, r in zip(TABLES, results, strict=True)}

    # --- users ------------------------------------------------------------------------
    def get_user(self, user_id: int) -> User | None:
        rs = self.db.execute(f"SELECT {USER_COLUMNS} FROM users WHERE id = ?", (user_id,))
        return user_from_row(rs.rows[0]) if rs.rows else None

    def list_users(self, *, active_only: bool = True, limit: int = 1000, offset: int = 0
                   ) -> list[User]:
        """The design's ``listarUsuarios`` (active users by default), ordered by id."""
        where = "WHERE active = 1" if active_only else ""
        rs = self.db.execute(
            f"SELECT {USER_COLUMNS} FROM users {where} ORDER BY id LIMIT ? OFFSET ?",
            (limit, offset),
        )
        return [user_from_row(r) for r in rs.rows]

    def create_user(self, name: str, email: str, role: str = "customer",
                    now: datetime | None = None) -> User:
        from ..models import ROLES

        check_choice("role", role, ROLES)
        rs = self.db.execute(
            f"INSERT INTO users (name, email, role, active, created_at) VALUES (?, ?, ?, 1, ?) "
            f"RETURNING {USER_COLUMNS}",
            (name, email, role, to_iso(now or utcnow())),
        )
        return user_from_row(rs.rows[0])

    # --- tickets ----------------------------------------------------------------------
    def get_ticket(self, ticket_id: int) -> Ticket | None:
        """The design's ``queries.obtenerTicket``."""
        rs = self.db.execute(f"SELECT {TICKET_COLUMNS} FROM tickets WHERE id = ?", (ticket_id,))
        return ticket_from_row(rs.rows[0]) if rs.rows else None

    def list_tickets(self, *, status: str | None = None, priority: str | None = None,
                     owner_id: int | None = None, limit: int = 100, offset: int = 0
                     ) -> list[Ticket]:
        """Newest activity first, filtered; the design's "Listar 100 tickets" is the default."""
        if status is not None:
            check_choice("status", status, STATUSES)
        if priority is not None:
            check_choice("priority", priority, PRIORITIES)
        clauses = []
        args = []
        for column, value in (("status", status), ("priority", priority), ("owner_id", owner_id)):
            if value is not None:
                clauses.append(f"{column} = ?")
                args.append(value)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        rs = self.db.execute(
            f"SELECT {TICKET_COLUMNS} FROM tickets {where} "
            "ORDER BY updated_at DESC, id DESC LIMIT ? OFFSET ?",
            (*args, limit, offset),
        )
        return [ticket_from_row(r) for r in rs.rows]

    def create_ticket(self, requester_id: int, title: str, description: str = "",
                      priority: str = "medium", owner_id: int | None = None,
                      now: datetime | None = None) -> Ticket:
        check_choice("priority", priority, PRIORITIES)
        if not title.strip():
            raise DatabaseError("a ticket needs a title")
        stamp = to_iso(now or utcnow())
        rs = self.db.execute(
            "INSERT INTO tickets (title, description, status, priority, requester_id, owner_id, "
            "created_at, updated_at) VALUES (?, ?, 'open', ?, ?, ?, ?, ?) "
            f"RETURNING {TICKET_COLUMNS}",
            (title, description, priority, requester_id, owner_id, stamp, stamp),
        )
        return ticket_from_row(rs.rows[0])

    def update_ticket(self, ticket_id: int, *, now: datetime | None = None,
                      **changes: Any) -> Ticket | None:
        """Change some of title/description/status/priority/owner_id; bumps version.

        Returns the new row, or None if the ticket does not exist.
        """
        unknown = set(changes) - set(TICKET_EDITABLE)
        if unknown:
            raise DatabaseError(f"cannot update {', '.join(sorted(unknown))} of a ticket; "
                                f"editable: {', '.join(TICKET_EDITABLE)}")
        if "status" in changes:
            check_choice("status", changes["status"], STATUSES)
        if "priority" in changes:
            check_choice("priority", changes["priority"], PRIORITIES)
        # Column names come from the fixed allow-list above, values are parameters.
        sets = "".join(f"{column} = ?, " for column in changes)
        rs = self.db.execute(
            f"UPDATE tickets SET {sets}updated_at = ?, version = version + 1 "
            f"WHERE id = ? RETURNING {TICKET_COLUMNS}",
            (*changes.values(), to_iso(now or utcnow()), ticket_id),
        )
        return ticket_from_row(rs.rows[0]) if rs.rows else None

    # --- interactions (comments) ------------------------------------------------------
    def add_interaction(self, ticket_id: int, author_id: int, body: str,
                        now: datetime | None = None) -> Interaction:
        """Add a comment and bump the ticket's activity time, atomically (one batch)."""
        if not body.strip():
            raise DatabaseError("a comment needs a body")
        stamp = to_iso(now or utcnow())
        statements: list[Statement] = [
            ("UPDATE tickets SET updated_at = ?, version = version + 1 WHERE id = ?",
             (stamp, ticket_id)),
            ("INSERT INTO interactions (ticket_id, author_id, body, created_at) "
             f"SELECT ?, ?, ?, ? WHERE changes() = 1 RETURNING {INTERACTION_COLUMNS}",
             (ticket_id, author_id, body, stamp)),
        ]
        rs = self.db.batch(statements)[1]
        if not rs.rows:
            raise DatabaseError(f"ticket {ticket_id} does not exist")
        return interaction_from_row(rs.rows[0])

    def list_interactions(self, ticket_id: int) -> list[Interaction]:
        rs = self.db.execute(
            f"SELECT {INTERACTION_COLUMNS} FROM interactions WHERE ticket_id = ? "
            "ORDER BY created_at, id",
            (ticket_id,),
        )
        return [interaction_from_row(r) for r in rs.rows]

    # --- the background tasks' queries (see helpdesk_kit.tasks) -------------------------
    def close_inactive_tickets(self, cutoff: datetime, now: datetime) -> list[int]:
        """Close every non-closed ticket with no activity since ``cutoff``; their ids.

        Closing is activity: ``updated_at`` becomes ``now`` and ``version`` goes up.
        """
        rs = self.db.execute(
            "UPDATE tickets SET status = 'closed', updated_at = ?, version = version + 1 "
            "WHERE status != 'closed' AND updated_at < ? RETURNING id",
            (to_iso(now), to_iso(cutoff)),
        )
        return sorted(row[0] for row in rs.rows)

    def tickets_closed_at(self, moment: datetime) -> list[int]:
        """Ids of the closed tickets last changed at exactly ``moment`` (a closing run's now)."""
        rs = self.db.execute(
            "SELECT id FROM tickets WHERE status = 'closed' AND updated_at = ? ORDER BY id",
            (to_iso(moment),),
        )
        return [row[0] for row in rs.rows]

    def ticket_exists(self, ticket_id: int) -> bool:
        rs = self.db.execute("SELECT 1 FROM tickets WHERE id = ?", (ticket_id,))
        return bool(rs.rows)

    def record_notification(self, ticket_id: int, user_id: int, kind: str, now: datetime,
                            task_id: str) -> int:
        """One notification row per task (``task_id`` is UNIQUE); 1 if new, 0 if a repeat."""
        rs = self.db.execute(
            "INSERT OR IGNORE INTO notifications (ticket_id, user_id, kind, created_at, task_id)"
            " VALUES (?, ?, ?, ?, ?)",
            (ticket_id, user_id, kind, to_iso(now), task_id),
        )
        return rs.rows_affected

    def notification_count(self) -> int:
        return int(self.db.execute("SELECT COUNT(*) FROM notifications").rows[0][0])

    def archive_interactions_batch(self, cutoff: datetime, limit: int, now: datetime) -> int:
        """Move up to ``limit`` comments older than ``cutoff`` to the archive; how many moved.

        The choice of rows, the copy (``INSERT OR IGNORE``) and the delete are one transaction:
        stopped between two batches, nothing is lost or archived twice, and two archivers at
        once each move rows the other did not (the count is this batch's own deletes).
        """
        pick = "SELECT id FROM interactions WHERE created_at < ? ORDER BY id LIMIT ?"
        pick_args = (to_iso(cutoff), limit)
        # Both statements pick the same ids: nothing else writes inside this transaction.
        results = self.db.batch([
            ("INSERT OR IGNORE INTO interactions_archive "
             "(id, ticket_id, author_id, body, created_at, archived_at) "
             f"SELECT {INTERACTION_COLUMNS}, ? FROM interactions WHERE id IN ({pick})",
             (to_iso(now), *pick_args)),
            (f"DELETE FROM interactions WHERE id IN ({pick})", pick_args),
        ])
        return results[1].rows_affected
