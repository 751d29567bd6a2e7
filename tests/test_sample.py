"""Sample data: same seed -> same rows, realistic spread, any size, a clean reload."""

from __future__ import annotations

from datetime import timedelta

import pytest

from helpdesk_kit.db import HelpdeskStore, sample
from helpdesk_kit.db.sample import (
    SAMPLE_NOW,
    ensure_sample,
    generate,
    interrupted_load,
    load_sample,
    schema_indexes,
)
from helpdesk_kit.errors import ConfigError, DatabaseError
from helpdesk_kit.models import PRIORITIES, STATUSES, from_iso, to_iso

INACTIVE_BEFORE = to_iso(SAMPLE_NOW - timedelta(days=30))
OLD_BEFORE = to_iso(SAMPLE_NOW - timedelta(days=90))


def test_same_seed_same_rows_other_seed_other_rows() -> None:
    assert generate(30, 200, seed=7) == generate(30, 200, seed=7)
    assert generate(30, 200, seed=7) != generate(30, 200, seed=8)


def test_rows_are_realistic() -> None:
    users, tickets, interactions = generate(40, 300, seed=42)
    assert {t[3] for t in tickets} == set(STATUSES)
    assert {t[4] for t in tickets} == set(PRIORITIES)
    assert {u[3] for u in users} == {"admin", "agent", "customer"}
    months = {t[7][:7] for t in tickets}
    assert len(months) >= 5  # activity over months, not one afternoon
    inactive = [t for t in tickets if t[3] != "closed" and t[8] < INACTIVE_BEFORE]
    assert len(inactive) >= 5  # close_inactive_tickets has work to do
    old = [i for i in interactions if i[4] < OLD_BEFORE]
    assert len(old) >= 10  # archive_old_interactions has work to do
    now = to_iso(SAMPLE_NOW)
    assert all(t[7] <= t[8] <= now for t in tickets)
    created = {t[0]: t[7] for t in tickets}
    assert all(created[i[1]] <= i[4] <= now for i in interactions)
    assert len({u[2] for u in users}) == len(users)  # emails are unique
    assert [i[0] for i in interactions] == list(range(1, len(interactions) + 1))
    assert from_iso(tickets[0][7]).tzinfo is not None


def test_the_last_comment_is_the_tickets_activity() -> None:
    _, tickets, interactions = generate(20, 100, seed=3)
    last: dict[int, str] = {}
    for row in interactions:
        last[row[1]] = max(last.get(row[1], ""), row[4])
    for ticket in tickets:
        assert ticket[8] == last.get(ticket[0], ticket[7])


@pytest.mark.parametrize(("users", "tickets"), [(2, 0), (2, 1), (3, 50)])
def test_tiny_samples_work(users: int, tickets: int) -> None:
    user_rows, ticket_rows, _ = generate(users, tickets)
    assert (len(user_rows), len(ticket_rows)) == (users, tickets)


@pytest.mark.parametrize(("users", "tickets"), [(1, 10), (0, 0), (10, -1)])
def test_impossible_sizes_are_a_config_error(users: int, tickets: int) -> None:
    with pytest.raises(ConfigError, match="at least 2 users"):
        generate(users, tickets)


def test_load_replaces_every_row(store: HelpdeskStore) -> None:
    store.create_ticket(2, "left over")
    store.db.execute(
        "INSERT INTO notifications (ticket_id, user_id, kind, created_at) VALUES (1, 2, 'x', ?)",
        (to_iso(SAMPLE_NOW),))
    summary = load_sample(store, 20, 80, seed=5, progress=False)
    counts = store.counts()
    assert (summary.users, summary.tickets, summary.interactions) == (
        counts["users"], counts["tickets"], counts["interactions"])
    assert (counts["users"], counts["tickets"], counts["notifications"]) == (20, 80, 0)
    _, tickets, _ = generate(20, 80, seed=5)
    assert store.get_ticket(80).title == tickets[79][1]  # type: ignore[union-attr]
    assert "20 users, 80 tickets" in str(summary)


