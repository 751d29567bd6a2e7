"""Lesson 08's exercise and quizzes: the seed's ``/api/metrics``, from INFO's text by hand.

The learner writes ``api_metrics(client, keys, info)``: the seed's JSON ::

    {"redis": {"keys": DBSIZE, "queue_length": LLEN tasks:pending,
               "memory": {"used_bytes": used_memory, "max_bytes": maxmemory,
                          "used_percent": used / max in percent, or None without a limit}}}

where ``info`` is the text ``INFO`` answered (``field:value`` lines under ``# Section``
headers), split by hand, and ``DBSIZE`` and ``LLEN`` are asked of Redis. The check runs it
on two real INFO texts kept in :mod:`.info_samples` (one without a memory limit, one 75 %
full) on any backend, and where the server answers ``INFO`` on its live text too, against
the kit's own snapshot of the same server (:meth:`MetricsCollector.snapshot_json`).
"""

from __future__ import annotations

import json
from typing import Any

import redis

from ...metrics import MetricsCollector
from ..checks import (
    AnswerFailed,
    CheckResult,
    Quiz,
    is_unanswered,
    not_answered,
    right,
    run_answer,
    sandbox,
    wrong,
)
from ..lesson import Lesson
from .info_samples import NO_LIMIT, WITH_LIMIT

__all__ = ["QUIZ_LINE", "QUIZ_POLL_KEYS", "check", "check_quiz", "check_quiz_2", "info_text"]

#: Tasks the check leaves waiting in its own tasks:pending.
WAITING = 3


def info_text(client: redis.Redis) -> str:
    """``INFO`` as the text Redis sends: a client on the same connections, told to leave
    INFO's reply as it comes (redis-py's own ``client.info()`` turns it into a dict)."""
    as_text = redis.Redis(connection_pool=client.connection_pool)
    as_text.set_response_callback("INFO", lambda reply, **options: reply)
    reply: Any = as_text.info()
    return str(reply)


def _field(text: str, name: str) -> int:
    for line in text.splitlines():
        if line.startswith(f"{name}:"):
            return int(line.split(":", 1)[1])
    raise KeyError(name)


def _expected_memory(text: str) -> dict[str, Any]:
    used = _field(text, "used_memory")
    limit = _field(text, "maxmemory")
    return {"used_bytes": used, "max_bytes": limit,
            "used_percent": round(100 * used / limit, 2) if limit else None}


def _judge(got: Any, text: str, client: redis.Redis, queue: str) -> str | None:
    """What is wrong with ``got`` for the INFO ``text`` (None: nothing)."""
    if isinstance(got, str):
        try:
            got = json.loads(got)
        except ValueError:
            return "return the JSON as a dict (the seed returns it with NextResponse.json)."
    redis_part = got.get("redis") if isinstance(got, dict) else None
    memory = redis_part.get("memory") if isinstance(redis_part, dict) else None
    if not isinstance(memory, dict):
        return ("return the seed's shape: {'redis': {'keys': ..., 'queue_length': ..., "
                f"'memory': {{'used_bytes': ..., 'max_bytes': ..., 'used_percent': ...}}}}}}, "
                f"not {str(got)[:80]!r}.")
    assert isinstance(redis_part, dict)
    if redis_part.get("keys") != client.dbsize():
        return (f"keys is {redis_part.get('keys')!r}, but this database holds "
                f"{client.dbsize()} keys: keys is DBSIZE, asked of Redis now (the seed's "
                "redis.dbsize()). The db0 line of INFO's text comes from the server that "
                "wrote it, at the moment it wrote it.")
    if redis_part.get("queue_length") != client.llen(queue):
        return (f"queue_length is {redis_part.get('queue_length')!r}, but {queue!r} holds "
                f"{client.llen(queue)} tasks: LLEN the queue's key, keys.tasks_pending.")
    expected = _expected_memory(text)
    for name in ("used_bytes", "max_bytes"):
        value = memory.get(name)
        if isinstance(value, str):
            return (f"memory.{name} is the text {value!r}: everything INFO sends is text; "
                    "turn the number into an int.")
        if value != expected[name]:
            field = "used_memory" if name == "used_bytes" else "maxmemory"
            return (f"memory.{name} is {value!r}, not what the line {field}: says (the bytes "
                    "themselves, not the *_human line, not used_memory_rss).")
    percent = memory.get("used_percent")
    if expected["used_percent"] is None and percent is not None:
        return (f"used_percent is {percent!r} with maxmemory 0, which means no limit: there "
                "is no percentage of no limit. Answer None (null in JSON) - the seed's 0 "
                "would read as an empty Redis.")
    close = (isinstance(percent, int | float) and not isinstance(percent, bool)
             and abs(percent - (expected["used_percent"] or 0)) <= 0.01)  # NaN is never close
    if expected["used_percent"] is not None and not close:
        return (f"used_percent is {percent!r} for used_memory {expected['used_bytes']:,} of "
                f"maxmemory {expected['max_bytes']:,}: the part of the limit in use, as a "
                "percentage (0 to 100), to two decimals.")
    return None


