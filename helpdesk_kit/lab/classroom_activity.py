"""What each learner of a class is doing, read with the instructor's (admin) user.

One row per learner of :func:`~helpdesk_kit.lab.classroom.learners`: how many keys they hold
and how much memory, their task queues (pending tasks and dead letters of every lesson's list
queue, and the counters the queue keeps in Redis), when they last did something, how many
connections they have open, and how often Redis refused them a classmate's key or channel.

The numbers come from one SCAN pass over the database (keys bucketed by their ``NAME:``
prefix, not one pass per learner), a pipeline of LLEN / HGET / OBJECT IDLETIME / MEMORY
USAGE, CLIENT LIST and ACL LOG. A number Redis cannot give here (fakeredis has no CLIENT LIST
nor MEMORY, an LFU policy no idle time) is None, never a made-up zero.

Memory: Redis has no quota per user, so the instructor needs to see who holds the class's
memory. ``MEMORY USAGE`` measures one key (value, key name and overhead) and learners may
not run the rest of MEMORY, so the instructor's connection asks it for up to
:data:`MEMORY_SAMPLE` keys of each learner; with more keys than that, the row is the sample's
mean times the learner's key count - an estimate, and said to be one (``~``).

Hit rates: the kit's :class:`~helpdesk_kit.cache.Cache` counts hits in the learner's own
process, and INFO's ``keyspace_hits`` is the whole server's (:func:`server_hit_rate` gives
that one, named as the class's). So the class's env files turn on ``HELPDESK_PUBLISH_STATS``:
every cache of the learner writes its totals to a ``cache:stats:<id>`` hash under its
lesson's prefix (:mod:`helpdesk_kit.cache.published`), and the row sums them - hits and
misses of every lesson and process. A learner whose caches published nothing has no hit
rate (None, shown as n/a).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import redis

from ..keys import KeySchema
from .classroom import key_owner, learners

__all__ = ["HEADERS", "MEMORY_SAMPLE", "Activity", "activity", "idle_text", "memory_text",
           "rate_text", "server_hit_rate", "shown_rows"]

#: How the ends of the queue keys read under any lesson prefix (plain and cluster forms).
_SCHEMAS = (KeySchema(), KeySchema(cluster=True))
_PENDING = tuple(s.tasks_pending for s in _SCHEMAS)
_DEAD = tuple(s.tasks_dead for s in _SCHEMAS) + tuple(s.tasks_stream_dead for s in _SCHEMAS)
_STATS = tuple(s.tasks_stats for s in _SCHEMAS)
#: Where caches publish their counters (``cache:stats:<id>``; no hash tag on a cluster either).
_CACHE_STATS = f":{KeySchema().cache_stats}:"
#: Keys sampled per learner for OBJECT IDLETIME (the most recently used one wins).
IDLE_SAMPLE = 100
#: Keys measured per learner with MEMORY USAGE (more keys: the sample's mean times the count).
MEMORY_SAMPLE = 100


@dataclass(frozen=True)
class Activity:
    """One learner's row: see the module docstring for where each number comes from."""

    name: str
    state: str
    keys: int
    pending: int
    dead: int
    done: int
    idle_s: int | None
    connections: int | None
    refused: int | None
    #: Reads their caches published (``cache:stats``, summed over their lessons).
    hits: int = 0
    misses: int = 0
    #: Bytes their keys hold (MEMORY USAGE); None where Redis cannot say (fakeredis).
    memory_bytes: int | None = None
    #: True when ``memory_bytes`` was extrapolated from a sample of their keys.
    memory_estimated: bool = False

    @property
    def hit_rate(self) -> float | None:
        """hits / (hits + misses); None until one of their caches published a read."""
        reads = self.hits + self.misses
        return self.hits / reads if reads else None


def _suffixed(key: str, ends: Iterable[str]) -> bool:
    return any(key.endswith(f":{end}") for end in ends)


def _per_client(client: redis.Redis) -> tuple[dict[str, list[int]] | None, dict[str, int] | None]:
    """Idle seconds of each user's connections (CLIENT LIST), and ACL LOG refusals per user.

    Only refusals of a *key* or *channel* count: they are attempts on a classmate's data.
    Refused commands (FLUSHDB, INFO) are what lessons explain, and the kit's own probes
    (``context: multi``) would be noise.
    """
    idle: dict[str, list[int]] = {}
    refused: dict[str, int] = {}
    try:
        for entry in client.client_list():
            idle.setdefault(str(entry.get("user", "")), []).append(int(entry.get("idle", 0)))
    except (redis.ResponseError, ValueError):  # fakeredis: no CLIENT LIST
        return None, None
    try:
        for event in client.acl_log():
            if event.get("reason") in ("key", "channel") and event.get("context") != "multi":
                user = str(event.get("username", ""))
                refused[user] = refused.get(user, 0) + int(str(event.get("count", 1)))
    except (redis.ResponseError, ValueError):
        return idle, None
    return idle, refused


def _total(part: list[Any]) -> int:
    """The sum of the replies that are counts (a wrong type or a key gone meanwhile: 0)."""
    return sum(int(r) for r in part if isinstance(r, int | str) and str(r).isdigit())


@dataclass(frozen=True)
class _KeyFigures:
    """What one pipeline over a learner's keys found (see :func:`_read_keys`)."""

    pending: int
    dead: int
    done: int
    idle_s: int | None
    hits: int
    misses: int
    memory_bytes: int | None
    memory_estimated: bool


