"""Lesson 18's exercise: ``redis-cli --bigkeys``, written with SCAN.

The learner writes ``answer(client, match)``: walk the keys matching ``match`` with SCAN and
return, for each Redis type found, the biggest key of that type and its size in the type's own
unit - ``{"list": ("lesson18:...:backlog", 5000), "string": (..., 2048), ...}``: elements for
a list, set, hash, sorted set or stream, bytes for a string. That is what ``redis-cli
--bigkeys`` prints ("Biggest list found ... has 5000 items"), and it works on any Redis,
fakeredis included (``MEMORY USAGE``, the lesson's ``--memkeys`` scan, does not).

The check builds keys of every type under the lesson's sandbox prefix, and bigger ones beside
it that do not match. It hands in a copy of the lesson's client that notes every command
name, so a ``KEYS`` is caught: one ``KEYS`` walks every key of the server in a single command.
"""

from __future__ import annotations

import copy
from typing import Any

from ...keys import KeySchema
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

__all__ = ["check", "check_quiz", "expected_bigkeys"]


def _noting_commands(client: Any) -> tuple[Any, list[str]]:
    """A shallow copy of ``client`` (same connections) whose commands are noted by name.

    redis-py's command methods all call ``self.execute_command``; an attribute on the copy
    comes first, so every command the learner sends passes through here.
    """
    names: list[str] = []
    watched = copy.copy(client)
    send = client.execute_command

    def execute_command(*args: Any, **options: Any) -> Any:
        if args:
            names.append(str(args[0]).upper())
        return send(*args, **options)

    watched.execute_command = execute_command
    return watched, names


def _build(client: Any, keys: KeySchema, outside: KeySchema) -> None:
    """Keys of every type under ``keys``; bigger ones under ``outside`` (not to be counted)."""
    pipe = client.pipeline(transaction=False)
    for n, length in enumerate((10, 2048, 300)):
        pipe.set(keys.entity("note", n), "x" * length)
    for n, length in enumerate((40, 5000, 7)):
        pipe.rpush(keys.entity("backlog", n), *range(length))
    for n, length in enumerate((120, 30)):
        pipe.sadd(keys.entity("seen", n), *range(length))
    for n, length in enumerate((5, 64)):
        pipe.hset(keys.entity("profile", n), mapping={f"f{i}": i for i in range(length)})
    pipe.zadd(keys.entity("ranking", 0), {f"m{i}": i for i in range(90)})
    for i in range(25):
        pipe.xadd(keys.entity("events", 0), {"n": i})
    pipe.rpush(outside.entity("backlog", 0), *range(9000))   # bigger, but not matching
    pipe.set(outside.entity("note", 0), "y" * 9000)
    pipe.execute()


def expected_bigkeys(keys: KeySchema) -> dict[str, tuple[str, int]]:
    """What ``_build`` makes: the biggest key of each type, and its size."""
    return {"string": (keys.entity("note", 1), 2048), "list": (keys.entity("backlog", 1), 5000),
            "set": (keys.entity("seen", 0), 120), "hash": (keys.entity("profile", 1), 64),
            "zset": (keys.entity("ranking", 0), 90), "stream": (keys.entity("events", 0), 25)}


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def check(lesson: Lesson, answer: Any) -> CheckResult:
    """Keys of six types (and bigger ones that do not match); the biggest of each type."""
    if is_unanswered(answer):
        return not_answered()
    keys = sandbox(lesson)
    outside = sandbox(lesson, "exercise-outside")
    try:
        _build(lesson.client, keys, outside)
        watched, commands = _noting_commands(lesson.client)
        got = run_answer(answer, watched, keys.prefix + "*")
    except AnswerFailed as exc:
        return wrong(str(exc))
    finally:
        sandbox(lesson)
        sandbox(lesson, "exercise-outside")
    return _judge(got, commands, expected_bigkeys(keys), outside.prefix)


def _judge(got: Any, commands: list[str], expected: dict[str, tuple[str, int]],
           outside: str) -> CheckResult:
    if "KEYS" in commands:
        return wrong("KEYS walks every key of the server in one command, and Redis serves "
                     "nobody else until it is done: incident 1 of this lesson. Walk them a "
                     "page at a time with SCAN (redis-py: scan_iter).")
    if not isinstance(got, dict):
        return wrong(f"return a dict {{type: (key, size)}}, not {type(got).__name__}.")
    found = {_text(kind): (_text(pair[0]), pair[1]) for kind, pair in got.items()
             if isinstance(pair, tuple | list) and len(pair) == 2}
    if len(found) != len(got):
        return wrong("each value is a pair (key, size), e.g. ('lesson18:backlog:1', 5000).")
    if any(key.startswith(outside) for key, _ in found.values()):
        return wrong("a key that does not match the pattern is in your answer: pass the "
                     "pattern to SCAN (match=...), and count only the keys it returns.")
    missing = sorted(set(expected) - set(found))
    if missing:
        return wrong(f"no entry for: {', '.join(missing)}. Every type among the matching keys "
                     "gets its biggest key (TYPE says which type a key is).")
    for kind, (key, size) in expected.items():
        if found[kind][1] != size and found[kind][0] == key:
            unit = "bytes (STRLEN)" if kind == "string" else "elements"
            return wrong(f"the biggest {kind} is the right key, but count its size in the "
                         f"type's own unit, {unit}: not {found[kind][1]!r}.")
        if found[kind] != (key, size):
            return wrong(f"for {kind} you found {found[kind]}: is each type compared with keys "
                         "of the same type only, and did SCAN visit every page (scan_iter "
                         "follows the cursor to the end)?")
    if len(found) > len(expected):
        return wrong(f"types that are not among the keys: {sorted(set(found) - set(expected))}.")
    return right("SCAN a page at a time, TYPE per key, then the size command of its type - "
                 "STRLEN, LLEN, SCARD, HLEN, ZCARD, XLEN: each is O(1), so the scan costs the "
                 "server little. This is redis-cli --bigkeys. Sizes in elements hide how big an "
                 "element is; --memkeys (MEMORY USAGE) answers in bytes, on a real server.")


#: The quiz: ``volatile-lru``, a full Redis whose every key with a TTL has been evicted; what
#: does the next ``enqueue`` (an ``RPUSH`` to ``tasks:pending``) get? (b: an OOM error)
check_quiz = Quiz(
    "b",
    why="volatile-* policies only ever evict keys that have a TTL. Once none is left there is "
        "nothing they may evict, and Redis refuses the write as it would under noeviction - "
        "redis.io, key eviction: 'The volatile-xxx policies behave like noeviction if no keys "
        "have an associated expiration.' The queue (no TTL) was never evicted; it is refused "
        "new tasks instead, and the kit's enqueue raises OutOfMemoryError.",
    hint="which keys may volatile-lru evict, and how many of those are left?")
