"""The conformance checks of the cache pieces: lessons 01 (user cache), 03 (update), 04 (warm).

Each check takes an implementation (piece name -> function) and a :class:`Workspace`, runs
the pieces through the life the app will give them, step by step, and returns the titles of
the steps passed; the first step that breaks raises a ConformanceError saying why. The kit's
own pieces (:mod:`.reference`), the solutions and the learner's pieces all go through these
same steps - a check never asks *how* a piece did something, only what Redis and the database
hold afterwards, and how many round trips it took.
"""

from __future__ import annotations

import json
from typing import Any

from ...cache import Cache
from ...db import HelpdeskStore
from ...models import Ticket
from ..output import capture_logs
from ..roundtrips import counting_client
from .steps import Pieces, Steps, Workspace

__all__ = ["MAX_WARM_ROUND_TRIPS", "NO_SUCH_TICKET", "check_update", "check_user_cache",
           "check_warm", "expires_like_the_seed", "sample_user"]

#: The seed's TTL for cached users and tickets.
SEED_TTL = 300


def sample_user(user_id: int) -> dict[str, Any]:
    """A user row as the app hands it to ``cache_user``: the JSON-ready dict of a User."""
    return {"id": user_id, "name": f"Usuario {user_id}", "email": f"user{user_id}@example.com",
            "role": "agent" if user_id % 2 else "customer", "active": True,
            "created_at": "2026-01-15T09:30:00+00:00"}


def expires_like_the_seed(run: Steps, ws: Workspace, key: str) -> None:
    """The step breaks unless ``key`` expires, within the seed's 300 s."""
    ttl = int(ws.client.ttl(key))
    run.expect(ttl != -1, f"{key!r} never expires (TTL -1): the seed stores it with EX 300.")
    run.expect(0 < ttl <= SEED_TTL, f"{key!r} expires in {ttl} s: the seed's TTL is 300 s.")


# --- lesson 01: cache_user / get_cached_user / invalidate_user ------------------------------
def check_user_cache(pieces: Pieces, ws: Workspace) -> list[str]:
    """The seed's life cycle of a cached user: miss, cache, hit, invalidate, miss."""
    run = Steps(pieces)
    ana = sample_user(7)
    luis = sample_user(8)
    key = ws.keys.user(7)
    with run.step("a user nobody cached is a miss"):
        found = run.call("get_cached_user", ws.client, ws.keys, 7)
        run.expect(found is None, f"get_cached_user returned {found!r} for a user nobody "
                   "cached: when GET answers nil (None in redis-py), return None.")
    with run.step("cache_user writes the user's key"):
        run.call("cache_user", ws.client, ws.keys, 7, dict(ana))
        run.call("cache_user", ws.client, ws.keys, 8, dict(luis))
        written = sorted(ws.client.scan_iter(match=f"{ws.keys.prefix}*", count=100))
        where = f" (Redis has {written[0]!r})" if written else ""
        run.expect(bool(ws.client.exists(key)), f"there is no key {key!r} after "
                   f"cache_user(client, keys, 7, ...){where}: build it with keys.user(user_id).")
    with run.step("the value is the user as JSON"):
        stored = ws.client.get(key)
        try:
            decoded = json.loads(stored or "")
        except ValueError:
            decoded = None
        run.expect(decoded is not None, f"{key!r} holds {str(stored)[:60]!r}, which is not "
                   "JSON: store json.dumps(user_data), so any client can read it back.")
        run.expect(decoded == ana, f"{key!r} holds {decoded!r}: store the user_data given.")
    with run.step("it expires like the seed's (EX 300)"):
        expires_like_the_seed(run, ws, key)
    with run.step("get_cached_user returns the cached dict"):
        found = run.call("get_cached_user", ws.client, ws.keys, 7)
        run.expect(not isinstance(found, str | bytes), "get_cached_user returned the JSON "
                   "text: decode it (json.loads, the seed's JSON.parse) and return the dict.")
        run.expect(found == ana, f"get_cached_user(client, keys, 7) returned {found!r}, not "
                   "the user cache_user stored.")
    with run.step("invalidate_user deletes that user's key, and only that one"):
        run.call("invalidate_user", ws.client, ws.keys, 7)
        run.expect(not ws.client.exists(key), f"{key!r} is still in Redis after "
                   "invalidate_user: delete it.")
        run.expect(bool(ws.client.exists(ws.keys.user(8))), "invalidate_user(7) removed user "
                   "8 too: invalidate one key, never more (the seed's selective invalidation).")
    with run.step("after the invalidation it is a miss again"):
        found = run.call("get_cached_user", ws.client, ws.keys, 7)
        run.expect(found is None, f"get_cached_user returned {found!r} after the "
                   "invalidation: the next read must miss and go to the database.")
    return run.done


# --- lesson 03: update_ticket --------------------------------------------------------------
class _WatchedStore:
    """The store, noting whether the ticket's cached key still existed at the write."""

    def __init__(self, store: HelpdeskStore, ws: Workspace, ticket_id: int) -> None:
        self._store = store
        self._ws = ws
        self._key = ws.keys.ticket(ticket_id)
        self.key_there_at_write: bool | None = None

    def update_ticket(self, ticket_id: int, **changes: Any) -> Ticket | None:
        self.key_there_at_write = bool(self._ws.client.exists(self._key))
        return self._store.update_ticket(ticket_id, **changes)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


