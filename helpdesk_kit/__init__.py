"""helpdesk-kit: the design's Redis cache and task queue in front of libSQL, made runnable.

The public API, what lessons, the README and users import::

    from helpdesk_kit import HelpdeskApp, Cache, NearCache, TaskQueue, Worker, RetryPolicy, \
        Settings, connect

Layers point down only (checked by import-linter, see pyproject.toml): widgets -> lessons and
lab -> app -> metrics -> cache and queue -> backends and db -> config, errors, models, keys,
vocab. The names are imported on first use, so ``import helpdesk_kit`` stays cheap and a
command that needs no database never loads its driver.
"""

from __future__ import annotations

import importlib
from importlib import metadata
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .app import HelpdeskApp
    from .backends import connect
    from .cache import Cache, NearCache
    from .config import Settings
    from .queue import RetryPolicy, TaskQueue, Worker

__all__ = [
    "Cache",
    "HelpdeskApp",
    "NearCache",
    "RetryPolicy",
    "Settings",
    "TaskQueue",
    "Worker",
    "__version__",
    "connect",
]

#: The version lives in pyproject.toml only; this reads what was installed.
__version__ = metadata.version("helpdesk-kit")

_WHERE = {
    "Cache": ".cache",
    "HelpdeskApp": ".app",
    "NearCache": ".cache",
    "RetryPolicy": ".queue",
    "Settings": ".config",
    "TaskQueue": ".queue",
    "Worker": ".queue",
    "connect": ".backends",
}


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'helpdesk_kit' has no attribute {name!r}")
    value = getattr(importlib.import_module(_WHERE[name], __name__), name)
    globals()[name] = value  # once: later lookups are plain attribute reads
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
