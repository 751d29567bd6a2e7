"""Streams-mode workers as the queue sees them: heartbeats, recovery, hand-back.

A stream's consumer group already records, for every entry a worker took and has not acked,
*who* holds it, *since when* (idle time) and *how often* it was delivered. So the liveness
signal is the idle time itself: a live worker touches what it holds with every heartbeat
(``XCLAIM <ids> JUSTID``, which resets the idle time and counts no delivery), and an entry
idle for longer than the heartbeat TTL belongs to a dead worker. :meth:`claim_orphans` takes
those with ``XAUTOCLAIM`` - the stream's own "requeue orphans" - and the group's delivery
count (``XPENDING``) says how many workers already died holding each one. Mixed into
:class:`~helpdesk_kit.queue.stream_queue.StreamQueue`.
"""

from __future__ import annotations

from typing import Any

import redis

from ..backends.raw import bytes_reply
from .stream_entries import GROUP, StreamTask, entries, text
from .stream_letters import StreamLetters
from .task import Task, now_ms

__all__ = ["StreamWorkerOps"]


class StreamWorkerOps(StreamLetters):
    """Worker bookkeeping of the streams queue (mixed into StreamQueue)."""

    retry: Any  # the queue's RetryPolicy
    claimed: dict[str, list[StreamTask]]

    def ensure_group(self) -> None:  # StreamQueue's
        raise NotImplementedError

    def decode_or_bury(self, entry_id: str, fields: Any) -> list[StreamTask]:  # StreamQueue's
        raise NotImplementedError

    def trim(self) -> int:  # StreamQueue's
        raise NotImplementedError

    # --- workers: heartbeats, recovery, hand-back ---------------------------------------
    def register_worker(self, worker_id: str, ttl_s: float) -> None:
        self.ensure_group()
        self.heartbeat(worker_id, ttl_s)

    def heartbeat(self, worker_id: str, ttl_s: float) -> None:
        """"I am alive": the heartbeat key, and ``XCLAIM ... JUSTID`` of what we hold, which
        sets its idle time back to 0 (and does not count a delivery)."""
        self.client.set(self.keys.worker_heartbeat(worker_id), now_ms(), px=int(ttl_s * 1000))
        held = self.held_ids(worker_id)
        if held:
            self.client.execute_command("XCLAIM", self.keys.tasks_stream, GROUP, worker_id, 0,
                                        *held, "JUSTID")

    def held_ids(self, worker_id: str, limit: int = 10_000) -> list[str]:
        """The ids pending for ``worker_id`` (taken, not acked)."""
        pending = self.client.xpending_range(self.keys.tasks_stream, GROUP, "-", "+", limit,
                                             consumername=worker_id)
        return [text(p["message_id"]) for p in pending]

    def claim_orphans(self, worker_id: str, min_idle_s: float) -> int:
        """Take the entries idle for ``min_idle_s`` or more (their worker died) for
        ``worker_id``, with ``XAUTOCLAIM``; returns how many it will run.

        Each claim is a delivery, counted by the group: an entry claimed after its
        ``max_attempts``-th death is buried instead ("worker died N times ..."). Entries
        trimmed away while pending come back from XAUTOCLAIM as deleted ids: counted as
        ``trimmed`` (they are lost: that is what a too-small ``max_len`` costs). It is the
        worker's maintenance, so it also forgets dead consumers and trims acked entries.
        """
        self.ensure_group()
        start = "0-0"
        claimed = []
        trimmed = 0
        while True:
            reply = bytes_reply(self.client, "XAUTOCLAIM", self.keys.tasks_stream, GROUP,
                                worker_id, max(0, int(min_idle_s * 1000)), start, "COUNT", 100)
            start = text(reply[0])
            claimed += entries(reply[1])
            trimmed += len(reply[2]) if len(reply) > 2 else 0
            if start == "0-0":
                break
        if trimmed:
            self.client.hincrby(self.keys.tasks_stream_stats, "trimmed", trimmed)
        self.forget_dead_consumers(min_idle_s)
        self.trim()  # maintenance runs here: drop what every worker has acked
        if not claimed:
            return 0
        deliveries = {text(p["message_id"]): int(p["times_delivered"]) for p in
                      self.client.xpending_range(self.keys.tasks_stream, GROUP, "-", "+",
                                                 len(claimed) + 1000, consumername=worker_id)}
        ready: list[StreamTask] = []
        for entry_id, fields in claimed:
            for task in self.decode_or_bury(entry_id, fields):
                deaths = max(0, deliveries.get(entry_id, 1) - 1)  # deliveries never acked
                task.attempts += deaths
                task.crashes += deaths
                if task.attempts >= self.retry.max_attempts:
                    self.bury(_raw(task), task,
                              f"worker died {task.crashes} times while processing it")
                else:
                    ready.append(task)
        self.claimed.setdefault(worker_id, []).extend(ready)
        if ready:
            self.client.hincrby(self.keys.tasks_stream_stats, "recovered", len(ready))
        return len(ready)

    def forget_dead_consumers(self, min_idle_s: float) -> int:
        """Drop consumers that hold nothing, are idle and have no heartbeat (dead workers'
        names would pile up in ``XINFO CONSUMERS``); returns how many."""
        forgotten = 0
        for consumer in self._consumers():
            name = text(consumer["name"])
            if int(consumer["pending"]) or int(consumer["idle"]) < min_idle_s * 1000:
                continue
            if not self.client.exists(self.keys.worker_heartbeat(name)):
                self.client.xgroup_delconsumer(self.keys.tasks_stream, GROUP, name)
                forgotten += 1
        return forgotten

    def release(self, worker_id: str) -> int:
        """Hand back what ``worker_id`` holds: each entry added again (at the end of the
        stream) and the original acked, in one MULTI. Returns how many went back."""
        self.claimed.pop(worker_id, None)
        held = self.held_ids(worker_id)
        if not held:
            return 0
        pipe = self.client.pipeline(transaction=False)
        for entry_id in held:
            bytes_reply(pipe, "XRANGE", self.keys.tasks_stream, entry_id, entry_id)
        found = [pair for reply in pipe.execute() for pair in entries(reply)]
        pipe = self.client.pipeline(transaction=True)
        for _entry_id, fields in found:
            if fields:  # as it was, bytes and all: a malformed one is buried when read again
                self.add_entry(pipe, *(x for pair in fields.items() for x in pair))
        pipe.xack(self.keys.tasks_stream, GROUP, *held)
        pipe.execute()
        return sum(1 for _id, fields in found if fields)

    def unregister_worker(self, worker_id: str) -> int:
        """Graceful exit: hand back what it holds, drop its heartbeat and its consumer."""
        moved = self.release(worker_id)
        self.client.delete(self.keys.worker_heartbeat(worker_id))
        if not self.held_ids(worker_id):  # DELCONSUMER would drop pending entries: never
            self.client.xgroup_delconsumer(self.keys.tasks_stream, GROUP, worker_id)
        return moved

    def worker_ids(self) -> list[str]:
        """The consumers the group knows (live workers, and dead ones not yet forgotten)."""
        return sorted(text(c["name"]) for c in self._consumers())

    def _consumers(self) -> list[dict[str, Any]]:
        try:
            return list(self.client.xinfo_consumers(self.keys.tasks_stream, GROUP))
        except redis.ResponseError:  # no stream or no group yet
            return []


def _raw(task: Task) -> str:
    return task.raw if task.raw is not None else task.to_json()