#: A ticket id no database of the kit's has.
NO_SUCH_TICKET = 10**9


def check_update(pieces: Pieces, ws: Workspace) -> list[str]:
    """The seed's actualizarTicket: write the database, then delete the one cached copy."""
    run = Steps(pieces)
    cache = Cache(ws.client, ws.keys)
    last = ws.store.counts()["tickets"]  # the newest two: the lessons' cells read the oldest
    target = last - 1
    neighbour = last
    key = ws.keys.ticket(target)
    with capture_logs():
        for ticket_id in (target, neighbour):
            cache.cache_ticket(ws.store.get_ticket(ticket_id))  # type: ignore[arg-type]
    before = ws.store.get_ticket(target)
    status = "waiting" if before is None or before.status != "waiting" else "in_progress"
    watched = _WatchedStore(ws.store, ws, target)
    with run.step("update_ticket writes the database and returns the new row"):
        returned = run.call("update_ticket", watched, ws.client, ws.keys, target,
                            status=status)
        row = ws.store.get_ticket(target)
        run.expect(row is not None and row.status == status, "the database still says "
                   f"{row.status if row else None!r}: write it with "
                   "store.update_ticket(ticket_id, **changes).")
        run.expect(returned == row, f"update_ticket returned {returned!r}: return what "
                   "store.update_ticket returns, the updated row (the app shows it).")
    with run.step("the ticket's cached copy is gone"):
        run.expect(not ws.client.exists(key), f"{key!r} is still cached, with the old "
                   "status: every reader gets the stale row until its TTL runs out.")
    with run.step("only that ticket's copy is gone"):
        run.expect(bool(ws.client.exists(ws.keys.ticket(neighbour))), "another ticket's "
                   "key is gone too: invalidate selectively, one key, never a pattern.")
    with run.step("the copy was deleted after the write, not before"):
        run.expect(watched.key_there_at_write is not False, "the key was deleted before the "
                   "database was written: a read between the two would cache the old row "
                   "again, and nobody would delete it. Write first, then invalidate.")
    with run.step("the next read sees the new row"):
        with capture_logs():
            served = cache.get_ticket(target, lambda: ws.store.get_ticket(target))
        run.expect(served is not None and served.status == status, "the next read through "
                   "the cache did not see the new status.")
    with run.step("a ticket that does not exist is not an error"):
        missing = run.call("update_ticket", ws.store, ws.client, ws.keys, NO_SUCH_TICKET,
                           status=status)
        run.expect(missing is None, f"update_ticket of a ticket that does not exist "
                   f"returned {missing!r}: return None, as the store does.")
    return run.done


# --- lesson 04: warm_users -----------------------------------------------------------------
#: How many users check_warm warms, and the round trips it may take for them.
WARM_USERS = 120
MAX_WARM_ROUND_TRIPS = 5


def check_warm(pieces: Pieces, ws: Workspace) -> list[str]:
    """The seed's warmupCache, pipelined: every user readable by get_cached_user, in a few
    round trips instead of one per user."""
    run = Steps(pieces)
    users = [sample_user(user_id) for user_id in range(1, WARM_USERS + 1)]
    counted, trips = counting_client(ws.client)
    try:
        with run.step("warm_users caches every user it is given"):
            run.call("warm_users", counted, ws.keys, [dict(user) for user in users])
            missing = [u["id"] for u in users if not ws.client.exists(ws.keys.user(u["id"]))]
            run.expect(not missing, f"{len(missing)} of {len(users)} users are not in Redis "
                       f"(user {missing[:1]} first): cache each one under keys.user(id).")
        with run.step("get_cached_user reads each one back"):
            for user in users:
                found = run.call("get_cached_user", ws.client, ws.keys, user["id"])
                run.expect(found == user, f"get_cached_user(..., {user['id']}) returned "
                           f"{found!r}: warm with the same JSON cache_user writes.")
        with run.step("each expires like the seed's (EX 300)"):
            for user in users[:: WARM_USERS // 4]:
                expires_like_the_seed(run, ws, ws.keys.user(user["id"]))
        with run.step("a few round trips, not one per user"):
            run.expect(trips.count < len(users), f"that took {trips.count} round trips for "
                       f"{len(users)} users, one wait per user: the seed's loop, or a pipeline "
                       "sent once per user. Queue every write on one pipeline, then send them "
                       "together with one execute().")
            run.expect(trips.count <= MAX_WARM_ROUND_TRIPS, f"that took {trips.count} round "
                       "trips: a pipeline sends everything it queued at once - execute it "
                       "once at the end, not once per user.")
        with run.step("an empty list warms nothing"):
            before = trips.count
            run.call("warm_users", counted, ws.keys, [])
            run.expect(trips.count - before <= 1, "warming no users took "
                       f"{trips.count - before} round trips.")
    finally:
        counted.close()
    return run.done

