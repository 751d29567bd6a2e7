"""Deterministic sample data of any size: the same seed always gives the same rows.

Times are spread over the months before a fixed reference moment, :data:`SAMPLE_NOW`, never
the wall clock, so "inactive tickets" and "old interactions" exist and every run (and every
stored notebook output) sees the same ones. Pass ``now=SAMPLE_NOW`` to the tasks to match.

Rows are written with multi-row ``INSERT``s, and the whole replace (delete, insert, rebuild
the indexes) is ONE batch, i.e. one transaction: interrupted, the database keeps its old rows.
Only a remote load bigger than :data:`ATOMIC_ROWS` is split into several transactions (one
request that size is refused); a marker table then says "loading" until the last one, so
:func:`ensure_sample` can tell a half-loaded database and load it again.
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib import resources
from typing import Any

from tqdm.auto import tqdm

from ..errors import ConfigError
from ..models import to_iso
from .database import Statement, _split_sql
from .store import TABLES, HelpdeskStore

__all__ = ["SAMPLE_NOW", "SampleSummary", "ensure_sample", "generate", "interrupted_load",
           "load_sample", "schema_indexes"]

#: The sample's "now": every generated time is before it.
SAMPLE_NOW = datetime(2026, 6, 1, 12, 0, 0, tzinfo=UTC)
HISTORY_DAYS = 180
ROWS_PER_INSERT = 200
INSERTS_PER_BATCH = 20
#: Largest remote load sent as one transaction. Measured on sqld here: 7,000 rows (the default
#: sample) took 0.2 s in one batch over http and ws; 70,000 rows worked over http but the
#: WebSocket was closed. A local file always loads in one transaction, whatever its size.
ATOMIC_ROWS = 20_000
#: Exists only while a split (remote, large) load runs: if it is there, the load was cut short.
LOADING_MARKER = "sample_loading"

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
        if uid == 1:
            role = "admin"
        elif uid <= agents + 1:
            role = "agent"
        else:
            role = "customer"
        name = f"{rng.choice(_FIRST)} {rng.choice(_LAST)}"
        created = SAMPLE_NOW - timedelta(days=HISTORY_DAYS + rng.randint(1, 365))
        active = 0 if rng.random() < 0.05 and role == "customer" else 1
        user_rows.append((uid, name, f"user{uid}@example.com", role, active, _stamp(created)))

    ticket_rows: list[tuple[object, ...]] = []
    interaction_rows: list[tuple[int | None, int, int, str, str]] = []
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


def schema_indexes() -> list[tuple[str, str]]:
    """``(name, CREATE INDEX statement)`` for each index schema.sql defines - and only those.

    The bulk load drops and rebuilds these; an index you added yourself is left alone.
    """
    script = resources.files("helpdesk_kit.db").joinpath("schema.sql").read_text()
    found = []
    for statement in _split_sql(script):
        match = re.match(r"\s*CREATE\s+INDEX\s+IF\s+NOT\s+EXISTS\s+(\w+)", statement, re.I)
        if match:
            found.append((match.group(1), statement.strip()))
    return found


def _fits_one_batch(store: HelpdeskStore, rows: int) -> bool:
    return store.db.is_local or rows <= ATOMIC_ROWS


def load_sample(store: HelpdeskStore, users: int = 200, tickets: int = 2000, seed: int = 42,
                *, progress: bool = True) -> SampleSummary:
    """Replace every row with the sample for ``seed`` (a clean, known state for a lesson).

    All or nothing: one transaction (see the module docstring for very large remote loads).
    """
    started = time.perf_counter()
    user_rows, ticket_rows, interaction_rows = generate(users, tickets, seed)
    inserts = [
        *_inserts("users", "id, name, email, role, active, created_at", user_rows),
        *_inserts("tickets", "id, title, description, status, priority, requester_id, owner_id, "
                  "created_at, updated_at, version", ticket_rows),
        *_inserts("interactions", "id, ticket_id, author_id, body, created_at", interaction_rows),
    ]
    # Bulk-load trick: drop the schema's secondary indexes, insert, then build each index once
    # from the full table - several times faster than updating every index on every row.
    indexes = schema_indexes()
    clear: list[Statement] = [*((f"DELETE FROM {t}", ()) for t in reversed(TABLES)),
                              *((f'DROP INDEX IF EXISTS "{name}"', ()) for name, _ in indexes)]
    rebuild: list[Statement] = [(sql, ()) for _, sql in indexes]
    total = len(user_rows) + len(ticket_rows) + len(interaction_rows)
    with tqdm(total=total, unit="rows", desc="sample data", disable=not progress) as bar:
        if _fits_one_batch(store, total):
            store.db.batch([*clear, *(statement for statement, _ in inserts), *rebuild])
            bar.update(total)
        else:
            _load_in_parts(store, clear, inserts, rebuild, bar)
    return SampleSummary(len(user_rows), len(ticket_rows), len(interaction_rows),
                         time.perf_counter() - started)


def _load_in_parts(store: HelpdeskStore, clear: list[Statement],
                   inserts: list[tuple[Statement, int]], rebuild: list[Statement],
                   bar: tqdm) -> None:
    """Too big for one request: several transactions, bracketed by the loading marker."""
    store.db.batch([(f"CREATE TABLE IF NOT EXISTS {LOADING_MARKER} (started INTEGER)", ()),
                    *clear])
    for start in range(0, len(inserts), INSERTS_PER_BATCH):
        group = inserts[start:start + INSERTS_PER_BATCH]
        store.db.batch([statement for statement, _ in group])
        bar.update(sum(n for _, n in group))
    store.db.batch([*rebuild, (f"DROP TABLE {LOADING_MARKER}", ())])


def interrupted_load(store: HelpdeskStore) -> bool:
    """True when a split sample load started and never finished (its marker is still there)."""
    return bool(store.db.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (LOADING_MARKER,)).rows)


def ensure_sample(store: HelpdeskStore, users: int = 200, tickets: int = 2000, seed: int = 42,
                  *, progress: bool = False) -> SampleSummary | None:
    """Load the sample if the database has no users yet, or if a sample load was cut short.

    Returns None when it did nothing: a database with data of its own is never replaced.
    """
    if store.counts()["users"] and not interrupted_load(store):
        return None
    return load_sample(store, users, tickets, seed, progress=progress)
