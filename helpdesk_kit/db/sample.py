"""Deterministic sample data of any size: the same seed always gives the same rows.

Times are spread over the months before a fixed reference moment, :data:`SAMPLE_NOW`, never
the wall clock, so "inactive tickets" and "old interactions" exist and every run (and every
stored notebook output) sees the same ones. Pass ``now=SAMPLE_NOW`` to the tasks to match.

Rows are written with multi-row ``INSERT``s grouped into batches: one transaction and one
driver call per few thousand rows instead of one per row.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from tqdm.auto import tqdm

from ..errors import ConfigError
from ..models import to_iso
from .database import Statement
from .store import TABLES, HelpdeskStore

__all__ = ["SAMPLE_NOW", "SampleSummary", "ensure_sample", "generate", "load_sample"]

#: The sample's "now": every generated time is before it.
SAMPLE_NOW = datetime(2026, 6, 1, 12, 0, 0, tzinfo=UTC)
HISTORY_DAYS = 180
ROWS_PER_INSERT = 200
INSERTS_PER_BATCH = 20

_FIRST = ("Ana", "Luis", "Marta", "Jorge", "Lucía", "Pablo", "Sofía", "Diego", "Elena", "Raúl",
          "Carmen", "Iván", "Noa", "Hugo", "Irene", "Omar", "Julia", "Tomás", "Sara", "Bruno")
_LAST = ("García", "López", "Martín", "Sánchez", "Pérez", "Gómez", "Ruiz", "Díaz", "Moreno",
         "Álvarez", "Romero", "Navarro", "Torres", "Vega", "Castro", "Ortiz")
_SUBJECTS = ("login", "invoice", "password reset", "VPN", "printer", "email sync", "export",
             "dashboard", "billing address", "API key", "mobile app", "report", "SSO", "upload")
_PROBLEMS = ("fails", "is slow", "shows an error", "does not load", "times out", "is missing",
             "crashes", "returns wrong data")
_REPLIES = ("Thanks, looking into it.", "Could you send a screenshot?", "Fixed on our side.",
            "Still happening for me.", "Escalated to the platform team.", "Works now, thanks!",
            "Restarting the service helped.", "We need the request id.")

# Older tickets are more likely to be closed; (max age in days, status weights).
_STATUS_BY_AGE = ((7, (50, 30, 15, 5)), (30, (25, 25, 20, 30)), (HISTORY_DAYS + 1, (10, 5, 10, 75)))
_STATUSES = ("open", "in_progress", "waiting", "closed")
_PRIORITIES = ("low", "medium", "high", "urgent")
_PRIORITY_WEIGHTS = (30, 45, 20, 5)


@dataclass(frozen=True)
class SampleSummary:
    users: int
    tickets: int
    interactions: int
    seconds: float

    def __str__(self) -> str:
        return (f"{self.users:,} users, {self.tickets:,} tickets, "
                f"{self.interactions:,} interactions in {self.seconds:.2f} s")


def _stamp(moment: datetime) -> str:
    return to_iso(moment.replace(microsecond=0))


def generate(users: int = 200, tickets: int = 2000, seed: int = 42
             ) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """Rows for users, tickets and interactions, as tuples in table column order."""
    if users < 2 or tickets < 0:
        raise ConfigError(f"the sample needs at least 2 users and 0 or more tickets; "
                          f"got users={users}, tickets={tickets}")
    rng = random.Random(seed)
    agents = max(1, users // 10)
    user_rows = []
    for uid in range(1, users + 1):
        role = "admin" if uid == 1 else ("agent" if uid <= agents + 1 else "customer")
        name = f"{rng.choice(_FIRST)} {rng.choice(_LAST)}"
        created = SAMPLE_NOW - timedelta(days=HISTORY_DAYS + rng.randint(1, 365))
        active = 0 if rng.random() < 0.05 and role == "customer" else 1
        user_rows.append((uid, name, f"user{uid}@example.com", role, active, _stamp(created)))

    ticket_rows, interaction_rows = [], []
    for tid in range(1, tickets + 1):
        created = SAMPLE_NOW - timedelta(seconds=rng.randint(3600, HISTORY_DAYS * 86400))
        age_days = (SAMPLE_NOW - created).days
        weights = next(w for limit, w in _STATUS_BY_AGE if age_days < limit)
        status = rng.choices(_STATUSES, weights)[0]
        priority = rng.choices(_PRIORITIES, _PRIORITY_WEIGHTS)[0]
        requester = rng.randint(agents + 2, users) if users > agents + 1 else 1
        owner = rng.randint(2, agents + 1) if status != "open" or rng.random() < 0.5 else None
        # Comments happen between creation and now; the last one is the ticket's activity.
        n_comments = rng.choices(range(7), (10, 25, 25, 15, 10, 10, 5))[0]
        span = (SAMPLE_NOW - created).total_seconds()
        moments = sorted(created + timedelta(seconds=rng.random() * span * rng.random())
                         for _ in range(n_comments))
        updated = moments[-1] if moments else created
        for moment in moments:
            author = rng.choice((requester, owner or requester))
            interaction_rows.append((None, tid, author, rng.choice(_REPLIES), _stamp(moment)))
        title = f"{rng.choice(_SUBJECTS).capitalize()} {rng.choice(_PROBLEMS)}"
        description = f"Reported by user {requester}: the {title.lower()} since {created:%d %b}."
        ticket_rows.append((tid, title, description, status, priority, requester, owner,
                            _stamp(created), _stamp(updated), 1))
    interaction_rows = [(i, *row[1:]) for i, row in enumerate(interaction_rows, start=1)]
    return user_rows, ticket_rows, interaction_rows


def _inserts(table: str, columns: str, rows: Sequence[tuple[Any, ...]]
             ) -> Iterator[tuple[Statement, int]]:
    """Multi-row INSERTs of up to ROWS_PER_INSERT rows, each with its row count."""
    width = len(rows[0]) if rows else 0
    for start in range(0, len(rows), ROWS_PER_INSERT):
        chunk = rows[start:start + ROWS_PER_INSERT]
        values = ", ".join(["(" + ", ".join(["?"] * width) + ")"] * len(chunk))
        statement = (f"INSERT INTO {table} ({columns}) VALUES {values}",
                     [v for row in chunk for v in row])
        yield statement, len(chunk)


def load_sample(store: HelpdeskStore, users: int = 200, tickets: int = 2000, seed: int = 42,
                *, progress: bool = True) -> SampleSummary:
    """Replace every row with the sample for ``seed`` (a clean, known state for a lesson)."""
    started = time.perf_counter()
    user_rows, ticket_rows, interaction_rows = generate(users, tickets, seed)
    statements = [
        *_inserts("users", "id, name, email, role, active, created_at", user_rows),
        *_inserts("tickets", "id, title, description, status, priority, requester_id, owner_id, "
                  "created_at, updated_at, version", ticket_rows),
        *_inserts("interactions", "id, ticket_id, author_id, body, created_at", interaction_rows),
    ]
    # Bulk-load trick: drop the secondary indexes, insert, then build each index once from
    # the full table (apply_schema recreates them) - several times faster than updating
    # every index on every row. Index names come from the database itself.
    indexes = store.db.execute(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
    ).rows
    store.db.batch([*((f"DELETE FROM {t}", ()) for t in reversed(TABLES)),
                    *((f'DROP INDEX IF EXISTS "{row[0]}"', ()) for row in indexes)])
    total = len(user_rows) + len(ticket_rows) + len(interaction_rows)
    with tqdm(total=total, unit="rows", desc="sample data", disable=not progress) as bar:
        for start in range(0, len(statements), INSERTS_PER_BATCH):
            group = statements[start:start + INSERTS_PER_BATCH]
            store.db.batch([statement for statement, _ in group])
            bar.update(sum(n for _, n in group))
    store.apply_schema()
    return SampleSummary(len(user_rows), len(ticket_rows), len(interaction_rows),
                         time.perf_counter() - started)


def ensure_sample(store: HelpdeskStore, users: int = 200, tickets: int = 2000, seed: int = 42,
                  *, progress: bool = False) -> SampleSummary | None:
    """Load the sample only if the database has no users yet; returns None if it did nothing."""
    if store.counts()["users"]:
        return None
    return load_sample(store, users, tickets, seed, progress=progress)
