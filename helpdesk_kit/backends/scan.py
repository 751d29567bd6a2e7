"""Delete keys by pattern with SCAN + UNLINK: how the kit cleans a prefix, never FLUSHALL."""

from __future__ import annotations

import redis

__all__ = ["delete_matching"]


def delete_matching(client: redis.Redis, pattern: str, *, count: int = 500) -> int:
    """Delete every key matching ``pattern``; return how many were deleted.

    Keys are found with SCAN (``count`` per step), never KEYS: KEYS walks the whole key space
    in one go and blocks every other client meanwhile. They are removed in batches of up to
    ``count`` keys, one UNLINK per batch (UNLINK frees the memory in the background, so even a
    big batch does not block the server). Keys created while the SCAN runs may be missed.
    """
    if count < 1:
        raise ValueError(f"count must be at least 1, got {count}")
    deleted = 0
    batch: list[str] = []
    for key in client.scan_iter(match=pattern, count=count):
        batch.append(key)
        if len(batch) >= count:
            deleted += int(client.unlink(*batch))
            batch.clear()
    if batch:
        deleted += int(client.unlink(*batch))
    return deleted
