"""Where lesson 03 finds the stale-set guard's script: it lives in :mod:`.loading` now.

Kept only so that ``from helpdesk_kit.cache.guard import GUARDED_SET`` (lesson 03) still
works until the lesson imports it from :mod:`helpdesk_kit.cache.loading`.
"""

from __future__ import annotations

from .loading import GUARDED_SET, RELEASE_LOCK

__all__ = ["GUARDED_SET", "RELEASE_LOCK"]
