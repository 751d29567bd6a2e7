"""Lesson 11's exercise and quizzes: route a key to its node, as a cluster client does.

The learner writes ``answer(client, key) -> str``: ``client`` is a plain (not cluster-aware)
client of one node; return the ``host:port`` of the primary that serves ``key`` now, asking
that node: ``CLUSTER KEYSLOT`` for the key's slot, ``CLUSTER SHARDS`` for who serves which
slots. The check asks each answer of a different node (so "the node I am connected to" is
wrong most of the time), on keys with awkward hash tags, and checks it against the live
cluster twice: with the cluster's own slot map, and by sending ``EXISTS key`` to the node
named - a node that does not serve the key answers ``MOVED`` (EXISTS reads a key of any
type). It runs on the lesson's cluster when it is given, otherwise on a small practice cluster
of its own.
"""

from __future__ import annotations

from typing import Any

import redis

from ...backends import ClusterLab
from ...backends.cluster import hash_slot
from ..checks import (
    AnswerFailed,
    CheckResult,
    Quiz,
    is_unanswered,
    not_answered,
    right,
    run_answer,
    wrong,
)
from ..lesson import Lesson
from ..practice import practice_lab, servers_missing

__all__ = ["KEYS", "check", "check_quiz", "check_quiz_2", "practice_cluster", "shard_of"]

#: Keys to route: tags, an empty tag, two tags, a lone brace (their slots differ).
KEYS = ("ticket:7", "{tasks}:pending", "helpdesk:{tasks}:processing:w1", "a{}b", "{a}{b}",
        "x{y", "user:{42}:name", "session:abc")

def practice_cluster() -> ClusterLab:
    """3 primaries and 3 replicas, for a check run without the lesson's cluster."""
    return practice_lab("cluster", ClusterLab)


def shard_of(lab: ClusterLab, key: str) -> tuple[str, set[str]]:
    """The shard that serves ``key``'s slot, from a live node's ``CLUSTER SHARDS``: the
    ``host:port`` of its primary, and of every node in it (the reference the check uses)."""
    slot = hash_slot(key)
    node = next(n for n in lab.nodes if n.alive)
    with node.client() as client:
        shards = client.execute_command("CLUSTER SHARDS")
    for shard in shards:
        ranges = list(shard["slots"])
        starts = ranges[0::2]
        ends = ranges[1::2]
        if any(int(start) <= slot <= int(end) for start, end in zip(starts, ends, strict=True)):
            members = {f"{n['ip']}:{n['port']}": n["role"] for n in shard["nodes"]}
            primary = next(address for address, role in members.items() if role == "master")
            return primary, set(members)
    raise LookupError(f"no shard serves slot {slot}: the cluster is not healthy")


def _moved(lab: ClusterLab, address: str, key: str) -> str | None:
    """``EXISTS key`` on the node at ``address``: None if it answers, else what it said."""
    node = next((n for n in lab.nodes if n.address == address and n.alive), None)
    if node is None:
        return f"no live node of this cluster is at {address}"
    with node.client() as client:
        try:
            client.exists(key)
        except redis.exceptions.MovedError as exc:
            return f"it answers MOVED {exc}"
    return None


def check(lesson: Lesson, answer: Any, lab: ClusterLab | None = None) -> CheckResult:
    """Route every key of :data:`KEYS` with ``answer``, each asked of another node; compare
    with the cluster's slot map and with an EXISTS sent where the answer says."""
    del lesson  # the cluster is the lesson's lab (or a practice one), not the lesson's Redis
    if is_unanswered(answer):
        return not_answered()
    missing = servers_missing()
    if missing:
        return missing
    lab = lab or practice_cluster()
    live = [node for node in lab.nodes if node.alive]
    for number, key in enumerate(KEYS):
        asked = live[number % len(live)]
        with asked.client() as client:
            try:
                got = run_answer(answer, client, key)
            except AnswerFailed as exc:
                return wrong(f"routing {key!r} (asking {asked.address}): {exc}")
        if not isinstance(got, str) or got.count(":") != 1:
            return wrong(f"routing {key!r}: return one 'host:port' string, not {got!r}.")
        expected, shard = shard_of(lab, key)
        said = _moved(lab, got, key)
        if got == expected:
            if said:  # the map changed under us (a failover): say so rather than blame
                return CheckResult(None, f"the cluster changed while checking ({said}): run "
                                         "the check again.")
            continue
        if got == asked.address:
            hint = ("That is the node you asked: any node answers CLUSTER commands, but it "
                    "serves only its own slots. Find the shard whose slots hold the key's.")
        elif got in shard:
            hint = ("That node is in the right shard, but it is a replica: the one that "
                    "serves the slot has the role 'master'.")
        else:
            hint = ("That primary serves other slots. Let the server compute the slot "
                    "(CLUSTER KEYSLOT): an empty {} or a lone { does not make a hash tag.")
        return wrong(f"routing {key!r} (slot {hash_slot(key)}, asked of {asked.address}): you "
                     f"said {got}, and {said or 'it does not serve that slot'}. {hint}")
    return right("that is what a cluster client does for every command: the slot of the key "
                 "(CRC16 of the key or of its hash tag, mod 16384), then the primary whose "
                 "shard serves that slot. redis-py's RedisCluster keeps that map (it asks "
                 "CLUSTER SLOTS), follows a MOVED to the node it names, and reads the whole "
                 "map again after a few of them.")


check_quiz = Quiz(
    "a",
    why="only a) shares a hash tag: both keys hash only `user:7`, so they share a slot and one "
        "MSET may write both. In b) there is no tag, so each whole key is hashed (two slots). "
        "In c) the tags are `user` and `user:7`: different text, different slots.",
    hint="for each key, find the part Redis hashes: the text between the first { and the "
         "first } after it, if it is not empty.")

check_quiz_2 = Quiz(
    "b",
    why="a multi-key command must name keys of one *slot*, not one node: the server checks "
        "the slots first and answers CROSSSLOT even when one primary serves both slots "
        "(2648 and 2780 are both in 0-5460 here). Give them one tag to put them in one slot.",
    hint="the rule is about slots. Is it about nodes too?")
