"""Cache warming (the design's ``warmupCache``): load rows into Redis before anyone asks.

The design does one ``SET`` per user, so 10,000 users cost 10,000 round trips. Here rows are
read from the database a page at a time and each page is written in *one* round trip. Two ways
to do that, fastest first:

1. **One Lua script per page** (the design's "next steps" suggest Lua scripts): a single
   ``EVALSHA`` carries the page's keys, values and TTLs, and Redis runs ``SET key value EX ttl``
   for each inside the server. Every key keeps its own TTL, so jitter still works. This beats
   a pipeline because a pipeline of 500 ``SET`` commands makes redis-py pack 500 commands and
   parse 500 ``OK`` replies in Python - measured, that was most of the time - while the
   script is one command with one reply.
2. **A transaction** (``WATCH`` the counters, ``MULTI``, the ``SET`` commands, ``EXEC``): the
   fallback where Lua is missing (fakeredis without ``lupa``, a managed Redis that forbids
   scripts). On Redis Cluster, where one script may only touch keys of one hash slot, each
   key is stored with :data:`~helpdesk_kit.cache.loading.GUARDED_SET`, batched **per node**
   (:meth:`~helpdesk_kit.backends.scripts.ScriptRunner.run_per_node`): a page costs one round
   trip to each primary that holds some of its keys, never one per key.

``pipelined=False`` keeps the design's loop (plain ``SET``, no guard), so the benchmark and
lesson 04 can compare them. Whether this Redis runs Lua at all is the script runner's to
know (:attr:`~helpdesk_kit.backends.scripts.ScriptRunner.lua`): warming reads it there.

**Warming races writers too.** Warming reads a page from the database; a writer updates a row
and invalidates it (``DEL`` + ``INCR gen:user:7``); then warming stores the *old* row - stale
for the whole TTL. It is the race :mod:`helpdesk_kit.cache.loading` fixes for reads, fixed the
same way: note the invalidation counters *before* reading the rows, store each key only if its
counter has not moved (and nothing if ``gen:{entity}:all`` moved: a pattern invalidation).
The ids of a page are only known after reading it, so each page is read twice: once for its
ids (then one ``MGET`` of their counters), then again for the rows to store. A row that moved
into the page between the two reads has no noted counter and is simply not warmed.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import redis
from tqdm.auto import tqdm

from ..backends.scripts import ScriptRunner
from ..keys import KeySchema
from ..models import Ticket, User
from ..vocab import Entity
from .codec import codec_for
from .policy import CachePolicy

if TYPE_CHECKING:  # warming reads the store; the cache itself never needs the database
    from ..db.store import HelpdeskStore

__all__ = ["WARM_SET", "WATCH_ATTEMPTS", "Warmer"]

log = logging.getLogger("helpdesk_kit.cache")

#: One script, two steps of a page, on one server (a Cluster stores key by key, below).
#: KEYS[1] is the entity-wide counter (``gen:{entity}:all``) in both; ARGV[1] says the step.
#: ``note``: ARGV[2] the counters' key prefix (``gen:user:``), ARGV[3] the page's ids; returns
#: each id's counter ("-" for none), then the entity-wide one ("-" for none), space-separated.
#: ``store``: ARGV[2] the values' key prefix (``user:``), ARGV[3] the counters' prefix,
#: ARGV[4] the ids, ARGV[5] the TTLs (s), ARGV[6] the noted counters, ARGV[7] the noted
#: entity-wide one, ARGV[8] the JSON values joined by newlines (the encoder escapes any newline
#: inside a value); stores each row whose counter is still the noted one, returns how many.
#: Why prefixes and ids, not 1,000 key names: measured, packing one argument per key in
#: redis-py and parsing one reply per counter cost more than the whole page's work in Redis.
WARM_SET = """
local function words(text)
  local out = {}
  for word in string.gmatch(text, '%S+') do out[#out + 1] = word end
  return out
end
local function counters(prefix, ids)
  local found = {}
  for first = 1, #ids, 500 do
    local names = {}
    for i = first, math.min(first + 499, #ids) do names[#names + 1] = prefix .. ids[i] end
    for _, gen in ipairs(redis.call('MGET', unpack(names))) do
      if not gen or gen == '' then gen = '-' end
      found[#found + 1] = gen
    end
  end
  return found
end
local all = redis.call('GET', KEYS[1])
if not all or all == '' then all = '-' end
if ARGV[1] == 'note' then
  local out = counters(ARGV[2], words(ARGV[3]))
  out[#out + 1] = all
  return table.concat(out, ' ')
end
if all ~= ARGV[7] then
  return 0
end
local ids, ttls, seen = words(ARGV[4]), words(ARGV[5]), words(ARGV[6])
local now, i, stored = counters(ARGV[3], ids), 0, 0
for value in string.gmatch(ARGV[8], '[^\\n]+') do
  i = i + 1
  if now[i] == seen[i] then
    redis.call('SET', ARGV[2] .. ids[i], value, 'EX', ttls[i])
    stored = stored + 1
  end
end
return stored
"""

#: How often the WATCH fallback retries a page whose counters moved during its transaction.
WATCH_ATTEMPTS = 3

#: One row warming stores.
Row = User | Ticket
#: Reads one page of rows from the database: ``(size, offset) -> rows``.
FetchPage = Callable[[int, int], Sequence[Row]]


@dataclass(frozen=True)
class Warmer:
    """Writes pages of rows into Redis for one cache, guarded against racing writers.

    ``client``, ``keys``: where the rows go. ``scripts``: the cache's scripts (the page
    script, the guarded set on a cluster). ``policy``: the TTLs, the jitter, and whether
    the stale-set guard is on. ``rng``: where the jitter comes from. ``put(entity, row)``:
    the design's one ``SET`` per row, for ``pipelined=False`` (the cache's own ``put``).
    """

    client: redis.Redis
    keys: KeySchema
    scripts: ScriptRunner
    policy: CachePolicy
    rng: random.Random
    put: Callable[[Entity, Row], None]

    def warm_users(self, store: HelpdeskStore, *, active_only: bool = True,
                   limit: int | None = None, batch_size: int = 500, pipelined: bool = True,
                   progress: bool = True) -> int:
        """Cache the (active) users, ``batch_size`` per round trip; returns how many it
        stored. Logs the design's line ``Cache precargado: N usuarios`` on
        ``helpdesk_kit.cache``."""
        total = None if active_only else store.counts()["users"]

        def fetch_page(size: int, offset: int) -> Sequence[Row]:
            return store.list_users(active_only=active_only, limit=size, offset=offset)

        count = self._warm(Entity.USER, fetch_page, batch_size=batch_size, pipelined=pipelined,
                           progress=progress, total=total, limit=limit)
        log.info("Cache precargado: %d usuarios", count)
        return count

    def warm_tickets(self, store: HelpdeskStore, *, limit: int | None = 1000,
                     batch_size: int = 500, pipelined: bool = True,
                     progress: bool = True) -> int:
        """Cache the ``limit`` most recently active tickets (all if None); returns how many."""
        total = store.counts()["tickets"]

        def fetch_page(size: int, offset: int) -> Sequence[Row]:
            return store.list_tickets(limit=size, offset=offset)

        count = self._warm(Entity.TICKET, fetch_page, batch_size=batch_size,
                           pipelined=pipelined, progress=progress, total=total, limit=limit)
        log.info("Cache precargado: %d tickets", count)
        return count

    def _warm(self, entity: Entity, fetch_page: FetchPage, *, batch_size: int, pipelined: bool,
              progress: bool, total: int | None, limit: int | None) -> int:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        done = 0
        stored = 0
        if limit is None:
            bar_total = total
        else:
            bar_total = min(limit, total or limit)
        with tqdm(total=bar_total, desc=f"warming {entity}s", unit=entity,
                  disable=not progress) as bar:
            while limit is None or done < limit:
                if limit is None:
                    size = batch_size
                else:
                    size = min(batch_size, limit - done)
                page = fetch_page(size, done)
                if not page:
                    break
                if pipelined:
                    stored += self._warm_page(entity, fetch_page, page, size, done)
                else:  # the design's loop: one SET, one round trip, per row
                    for row in page:
                        self.put(entity, row)
                    stored += len(page)
                done += len(page)
                bar.update(len(page))
                if len(page) < size:
                    break
        return stored

    def _warm_page(self, entity: Entity, fetch_page: FetchPage, page: Sequence[Row],
                   size: int, offset: int) -> int:
        """Store one page; with the guard: note the counters, then read the rows again."""
        if not self.policy.stale_guard:
            return self._store_page(entity, list(page), [None] * len(page), None)
        seen, seen_all = self._note_counters(entity, page)
        rows = [row for row in fetch_page(size, offset) if row.id in seen]
        return self._store_page(entity, rows, [seen.get(row.id) for row in rows], seen_all)

    def _store_page(self, entity: Entity, rows: list[Row], seen: list[str | None],
                    seen_all: str | None) -> int:
        """Write one page in one round trip, skipping each key invalidated since its counter
        was noted (``seen``; ``seen_all`` the entity-wide one); returns how many it stored."""
        encode = codec_for(entity).encode
        values = [encode(row) for row in rows]
        if self.policy.jitter:
            ttls = [self.policy.ttl_for(entity, self.rng) for _ in rows]
        else:  # one TTL for all: the per-row call cost more than the SET it times
            ttls = [self.policy.ttl_for(entity, self.rng)] * len(rows)
        all_key = self.keys.entity_generation(entity)
        joined = "\n".join(values)
        one_line_each = joined.count("\n") == len(values) - 1  # the script splits on newlines
        if (self.policy.stale_guard and not self.keys.cluster and self.scripts.lua is not False
                and one_line_each):  # the script's path: no key names
            try:
                stored = self.scripts.run("warm_set", [all_key], [
                    "store", self.keys.entity(entity, ""), self.keys.generation(entity, ""),
                    " ".join(str(row.id) for row in rows), " ".join(map(str, ttls)),
                    " ".join(s or "-" for s in seen), seen_all or "-", joined])
                return int(stored)
            except (redis.ResponseError, ImportError) as exc:  # ImportError: fakeredis, no lupa
                log.info("Lua scripts unavailable (%s); warming with transactions", exc)
        keys = [self.keys.entity(entity, row.id) for row in rows]
        gens = [self.keys.generation(entity, row.id) for row in rows]
        if not self.policy.stale_guard:  # the naive cache, kept for lesson 03: plain SETs
            pipe = self.client.pipeline(transaction=False)
            for key, value, ttl in zip(keys, values, ttls, strict=True):
                pipe.set(key, value, ex=ttl)
            pipe.execute()
            return len(keys)
        if self.keys.cluster:  # Lua is always there on a cluster; a MOVED reaches the caller
            return self._guarded_sets(all_key, keys, gens, values, ttls, seen, seen_all)
        return self._watched_sets(all_key, keys, gens, values, ttls, seen, seen_all)

    def _guarded_sets(self, all_key: str, keys: list[str], gens: list[str],
                      values: list[str], ttls: list[int], seen: list[str | None],
                      seen_all: str | None) -> int:
        """Redis Cluster: one guarded set per key (key and counter share a slot), batched
        per node by the script runner."""
        calls = [([key, gen], [noted or "", value, ttl])
                 for key, gen, noted, value, ttl in zip(keys, gens, seen, values, ttls,
                                                         strict=True)]
        done = self.scripts.run_per_node("guarded_set", calls)
        stored = [key for key, ok in zip(keys, done, strict=True) if ok]
        if stored and self.client.get(all_key) != seen_all:  # a pattern invalidation ran
            self.client.delete(*stored)
            return 0
        return len(stored)

    def _watched_sets(self, all_key: str, keys: list[str], gens: list[str],
                      values: list[str], ttls: list[int], seen: list[str | None],
                      seen_all: str | None) -> int:
        """No Lua: WATCH the counters, keep the keys whose counter is unchanged, MULTI/EXEC."""
        with self.client.pipeline() as pipe:
            for _ in range(WATCH_ATTEMPTS):
                try:
                    pipe.watch(*gens, all_key)
                    *now, now_all = pipe.mget(*gens, all_key)
                    if now_all != seen_all:
                        return 0
                    pipe.multi()
                    stored = 0
                    for key, value, ttl, noted, current in zip(keys, values, ttls, seen, now,
                                                               strict=True):
                        if current == noted:
                            pipe.set(key, value, ex=ttl)
                            stored += 1
                    pipe.execute()
                    return stored
                except redis.WatchError:  # a counter moved meanwhile: look again
                    continue
        log.info("not warming a page of %d keys: invalidated again and again", len(keys))
        return 0

    def _note_counters(self, entity: Entity, page: Sequence[Row]
                       ) -> tuple[dict[int, str | None], str | None]:
        """Each row's invalidation counter by id, and the entity-wide counter, in one round
        trip: the script's ``note`` step (one reply, not one per row), else one MGET (on Redis
        Cluster, where the counters live in many slots, a pipeline of GETs)."""
        ids = [row.id for row in page]
        if self.scripts.lua is not False and not self.keys.cluster:
            try:
                reply = self.scripts.run("warm_set", [self.keys.entity_generation(entity)], [
                    "note", self.keys.generation(entity, ""), " ".join(map(str, ids))])
                *words, last = reply.split(" ")
                by_id = {i: None if w == "-" else w for i, w in zip(ids, words, strict=True)}
                return by_id, None if last == "-" else last
            except (redis.ResponseError, ImportError) as exc:  # as in _store_page
                log.info("Lua scripts unavailable (%s); warming with transactions", exc)
        counters = [self.keys.generation(entity, i) for i in ids]
        counters.append(self.keys.entity_generation(entity))
        if self.keys.cluster:
            pipe = self.client.pipeline(transaction=False)
            for counter in counters:
                pipe.get(counter)
            *noted, seen_all = pipe.execute()
        else:
            *noted, seen_all = self.client.mget(counters)
        return dict(zip(ids, noted, strict=True)), seen_all
