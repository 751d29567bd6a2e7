"""The store's queries on a local file: results, filters, paging, writes, bad input.

Every test here runs once per driver (``libsql``, ``libsql-client``): the ``settings`` fixture
below overrides conftest's for this module, and conftest's ``store`` fixtures build on it.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from helpdesk_kit.config import Settings
from helpdesk_kit.db import HelpdeskStore, open_store
from helpdesk_kit.db.sample import SAMPLE_NOW
from helpdesk_kit.db.store import TABLES
from helpdesk_kit.errors import DatabaseError
from helpdesk_kit.models import PRIORITIES, STATUSES, Ticket
from helpdesk_kit.vocab import DbDriver

INJECTION = "'); DROP TABLE tickets; --"
EXPECTED_INDEXES = {
    "tickets_status_updated", "tickets_updated", "tickets_owner_updated",
    "tickets_priority_updated", "interactions_ticket", "interactions_created",
    "notifications_user",
}


@pytest.fixture
def settings(tmp_path: Path, key_prefix: str, db_driver: DbDriver) -> Settings:
    return Settings(data_dir=tmp_path / "data", key_prefix=key_prefix, db_driver=db_driver)


def _names(store: HelpdeskStore, kind: str) -> set[str]:
    rs = store.db.execute("SELECT name FROM sqlite_master WHERE type = ? AND sql IS NOT NULL",
                          (kind,))
    return {row[0] for row in rs.rows}


def _all_tickets(store: HelpdeskStore) -> list[Ticket]:
    return store.list_tickets(limit=100_000)


# --- schema and opening ----------------------------------------------------------------------
def test_schema_has_every_table_and_index(empty_store: HelpdeskStore) -> None:
    assert _names(empty_store, "table") == set(TABLES)
    assert _names(empty_store, "index") == EXPECTED_INDEXES
    columns = {row[1] for row in empty_store.db.execute("PRAGMA table_info(tickets)").rows}
    assert {"status", "priority", "owner_id", "created_at", "updated_at", "version"} <= columns


def test_apply_schema_twice_keeps_the_rows(store: HelpdeskStore) -> None:
    before = store.counts()
    store.apply_schema()
    assert store.counts() == before


def test_default_database_is_a_file_in_a_new_data_folder(tmp_path: Path,
                                                        db_driver: DbDriver) -> None:
    settings = Settings(data_dir=tmp_path / "new" / "folder", db_driver=db_driver)
    store = open_store(settings)
    try:
        assert settings.local_database_path.is_file()
        assert store.db.is_local and store.db.url == f"file:{settings.local_database_path}"
        assert store.db.driver is db_driver
        assert store.counts() == dict.fromkeys(TABLES, 0)
    finally:
        store.db.close()


def test_a_missing_folder_in_an_explicit_file_url_is_an_error(tmp_path: Path) -> None:
    url = f"file:{tmp_path / 'typo' / 'helpdesk.db'}"
    with pytest.raises(DatabaseError, match="does not exist"):
        open_store(Settings(database_url=url, data_dir=tmp_path))
    assert not (tmp_path / "typo").exists()  # no empty database appeared somewhere


def test_an_unsupported_url_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(DatabaseError, match="must start with one of file:"):
        open_store(Settings(database_url="postgres://u:pw@h/db", data_dir=tmp_path))


# --- users ----------------------------------------------------------------------------------
def test_get_user(store: HelpdeskStore) -> None:
    user = store.get_user(1)
    assert user is not None and user.id == 1 and user.role == "admin"
    assert user.email == "user1@example.com" and user.created_at < SAMPLE_NOW
    assert store.get_user(10_000) is None


def test_list_users_active_and_paged(store: HelpdeskStore) -> None:
    everyone = store.list_users(active_only=False)
    active = store.list_users()
    assert len(everyone) == store.counts()["users"]
    assert [u.id for u in everyone] == sorted(u.id for u in everyone)
    assert all(u.active for u in active)
    assert {u.id for u in active} == {u.id for u in everyone if u.active}
    page1 = store.list_users(active_only=False, limit=10)
    page2 = store.list_users(active_only=False, limit=10, offset=10)
    assert page1 + page2 == everyone[:20]


def test_create_user_and_bad_role(empty_store: HelpdeskStore) -> None:
    user = empty_store.create_user("Ana", "ana@example.com", "agent", now=SAMPLE_NOW)
    assert empty_store.get_user(user.id) == user
    with pytest.raises(DatabaseError, match="role must be one of"):
        empty_store.create_user("Bad", "bad@example.com", "root")
    assert empty_store.counts()["users"] == 1


# --- tickets --------------------------------------------------------------------------------
def test_get_ticket(store: HelpdeskStore) -> None:
    ticket = store.get_ticket(1)
    assert ticket is not None and ticket.id == 1
    assert ticket.status in STATUSES and ticket.priority in PRIORITIES
    assert ticket.created_at <= ticket.updated_at <= SAMPLE_NOW
    assert store.get_ticket(10_000) is None


def test_list_tickets_newest_activity_first_and_paged(store: HelpdeskStore) -> None:
    every = _all_tickets(store)
    assert len(every) == store.counts()["tickets"]
    order = [(t.updated_at, t.id) for t in every]
    assert order == sorted(order, reverse=True)
    assert len(store.list_tickets()) == 100  # the design's "Listar 100 tickets"
    pages = [store.list_tickets(limit=40, offset=o) for o in range(0, len(every), 40)]
    assert [t for page in pages for t in page] == every


@pytest.mark.parametrize("filters", [
    {"status": "open"}, {"status": "closed"}, {"priority": "urgent"},
    {"status": "in_progress", "priority": "high"}, {"owner_id": 2},
    {"owner_id": 3, "status": "closed"},
])
def test_list_tickets_filters(store: HelpdeskStore, filters: dict[str, object]) -> None:
    expected = [t for t in _all_tickets(store)
                if all(getattr(t, k) == v for k, v in filters.items())]
    assert expected, "the sample should have such tickets"
    assert store.list_tickets(limit=100_000, **filters) == expected  # type: ignore[arg-type]


def test_list_tickets_rejects_unknown_filter_values(store: HelpdeskStore) -> None:
    with pytest.raises(DatabaseError, match="status must be one of"):
        store.list_tickets(status="solved")
    with pytest.raises(DatabaseError, match="priority must be one of"):
        store.list_tickets(priority="critical")


def test_create_ticket(store: HelpdeskStore) -> None:
    created = store.create_ticket(5, "Printer on fire", "smoke", priority="urgent",
                                  now=SAMPLE_NOW)
    assert created == store.get_ticket(created.id)
    assert (created.status, created.priority, created.version) == ("open", "urgent", 1)
    assert created.created_at == created.updated_at == SAMPLE_NOW
    assert created.id == store.counts()["tickets"]
    assert store.list_tickets()[0] == created  # newest activity first


def test_bad_new_tickets_write_nothing(store: HelpdeskStore) -> None:
    before = store.counts()
    with pytest.raises(DatabaseError, match="priority"):
        store.create_ticket(5, "x", priority="whenever")
    with pytest.raises(DatabaseError, match="title"):
        store.create_ticket(5, "   ")
    assert store.counts() == before


def test_sql_injection_is_stored_verbatim(empty_store: HelpdeskStore) -> None:
    user = empty_store.create_user(INJECTION, "x@example.com")
    ticket = empty_store.create_ticket(user.id, INJECTION, INJECTION)
    assert empty_store.get_ticket(ticket.id).title == INJECTION  # type: ignore[union-attr]
    assert empty_store.get_user(user.id).name == INJECTION  # type: ignore[union-attr]
    comment = empty_store.add_interaction(ticket.id, user.id, INJECTION)
    assert empty_store.list_interactions(ticket.id) == [comment]
    assert "tickets" in _names(empty_store, "table")


def test_update_ticket_bumps_version_and_activity(store: HelpdeskStore) -> None:
    old = store.get_ticket(7)
    assert old is not None
    later = SAMPLE_NOW + timedelta(minutes=1)
    new = store.update_ticket(7, status="closed", owner_id=3, now=later)
    assert new == store.get_ticket(7)
    assert new is not None and (new.status, new.owner_id) == ("closed", 3)
    assert new.version == old.version + 1 and new.updated_at == later
    assert (new.title, new.created_at) == (old.title, old.created_at)


def test_update_ticket_bad_input_changes_nothing(store: HelpdeskStore) -> None:
    old = store.get_ticket(7)
    with pytest.raises(DatabaseError, match="cannot update version"):
        store.update_ticket(7, version=99)
    with pytest.raises(DatabaseError, match="status must be one of"):
        store.update_ticket(7, status="done")
    assert store.get_ticket(7) == old
    assert store.update_ticket(10_000, status="closed") is None


# --- interactions ---------------------------------------------------------------------------
def test_add_interaction_bumps_the_ticket_in_one_go(store: HelpdeskStore) -> None:
    old = store.get_ticket(3)
    assert old is not None
    later = SAMPLE_NOW + timedelta(hours=1)
    comment = store.add_interaction(3, 2, "On it", now=later)
    ticket = store.get_ticket(3)
    assert ticket is not None
    assert (ticket.updated_at, ticket.version) == (later, old.version + 1)
    assert store.list_interactions(3)[-1] == comment
    assert (comment.ticket_id, comment.author_id, comment.body) == (3, 2, "On it")


def test_add_interaction_to_an_unknown_ticket_writes_nothing(store: HelpdeskStore) -> None:
    before = store.counts()
    tickets_before = _all_tickets(store)
    with pytest.raises(DatabaseError, match="ticket 10000 does not exist"):
        store.add_interaction(10_000, 2, "hello?")
    with pytest.raises(DatabaseError, match="body"):
        store.add_interaction(3, 2, "  ")
    assert store.counts() == before
    assert _all_tickets(store) == tickets_before


def test_list_interactions_in_time_order(store: HelpdeskStore) -> None:
    busiest = store.db.execute(
        "SELECT ticket_id FROM interactions GROUP BY ticket_id ORDER BY COUNT(*) DESC LIMIT 1"
    ).rows[0][0]
    comments = store.list_interactions(busiest)
    assert len(comments) > 1
    assert [c.created_at for c in comments] == sorted(c.created_at for c in comments)
    assert {c.ticket_id for c in comments} == {busiest}
    assert store.list_interactions(10_000) == []


# --- the background tasks' queries --------------------------------------------------------
def test_close_inactive_tickets_returns_what_it_closed_once(store: HelpdeskStore) -> None:
    cutoff = SAMPLE_NOW - timedelta(days=30)
    stale = [t.id for t in store.list_tickets(limit=500)
             if t.status != "closed" and t.updated_at < cutoff]
    assert stale  # the sample has some, or this test proves nothing
    closed = store.close_inactive_tickets(cutoff, SAMPLE_NOW)
    assert closed == sorted(stale)
    assert all(store.get_ticket(i).status == "closed" for i in closed)
    assert store.close_inactive_tickets(cutoff, SAMPLE_NOW) == []  # nothing new the second time
    assert set(closed) <= set(store.tickets_closed_at(SAMPLE_NOW))


def test_record_notification_keeps_one_row_per_task(store: HelpdeskStore) -> None:
    before = store.notification_count()
    assert store.ticket_exists(1) and not store.ticket_exists(99_999)
    assert store.record_notification(1, 2, INJECTION, SAMPLE_NOW, "task-1") == 1
    assert store.record_notification(1, 2, INJECTION, SAMPLE_NOW, "task-1") == 0
    assert store.notification_count() == before + 1
    assert store.counts()["tickets"] == 300  # the kind was a parameter, not SQL


def test_archive_interactions_batch_moves_at_most_limit(store: HelpdeskStore) -> None:
    cutoff = SAMPLE_NOW - timedelta(days=60)
    total = store.counts()["interactions"]
    old = sum(1 for t in range(1, 301) for i in store.list_interactions(t)
              if i.created_at < cutoff)
    assert old > 3
    assert store.archive_interactions_batch(cutoff, 3, SAMPLE_NOW) == 3
    moved = 3
    while batch := store.archive_interactions_batch(cutoff, 50, SAMPLE_NOW):
        assert batch <= 50
        moved += batch
    counts = store.counts()
    assert moved == old
    assert (counts["interactions"], counts["interactions_archive"]) == (total - old, old)
