"""Lesson 01's exercise: the seed's three user-cache functions, written with redis-py.

The seed's ``cacheUser`` / ``getCachedUser`` / ``invalidateUserCache`` are three lines of
TypeScript each; the learner writes them in Python::

    cache_user(client, keys, user_id, user_data)   # SET user:{id} <JSON> EX 300
    get_cached_user(client, keys, user_id)         # GET + json.loads, or None
    invalidate_user_cache(client, keys, user_id)   # DEL

and sets ``answer = (cache_user, get_cached_user, invalidate_user_cache)``. The check runs them
in a sandbox prefix, one step of the seed's life cycle at a time, and says which step broke.
"""

from __future__ import annotations

import json
from typing import Any

from ..checks import (
    AnswerFailed,
    CheckResult,
    is_unanswered,
    not_answered,
    right,
    run_answer,
    sandbox,
    wrong,
)
from ..lesson import Lesson

__all__ = ["check"]

USER = {"id": 7, "name": "Ana Torres", "role": "agent"}
OTHER = {"id": 8, "name": "Luis Gil", "role": "customer"}


def check(lesson: Lesson, answer: Any) -> CheckResult:
    """``answer`` is the tuple ``(cache_user, get_cached_user, invalidate_user_cache)``."""
    if is_unanswered(answer):
        return not_answered()
    if not isinstance(answer, tuple | list) or len(answer) != 3:
        return wrong("answer should be the three functions, in the seed's order: "
                     "(cache_user, get_cached_user, invalidate_user_cache).")
    keys = sandbox(lesson)
    try:
        return _life_cycle(lesson, keys, *answer)
    except AnswerFailed as exc:
        return wrong(str(exc))
    finally:
        sandbox(lesson)  # leave nothing behind


def _life_cycle(lesson: Lesson, keys: Any, cache_user: Any, get_cached_user: Any,
                invalidate_user_cache: Any) -> CheckResult:
    client = lesson.client
    key = keys.user(7)
    if run_answer(get_cached_user, client, keys, 7) is not None:
        return wrong("get_cached_user returned something for a user nobody cached: when GET "
                     "answers nil (None), return None - the seed's `cached ? ... : null`.")
    run_answer(cache_user, client, keys, 7, dict(USER))
    run_answer(cache_user, client, keys, 8, dict(OTHER))
    stored = client.get(key)
    if stored is None:
        found = [k for k in client.scan_iter(match=f"{keys.prefix}*", count=100)]
        where = f" (it wrote {found[0]!r})" if found else ""
        return wrong(f"after cache_user(client, keys, 7, ...) there is no key {key!r}{where}: "
                     "build the key with keys.user(user_id).")
    try:
        decoded = json.loads(stored)
    except ValueError:
        return wrong(f"{key!r} holds {stored[:60]!r}, which is not JSON: store "
                     "json.dumps(user_data), so any client can read it back.")
    if decoded != USER:
        return wrong(f"{key!r} holds {decoded!r}: store the user_data you were given.")
    ttl = int(client.ttl(key))
    if ttl == -1:
        return wrong(f"{key!r} never expires (TTL -1): the seed stores it with ex: 300.")
    if not 0 < ttl <= 300:
        return wrong(f"{key!r} has a TTL of {ttl} s: the seed's is 300 s (ex=300).")
    read = run_answer(get_cached_user, client, keys, 7)
    if isinstance(read, str | bytes):
        return wrong("get_cached_user returned the raw JSON text: decode it with json.loads "
                     "(the seed's JSON.parse) and return the dict.")
    if read != USER:
        return wrong(f"get_cached_user(client, keys, 7) returned {read!r}, not the user that "
                     "cache_user stored.")
    run_answer(invalidate_user_cache, client, keys, 7)
    if client.exists(key):
        return wrong(f"{key!r} is still in Redis after invalidate_user_cache: DEL it.")
    if not client.exists(keys.user(8)):
        return wrong("invalidate_user_cache(7) also removed user 8: invalidate one key, never "
                     "more: selective invalidation (the seed's 'invalidación selectiva').")
    if run_answer(get_cached_user, client, keys, 7) is not None:
        return wrong("after the invalidation get_cached_user should find nothing (None).")
    return right("SET with EX 300, GET + json.loads, DEL: the seed's cache in three functions. "
                 "The kit's Cache.cache_user / get_cached_user / invalidate_user do the same, "
                 "plus counting hits and misses and refusing values that are not a user.")
