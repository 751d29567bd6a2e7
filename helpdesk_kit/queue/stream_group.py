"""The streams queue's storage: one stream, and the consumer group that knows who holds what.

Tasks are entries of ``tasks:stream`` (one field, ``task``, holding the task's JSON: see
:mod:`.stream_entries`), read through the consumer group ``workers``. The group records, for
every entry a worker took and has not acked, *who* holds it, *since when* (idle time) and
*how often* it was delivered. :class:`StreamGroup` holds what that storage does for the
queues' common life cycle (:class:`~helpdesk_kit.queue.base.BaseQueue`) and for its workers:

- **adding** an entry (``XADD``, with ``MAXLEN ~`` if capped) and **forgetting** a held one
  (``XACK``): the storage steps. Dead letters go to a list of their own
  (``tasks:stream:dead``), and burying acks the entry in the same MULTI, so a buried entry is
  never delivered again;
- **liveness** is the idle time itself: a live worker touches what it holds with every
  heartbeat (``XCLAIM <ids> JUSTID``, which resets the idle time and counts no delivery), and
  an entry idle for longer than the heartbeat TTL belongs to a dead worker.
  :meth:`~StreamGroup.claim_orphans` takes those with ``XAUTOCLAIM`` - the stream's own
  "requeue orphans" - and the group's delivery count (``XPENDING``) says how many workers
  already died holding each one;
- **hand-back** (a stopping worker's entries added again, the originals acked) and
  **trimming** (``XTRIM MINID``: the entries every worker is done with).

Taking, acking and inspecting are :class:`~helpdesk_kit.queue.stream_queue.StreamQueue`'s.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import redis

from ..backends.raw import bytes_reply
from ..keys import KeySchema
from .base import BaseQueue, QueueKeys
from .policy import RetryPolicy
from .stream_entries import (
    FIELD,
    GROUP,
    Fields,
    StreamTask,
    decode_entry,
    entries,
    entry_text,
    text,
)
from .task import Task, TaskRegistry

__all__ = ["StreamGroup"]


class StreamGroup(BaseQueue):
    """A stream of tasks and its consumer group (see the module); ``max_len`` caps the
    stream (approximately, ``~``; None: no cap). The other options are :class:`BaseQueue`'s."""

    def __init__(self, client: redis.Redis, keys: KeySchema, *, max_len: int | None,
                 registry: TaskRegistry, retry: RetryPolicy | None, max_task_bytes: int,
                 durable: bool, replica_timeout_ms: int, replicas: int | None) -> None:
        where = QueueKeys(pending=keys.tasks_stream, delayed=keys.tasks_stream_delayed,
                          dead=keys.tasks_stream_dead, stats=keys.tasks_stream_stats)
        super().__init__(client, keys, where, registry=registry, retry=retry,
                         max_task_bytes=max_task_bytes, durable=durable,
                         replica_timeout_ms=replica_timeout_ms, replicas=replicas)
        self.max_len = max_len
        #: Entries recovered from dead workers, waiting to run, per worker that claimed them.
        self.claimed: dict[str, list[StreamTask]] = {}
        self._group_ready = False

    # --- the storage steps ---------------------------------------------------------------
    def _add(self, pipe: Any, raws: Sequence[str | bytes]) -> None:
        for raw in raws:
            self.add_entry(pipe, FIELD, raw)

    def _drop_held(self, pipe: Any, worker_id: str | None, raw: str | bytes,
                   task: Task | None, entry_id: str | None) -> None:
        # the entry is the one given, or the one the task was read from; the group knows
        # which worker held it
        if entry_id is None and isinstance(task, StreamTask) and task.entry_id:
            entry_id = task.entry_id
        if entry_id:
            pipe.xack(self.keys.tasks_stream, GROUP, entry_id)

    def add_entry(self, pipe: Any, *pairs: object) -> Any:
        """``XADD`` one entry (field, value, ...) on ``pipe`` (a client or a pipeline)."""
        if self.max_len is None:
            return pipe.execute_command("XADD", self.keys.tasks_stream, "*", *pairs)
        return pipe.execute_command("XADD", self.keys.tasks_stream, "MAXLEN", "~",
                                    self.max_len, "*", *pairs)

    def decode_or_bury(self, entry_id: str, fields: Fields | None) -> list[StreamTask]:
        """``[task]``, or ``[]`` after making an entry that is not a task a dead letter.
        Whatever the entry holds, this never raises for it."""
        return self._parsed_or_buried(
            lambda: decode_entry(entry_id, fields, self.max_task_bytes),
            lambda: entry_text(fields), entry_id=entry_id)

    # --- the consumer group --------------------------------------------------------------
    def ensure_group(self) -> None:
        """Create the group ``workers`` at the stream's start (and the stream) if missing."""
        if self._group_ready:
            return
        try:
            self.client.xgroup_create(self.keys.tasks_stream, GROUP, id="0", mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):  # it exists already: what we wanted
                raise
        self._group_ready = True

    def _group(self) -> dict[str, Any] | None:
        try:
            groups = self.client.xinfo_groups(self.keys.tasks_stream)
        except redis.ResponseError:  # no stream yet
            return None
        return next((g for g in groups if text(g["name"]) == GROUP), None)

    def _consumers(self) -> list[dict[str, Any]]:
        try:
            return list(self.client.xinfo_consumers(self.keys.tasks_stream, GROUP))
        except redis.ResponseError:  # no stream or no group yet
            return []

    def held_ids(self, worker_id: str, limit: int = 10_000) -> list[str]:
        """The ids pending for ``worker_id`` (taken, not acked)."""
        return _ids(self._queue_held_ids(self.client, worker_id, limit))

    def _queue_held_ids(self, pipe: Any, worker_id: str, limit: int = 10_000) -> Any:
        """``XPENDING ... <worker_id>`` on ``pipe`` (a client: its reply; a pipeline: queued)."""
        return pipe.xpending_range(self.keys.tasks_stream, GROUP, "-", "+", limit,
                                   consumername=worker_id)

    def worker_ids(self) -> list[str]:
        """The consumers the group knows (live workers, and dead ones not yet forgotten)."""
        return sorted(text(c["name"]) for c in self._consumers())

    # --- workers: heartbeats, recovery, hand-back -----------------------------------------
    def register_worker(self, worker_id: str, ttl_s: float) -> None:
        self.ensure_group()
        self.heartbeat(worker_id, ttl_s)

    def heartbeat(self, worker_id: str, ttl_s: float) -> None:
        """"I am alive": the heartbeat key, and ``XCLAIM ... JUSTID`` of what we hold, which
        sets its idle time back to 0 (and does not count a delivery)."""
        pipe = self.client.pipeline(transaction=False)  # two independent commands, one trip
        self._beat(pipe, worker_id, ttl_s)
        self._queue_held_ids(pipe, worker_id)
        held = _ids(pipe.execute()[1])
        if held:
            self.client.execute_command("XCLAIM", self.keys.tasks_stream, GROUP, worker_id, 0,
                                        *held, "JUSTID")

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
            if len(reply) > 2:
                trimmed += len(reply[2])
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
                    self.bury(task.raw_text(), task,
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
        pipe = self.client.pipeline(transaction=False)
        pipe.delete(self.keys.worker_heartbeat(worker_id))
        self._queue_held_ids(pipe, worker_id)
        still_held = _ids(pipe.execute()[1])
        if not still_held:  # DELCONSUMER would drop pending entries: never
            self.client.xgroup_delconsumer(self.keys.tasks_stream, GROUP, worker_id)
        return moved

    # --- trimming --------------------------------------------------------------------------
    def trim(self) -> int:
        """``XTRIM MINID ~``: drop entries older than the oldest one still needed (pending,
        or not yet delivered); returns how many went. Never drops unprocessed work."""
        group = self._group()
        if group is None or text(group["last-delivered-id"]) == "0-0":
            return 0
        summary = self.client.xpending(self.keys.tasks_stream, GROUP)
        if summary["pending"]:
            keep_from = text(summary["min"])
        else:
            millis, _, seq = text(group["last-delivered-id"]).partition("-")
            keep_from = f"{millis}-{int(seq or 0) + 1}"
        return int(self.client.xtrim(self.keys.tasks_stream, minid=keep_from,
                                     approximate=True))


def _ids(pending: list[dict[str, Any]]) -> list[str]:
    """The entry ids of an ``XPENDING ... <consumer>`` reply, as redis-py parses it."""
    return [text(p["message_id"]) for p in pending]