def _memory(replies: list[Any], keys: int) -> tuple[int | None, bool]:
    """(bytes, estimated?) from MEMORY USAGE replies for a sample of ``keys`` keys."""
    sizes = [r for r in replies if isinstance(r, int)]
    if not keys:
        return 0, False
    if not sizes:  # MEMORY not there (fakeredis), or every sampled key gone meanwhile
        return None, False
    if len(sizes) >= keys:
        return sum(sizes), False
    return round(sum(sizes) / len(sizes) * keys), True


def _read_keys(client: redis.Redis, keys: list[str]) -> _KeyFigures:
    """Queues, cache counters, idle time and memory of one learner's keys: one pipeline."""
    pipe = client.pipeline(transaction=False)
    pending = [k for k in keys if _suffixed(k, _PENDING)]
    dead = [k for k in keys if _suffixed(k, _DEAD)]
    stats = [k for k in keys if _suffixed(k, _STATS)]
    cache = [k for k in keys if _CACHE_STATS in k]
    sample = keys[:IDLE_SAMPLE]
    measured = keys[:MEMORY_SAMPLE]
    for key in pending + dead:
        pipe.llen(key)
    for key in stats:
        pipe.hget(key, "done")
    for key in cache:
        pipe.hmget(key, ["hits", "misses"])
    for key in sample:
        pipe.object("idletime", key)
    for key in measured:
        pipe.memory_usage(key)
    replies: list[Any] = pipe.execute(raise_on_error=False) if keys else []
    lengths = len(pending) + len(dead)
    at_cache = lengths + len(stats)
    at_idle = at_cache + len(cache)
    at_memory = at_idle + len(sample)
    counts = [r for r in replies[at_cache:at_idle] if isinstance(r, list)]
    idle = [int(r) for r in replies[at_idle:at_memory] if isinstance(r, int)]
    memory, estimated = _memory(replies[at_memory:], len(keys))
    return _KeyFigures(_total(replies[:len(pending)]), _total(replies[len(pending):lengths]),
                       _total(replies[lengths:at_cache]), min(idle, default=None),
                       _total([c[0] for c in counts]), _total([c[1] for c in counts]),
                       memory, estimated)


def activity(client: redis.Redis) -> list[Activity]:
    """One :class:`Activity` per learner of the class on this Redis (empty: no class)."""
    roster = learners(client)
    if not roster:
        return []
    keys_of: dict[str, list[str]] = {learner.name: [] for learner in roster}
    for key in client.scan_iter(count=1000):
        owner = key_owner(key, keys_of)
        if owner is not None:
            keys_of[owner].append(key)
    idle_of, refused_of = _per_client(client)
    rows = []
    for learner in roster:
        found = _read_keys(client, keys_of[learner.name])
        connected = None if idle_of is None else idle_of.get(learner.name, [])
        idle = [i for i in [found.idle_s, *(connected or [])] if i is not None]
        rows.append(Activity(
            learner.name, learner.state, len(keys_of[learner.name]), found.pending,
            found.dead, found.done, min(idle, default=None),
            None if connected is None else len(connected),
            None if refused_of is None else refused_of.get(learner.name, 0),
            found.hits, found.misses, found.memory_bytes, found.memory_estimated))
    return rows


def server_hit_rate(client: redis.Redis) -> float | None:
    """The whole server's keyspace hit rate (INFO stats): every learner's reads together."""
    try:
        stats = client.info("stats")
    except redis.ResponseError:
        return None
    hits = int(stats.get("keyspace_hits", 0))
    misses = int(stats.get("keyspace_misses", 0))
    return hits / (hits + misses) if hits + misses else None


# --- how a row reads (the dashboard's table and ``helpdesk-kit classroom list``) ----------
HEADERS = ("learner", "state", "keys", "memory", "hit rate", "pending tasks", "dead letters",
           "tasks done", "last activity", "connections", "refused")


def idle_text(seconds: int | None) -> str:
    """``12 s ago``, ``3 min ago``, ``2 h ago``; ``n/a`` when Redis cannot tell."""
    if seconds is None:
        return "n/a"
    if seconds < 120:
        return f"{seconds} s ago"
    if seconds < 7200:
        return f"{seconds // 60} min ago"
    return f"{seconds // 3600} h ago"


def memory_text(row: Activity) -> str:
    """``12.3 KiB``; ``~1.2 MiB`` when estimated from a sample; ``n/a`` when unknown."""
    if row.memory_bytes is None:
        return "n/a"
    size = float(row.memory_bytes)
    unit = "B"
    for bigger in ("KiB", "MiB", "GiB"):
        if size < 1024:
            break
        size /= 1024
        unit = bigger
    shown = f"{row.memory_bytes} B" if unit == "B" else f"{size:.1f} {unit}"
    return f"~{shown}" if row.memory_estimated else shown


def _shown(value: int | None) -> object:
    return "n/a" if value is None else value


def rate_text(value: float | None) -> str:
    """``67%``; ``n/a`` when nothing was read (a learner's, or the whole class's)."""
    return "n/a" if value is None else f"{value:.0%}"


def shown_rows(rows: list[Activity]) -> list[tuple[object, ...]]:
    """Each row as the :data:`HEADERS` columns show it (``n/a`` for what Redis cannot tell)."""
    return [(r.name, r.state, r.keys, memory_text(r), rate_text(r.hit_rate), r.pending, r.dead,
             r.done, idle_text(r.idle_s), _shown(r.connections), _shown(r.refused))
            for r in rows]
