"""The system of record: the helpdesk's tables on libSQL (local file or remote Turso/sqld)."""

from __future__ import annotations

from ..config import Settings
from .database import Database, open_database
from .store import HelpdeskStore

__all__ = ["Database", "HelpdeskStore", "open_database", "open_store"]


def open_store(settings: Settings | None = None, *, apply_schema: bool = True) -> HelpdeskStore:
    """Open the configured database (``TURSO_DATABASE_URL`` or the local file) and its schema.

    The local data folder is created on first use; a folder in an explicit ``file:`` URL is not
    (a typo there should be an error, not a new empty database somewhere).
    """
    settings = settings or Settings.from_env()
    if settings.database_url is None:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = open_database(settings.effective_database_url, settings.auth_token)
    store = HelpdeskStore(db)
    if apply_schema:
        store.apply_schema()
    return store
