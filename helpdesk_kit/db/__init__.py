"""The system of record: the helpdesk's tables on libSQL (local file or remote Turso/sqld).

The driver (``libsql`` by default, ``libsql-client`` as the second) is chosen in
:mod:`.drivers`; nothing outside this package imports either."""

from __future__ import annotations

from pathlib import Path

from ..config import Settings
from .database import Database, open_database
from .store import HelpdeskStore

__all__ = ["Database", "HelpdeskStore", "open_database", "open_store", "private_folder"]


def private_folder(folder: Path) -> Path:
    """Create ``folder`` (and its parents) if needed, and make it this user's only (0700)."""
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o700)
    return folder


def open_store(settings: Settings | None = None, *, apply_schema: bool = True) -> HelpdeskStore:
    """Open the configured database (``TURSO_DATABASE_URL`` or the local file) and its schema.

    The local data folder is created on first use, readable by this user only (mode 0700:
    the rows are people's names and e-mails); a folder in an explicit ``file:`` URL is not
    created (a typo there should be an error, not a new empty database somewhere).
    """
    settings = settings or Settings.from_env()
    if settings.database_url is None:
        private_folder(settings.data_dir)
    db = open_database(settings.effective_database_url, settings.auth_token,
                       settings.db_driver)
    store = HelpdeskStore(db)
    if apply_schema:
        store.apply_schema()
    return store
