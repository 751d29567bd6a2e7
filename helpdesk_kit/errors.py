"""Every exception the kit raises on purpose, in one place.

Each one carries a message written for a learner: what went wrong and what to do about it,
never a stack of driver internals and never a secret (URLs are redacted before they get here).
"""

from __future__ import annotations

__all__ = [
    "CacheError",
    "CacheValueError",
    "ConfigError",
    "DatabaseError",
    "FeatureUnavailableError",
    "HelpdeskError",
    "InputError",
    "InvalidationError",
    "RedisBackendError",
    "RedisUnreachableError",
    "TaskError",
    "TaskValidationError",
]


class HelpdeskError(Exception):
    """Base class: catch this to handle anything the kit raises on purpose."""


class ConfigError(HelpdeskError, ValueError):
    """A setting from the environment has a value the kit cannot use."""


class RedisBackendError(HelpdeskError, ConnectionError):
    """No usable Redis: the configured server is unreachable, refused us, or could not start."""


class RedisUnreachableError(RedisBackendError):
    """The configured Redis did not answer (refused, timed out, no socket yet): nothing says
    the settings are wrong - it may be starting, or down for a while. Worth waiting for."""


class FeatureUnavailableError(HelpdeskError):
    """This Redis backend cannot do what was asked (fakeredis: INFO, CONFIG, evictions)."""


class InputError(HelpdeskError, ValueError):
    """An app action got input it cannot accept (unknown id, empty title, bad priority)."""


class DatabaseError(HelpdeskError):
    """The system of record (libSQL) could not be opened or refused a statement."""


class CacheError(HelpdeskError):
    """A cache operation failed in a way the caller must know about."""


class CacheValueError(CacheError, ValueError):
    """A cached value is not JSON of the expected shape (the cache treats it as a miss)."""


class InvalidationError(CacheError):
    """A cache entry could not be invalidated, so stale data may be served: never silent."""


class TaskError(HelpdeskError):
    """Base class for task-queue errors."""


class TaskValidationError(TaskError, ValueError):
    """A task was rejected before it reached Redis (unknown type, bad payload, not JSON)."""
