"""A first look at a Redis in trouble: lesson 18's four diagnoses in one call.

:func:`triage` asks a server what the lesson's incidents asked one at a time, and only
read-only questions, cheap enough for a production server:

* the slow log (``SLOWLOG GET``): the slowest recent commands, and how long each ran;
* the latency monitor (``LATENCY LATEST``): spikes per event, if a threshold is set;
* memory (``INFO memory``, ``INFO errorstats``): used against ``maxmemory``, the policy, and
  how many commands were refused with ``OOM``;
* the biggest keys of a ``SCAN`` sample (``MEMORY USAGE``): the ``--memkeys`` scan;
* the hottest keys of that sample (``OBJECT FREQ``), when the policy is an LFU one (Redis
  counts accesses only then).

:func:`helpdesk_kit.widgets.incidents.triage_tables` shows the answers as tables. On a server
a class shares, ``SLOWLOG``, ``LATENCY``, ``INFO`` and ``CONFIG`` may be refused
(``@dangerous``); each question then says so instead of an answer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import islice
from typing import Any

import redis

__all__ = ["Triage", "triage"]


@dataclass(frozen=True)
class Triage:
    """The answers, each a list of rows; ``refused`` names the questions Redis would not
    answer (and why)."""

    slow: list[tuple[str, float]] = field(default_factory=list)          # command, ms
    spikes: list[tuple[str, int, int]] = field(default_factory=list)     # event, latest, max
    memory: dict[str, str] = field(default_factory=dict)
    biggest: list[tuple[str, int]] = field(default_factory=list)         # key, bytes
    hottest: list[tuple[str, int]] | None = None                         # key, freq (LFU)
    refused: dict[str, str] = field(default_factory=dict)


def _text(value: Any) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


def triage(client: redis.Redis, *, match: str = "*", sample: int = 10_000, top: int = 3
           ) -> Triage:
    """Ask ``client``'s server the five questions; keys are sampled from ``match`` (at most
    ``sample`` of them, with SCAN) and the ``top`` of each list is kept."""
    answers: dict[str, Any] = {"refused": {}}

    def ask(name: str, question: Any) -> None:
        try:
            answers[name] = question()
        except redis.RedisError as exc:
            answers["refused"][name] = f"{type(exc).__name__}: {exc}"

    ask("slow", lambda: [(_text(entry["command"])[:80], entry["duration"] / 1000)
                         for entry in client.slowlog_get(top)])
    ask("spikes", lambda: [(_text(event), int(latest), int(worst))
                           for event, _at, latest, worst in client.latency_latest()][:top])
    ask("memory", lambda: _memory(client))
    keys = [_text(key) for key in islice(client.scan_iter(match=match, count=1000), sample)]
    ask("biggest", lambda: _top(keys, _per_key(client, keys, "memory_usage"), top))
    policy = answers.get("memory", {}).get("maxmemory_policy", "")
    if "lfu" in policy:
        ask("hottest", lambda: _top(keys, _per_key(client, keys, "object", "freq"), top))
    return Triage(**answers)


def _per_key(client: redis.Redis, keys: list[str], command: str, *first: str) -> list[int]:
    """One command per key, a thousand per round trip (``MEMORY USAGE k``, ``OBJECT FREQ k``);
    a key gone meanwhile counts 0."""
    values: list[int] = []
    for start in range(0, len(keys), 1000):
        pipe = client.pipeline(transaction=False)
        for key in keys[start:start + 1000]:
            getattr(pipe, command)(*first, key)
        values += [int(value or 0) for value in pipe.execute()]
    return values


def _top(keys: list[str], values: list[int], top: int) -> list[tuple[str, int]]:
    return sorted(zip(keys, values, strict=True), key=lambda pair: -pair[1])[:top]


def _memory(client: redis.Redis) -> dict[str, str]:
    memory = client.info("memory")
    errors = client.info("errorstats")
    oom = errors.get("errorstat_OOM", {}).get("count", 0)
    return {"used_memory_human": str(memory["used_memory_human"]),
            "maxmemory_human": str(memory["maxmemory_human"]),
            "maxmemory_policy": str(memory["maxmemory_policy"]),
            "errorstat_OOM (commands refused)": str(oom)}
