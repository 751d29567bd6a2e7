"""Which driver opens the database, and what to call what it opened.

``HELPDESK_DB_DRIVER`` picks one (:class:`~helpdesk_kit.vocab.DbDriver`); unset, the kit uses
``libsql`` where it is installed and ``libsql-client`` elsewhere. pyproject.toml installs
``libsql`` only where it has a wheel (Linux x86_64, macOS), so on Linux aarch64 the kit runs on
``libsql-client`` by itself.
"""

from __future__ import annotations

import importlib.util
from importlib import metadata

from ..errors import DatabaseError
from ..vocab import DbDriver
from .protocol import Connection

__all__ = ["available", "connect", "default_driver", "describe", "version"]

#: The module each driver imports.
_MODULES = {DbDriver.LIBSQL: "libsql", DbDriver.LIBSQL_CLIENT: "libsql_client"}


def available(driver: DbDriver) -> bool:
    """True when ``driver``'s package is installed here."""
    return importlib.util.find_spec(_MODULES[driver]) is not None


def default_driver() -> DbDriver:
    """``libsql`` where it is installed, else ``libsql-client``."""
    return DbDriver.LIBSQL if available(DbDriver.LIBSQL) else DbDriver.LIBSQL_CLIENT


def version(driver: DbDriver) -> str:
    """The installed version of ``driver``'s package (``"?"`` if pip does not know it)."""
    try:
        return metadata.version(driver.value)
    except metadata.PackageNotFoundError:
        return "?"


def connect(driver: DbDriver, url: str, token: str | None) -> Connection:
    """Open ``url`` with ``driver``; a driver that is not installed is a DatabaseError."""
    if not available(driver):
        raise DatabaseError(
            f"the {driver} driver is not installed (pip install {driver}); it has no wheel "
            f"for every platform: HELPDESK_DB_DRIVER=libsql-client works everywhere")
    if driver is DbDriver.LIBSQL:
        from . import libsql_driver

        return libsql_driver.connect(url, token)
    from . import client_driver

    return client_driver.connect(url, token)


def describe(driver: DbDriver, local: bool) -> str:
    """What the database really is, in words: ``a local libSQL file, through libsql 0.1.11``.

    libsql-client runs a local file on Python's sqlite3: the words say so.
    """
    through = f"through {driver} {version(driver)}"
    if not local:
        return f"a remote libSQL server, {through}"
    if driver is DbDriver.LIBSQL:
        return f"a local libSQL file, {through}"
    return f"a local SQLite file, {through} (Python's sqlite3)"