def test_load_keeps_every_index(store: HelpdeskStore) -> None:
    """load_sample drops the indexes for speed and must build them all again."""
    query = "SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
    before = sorted(row[0] for row in store.db.execute(query).rows)
    load_sample(store, 10, 30, seed=1, progress=False)
    assert sorted(row[0] for row in store.db.execute(query).rows) == before and before
    plan = store.db.execute(
        "EXPLAIN QUERY PLAN SELECT id FROM tickets WHERE status = ? ORDER BY updated_at",
        ("open",)).rows
    assert "tickets_status_updated" in " ".join(str(row[-1]) for row in plan)


def test_zero_tickets_loads_users_only(empty_store: HelpdeskStore) -> None:
    summary = load_sample(empty_store, 5, 0, progress=False)
    assert (summary.users, summary.tickets, summary.interactions) == (5, 0, 0)
    assert empty_store.counts()["users"] == 5


def test_ensure_sample_only_fills_an_empty_database(empty_store: HelpdeskStore) -> None:
    first = ensure_sample(empty_store, 10, 20)
    assert first is not None and empty_store.counts()["tickets"] == 20
    empty_store.create_ticket(2, "mine")
    assert ensure_sample(empty_store, 10, 20) is None
    assert empty_store.counts()["tickets"] == 21  # nothing lost


def _index_names(store: HelpdeskStore) -> set[str]:
    query = "SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
    return {row[0] for row in store.db.execute(query).rows}


def test_a_failing_load_keeps_the_old_rows(store: HelpdeskStore,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    before, ticket = store.counts(), store.get_ticket(1)
    real_generate = sample.generate

    def broken(users: int, tickets: int, seed: int):  # type: ignore[no-untyped-def]
        user_rows, ticket_rows, interaction_rows = real_generate(users, tickets, seed)
        return user_rows, ticket_rows, [*interaction_rows, interaction_rows[0]]  # duplicate id

    monkeypatch.setattr(sample, "generate", broken)
    with pytest.raises(DatabaseError):
        load_sample(store, 10, 30, seed=3, progress=False)
    assert store.counts() == before and store.get_ticket(1) == ticket
    assert _index_names(store) == {name for name, _ in schema_indexes()}


def test_load_leaves_your_own_indexes_alone(store: HelpdeskStore) -> None:
    store.db.execute("CREATE INDEX my_tickets_title ON tickets (title)")
    load_sample(store, 10, 30, seed=1, progress=False)
    assert _index_names(store) == {"my_tickets_title", *(name for name, _ in schema_indexes())}


def test_an_interrupted_split_load_is_reloaded_by_ensure_sample(
        store: HelpdeskStore, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sample, "_fits_one_batch", lambda store, rows: False)
    monkeypatch.setattr(sample, "INSERTS_PER_BATCH", 1)
    real_batch, calls = store.db.batch, []

    def dies_on_the_third_batch(statements):  # type: ignore[no-untyped-def]
        calls.append(len(statements))
        if len(calls) == 3:
            raise KeyboardInterrupt  # the learner pressed Stop
        return real_batch(statements)

    monkeypatch.setattr(store.db, "batch", dies_on_the_third_batch)
    with pytest.raises(KeyboardInterrupt):
        load_sample(store, 10, 30, seed=2, progress=False)
    monkeypatch.setattr(store.db, "batch", real_batch)
    assert interrupted_load(store) and store.counts()["tickets"] < 30
    summary = ensure_sample(store, 10, 30, seed=2)
    assert summary is not None and not interrupted_load(store)
    assert (store.counts()["users"], store.counts()["tickets"]) == (10, 30)
    assert _index_names(store) == {name for name, _ in schema_indexes()}
    assert ensure_sample(store, 10, 30, seed=2) is None  # complete now: left alone