def check(lesson: Lesson, answer: Any) -> CheckResult:
    """``api_metrics(client, keys, info)`` on two recorded INFO texts, and on the live one."""
    if is_unanswered(answer):
        return not_answered()
    keys = sandbox(lesson)
    client = lesson.client
    client.rpush(keys.tasks_pending, *(json.dumps({"type": "send_notifications", "n": n})
                                       for n in range(WAITING)))
    live = lesson.backend.capabilities.info
    try:
        for name, text in (("without a memory limit", NO_LIMIT), ("75 % full", WITH_LIMIT)):
            problem = _judge(run_answer(answer, client, keys, text), text, client,
                             keys.tasks_pending)
            if problem:
                return wrong(f"on a recorded INFO ({name}): {problem}")
        if live:
            text = info_text(client)
            got = run_answer(answer, client, keys, text)
            kit = MetricsCollector(client, keys).snapshot_json()["redis"]
            problem = _judge(got, text, client, keys.tasks_pending)
            if problem:
                return wrong(f"on this server's INFO: {problem}")
            for name in ("keys", "queue_length"):
                if got["redis"][name] != kit[name]:
                    return wrong(f"{name} is {got['redis'][name]}, the kit's snapshot of "
                                 f"this server says {kit[name]}.")
            if got["redis"]["memory"]["max_bytes"] != kit["memory"]["max_bytes"]:
                return wrong("memory.max_bytes differs from the kit's snapshot of this server.")
    except AnswerFailed as exc:
        return wrong(str(exc))
    finally:
        sandbox(lesson)
    where = ("and on this server's own INFO, where it agrees with the kit's snapshot"
             if live else "(this Redis answers no INFO: on a real server it is also checked "
                          "against the kit's snapshot)")
    return right("the seed's /api/metrics, from INFO's text split by hand on two recorded "
                 f"servers {where}. INFO is field:value lines under # headers; DBSIZE and "
                 "LLEN are one command each; a number nobody can give is null, not 0. The "
                 "kit's snapshot_json has the same keys and more, each with where it came "
                 "from.")


#: Quiz 1: an INFO keyspace line (not the seed's).
QUIZ_LINE = "db0:keys=1200,expires=900,avg_ttl=45000"

check_quiz = Quiz(
    (300, 45),
    why="keys counts every key of database 0 and expires only those with a TTL: 1200 - 900 = "
        "300 never expire. avg_ttl is in milliseconds: 45000 ms is 45 s - the average time the "
        "keys with a TTL have left, an estimate Redis makes from the keys it samples.",
    hint="keys - expires; and in which unit is avg_ttl?",
    giveaways=("(300, 45)",))

#: Quiz 2: a dashboard's poll, and how many of the keys it reads exist.
QUIZ_POLL_KEYS = 100

check_quiz_2 = Quiz(
    "b",
    why="keyspace_hits and keyspace_misses count every lookup of a key for a read, by every "
        "client: each poll's 100 PTTLs are 100 hits and the LLEN of a queue that does not "
        "exist is 1 miss; DBSIZE and INFO look up no key. Not one cache read, and INFO's rate "
        "says 100 / 101, about 99 %. That is why the hit-rate row of the kit's tuning table "
        "uses the app's own counters and says 'no reads yet' before the first one.",
    hint="which of the four commands look up a key to read it, and do those keys exist?",
    giveaways=("99%",))
