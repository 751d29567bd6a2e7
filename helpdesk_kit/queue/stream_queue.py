"""The third queue mode: one Redis stream, read through a consumer group (lesson 14).

The list queues (:mod:`.list_queue`) move a task from list to list; a stream keeps every task
as an entry of one log, and the consumer *group* remembers who holds what:

1. ``enqueue`` is ``XADD tasks:stream * task <json>`` (``XADD tasks:stream MAXLEN ~ max_len
   * task <json>`` with a cap);
2. ``reserve`` is ``XREADGROUP GROUP workers <worker> COUNT n STREAMS tasks:stream >``: the
   entries become *pending* for that consumer, in the group's pending list (who, since
   when, delivered how often: ``XPENDING``);
3. ``ack`` is ``XACK``: no longer pending; one task at a time, ``ack_and_reserve`` acks it
   and reads the next in one round trip (one script), as the reliable list does;
4. ``fail`` acks and puts the task in ``tasks:stream:delayed`` (backoff, as in reliable
   mode); a task whose time has come is added to the stream again, as a new entry;
5. a live worker touches its pending entries with every heartbeat (``XCLAIM ... JUSTID``: idle
   time back to 0), so only a dead worker's entries grow idle. ``claim_orphans`` takes those
   idle longer than the heartbeat TTL with ``XAUTOCLAIM``. The group counts every delivery:
   an entry delivered ``max_attempts`` + 1 times without an ack (workers kept dying while
   holding it) becomes a dead letter instead;
6. acked entries stay in the log until :meth:`trim` (``XTRIM MINID``) drops the ones older
   than the oldest entry still needed. ``MAXLEN`` on ``XADD`` is a memory cap of last resort:
   it drops the oldest entries whether or not a worker has processed them. So there is none
   unless you ask for one (``max_len``): like the list queue, an uncapped stream grows until
   ``maxmemory`` refuses the next ``XADD`` - an error the producer sees, and nothing dropped.

Delivery is *at least once*, as in reliable mode: the same idempotent handlers run, in the
same :class:`~helpdesk_kit.queue.Worker` (``mode="streams"``). Enqueueing, failing, promotion
of due retries and the dead letters are the queues' common life cycle
(:class:`~helpdesk_kit.queue.base.BaseQueue`); the stream and its group - adding, heartbeats,
recovery, hand-back, trimming - are :class:`~helpdesk_kit.queue.stream_group.StreamGroup`'s;
this module takes, acks and inspects. With ``KeySchema(cluster=True)`` every key here shares
the hash tag ``{tasks}`` (one MULTI touches the stream and the delayed set).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import redis

from ..backends.raw import bytes_reply
from ..backends.scripts import Library, ScriptRunner
from ..config import MAX_TASK_BYTES
from ..keys import KeySchema
from .policy import QueueStats, RetryPolicy
from .stream_entries import FIELD, GROUP, StreamTask, read_entries, script_entries, text
from .stream_group import StreamGroup
from .task import Task, TaskRegistry, now_ms

__all__ = ["ACK_AND_READ", "STREAM_LIBRARY", "StreamQueue", "StreamTask"]

#: KEYS: the stream, its stats hash; ARGV: the worker, then what it finished: the entry's id,
#: ``+`` for a task that is no entry (counted, nothing to ack), ``""`` for nothing. The ack
#: and the next read in one command. The usual entry (one ``task`` field) comes back as one
#: string, ``"<id> <task json>"``: one value to parse instead of five nested ones; any other
#: comes back as XREADGROUP gave it (real Redis wraps the stream in one more list than
#: fakeredis' Lua: both are read). The group's name is written in: one argument less a call.
ACK_AND_READ = """
if ARGV[2] ~= '' then
  if ARGV[2] ~= '+' then
    redis.call('XACK', KEYS[1], 'GROUP_NAME', ARGV[2])
  end
  redis.call('HINCRBY', KEYS[2], 'done', 1)
end
local read = redis.call('XREADGROUP', 'GROUP', 'GROUP_NAME', ARGV[1], 'COUNT', 1,
                        'STREAMS', KEYS[1], '>')
if not read or #read == 0 then
  return false
end
local stream = read
if type(read[1]) == 'table' then
  stream = read[1]
end
local entry = stream[2][1]
local fields = entry[2]
if #fields == 2 and fields[1] == 'task' then
  return entry[1] .. ' ' .. fields[2]
end
return read
""".replace("GROUP_NAME", GROUP)

#: The streams queue's Lua scripts, one Functions library (:mod:`helpdesk_kit.backends.scripts`).
STREAM_LIBRARY = Library("helpdesk_kit_stream_queue", {"ack_and_read": ACK_AND_READ})



class StreamQueue(StreamGroup):
    """The queue on one Redis stream. Same producing API and guarantees as ``TaskQueue``.

    ``max_len`` caps the stream (approximately, ``~``), dropping the oldest entries, done or
    not (None, the default: no cap; see the module); ``trim_every`` acks, :meth:`trim`
    removes the processed entries. ``registry``, ``retry``, ``max_task_bytes``, ``durable``,
    ``replicas`` and ``replica_timeout_ms`` are the list queue's
    (:class:`~helpdesk_kit.queue.base.BaseQueue`).
    """

    def __init__(self, client: redis.Redis, keys: KeySchema | None = None, *,
                 registry: TaskRegistry, retry: RetryPolicy | None = None,
                 max_task_bytes: int = MAX_TASK_BYTES, max_len: int | None = None,
                 trim_every: int = 1000, durable: bool = False, replica_timeout_ms: int = 1000,
                 replicas: int | None = None) -> None:
        if (max_len is not None and max_len < 1) or trim_every < 1:
            raise ValueError("max_len and trim_every must be at least 1")
        super().__init__(client, keys or KeySchema(), max_len=max_len, registry=registry,
                         retry=retry, max_task_bytes=max_task_bytes, durable=durable,
                         replica_timeout_ms=replica_timeout_ms, replicas=replicas)
        self.trim_every = trim_every
        self._acked_since_trim = 0
        #: The queue's scripts: FCALL of its library, or EVALSHA.
        self.scripts = ScriptRunner(client, STREAM_LIBRARY)

    def __repr__(self) -> str:
        return f"StreamQueue({self.keys.tasks_stream!r})"

    # --- taking ----------------------------------------------------------------------------
    def take(self, worker_id: str, count: int, timeout: float) -> list[Task]:
        """Up to ``count`` tasks in one ``XREADGROUP``, waiting up to ``timeout`` s for the
        first (the worker protocol's step)."""
        return list(self.reserve_many(worker_id, count, timeout))

    def reserve(self, worker_id: str, timeout: float = 0) -> StreamTask | None:
        """The next task, pending for ``worker_id`` until acked (waits up to ``timeout`` s)."""
        tasks = self.reserve_many(worker_id, 1, timeout)
        return tasks[0] if tasks else None

    def reserve_many(self, worker_id: str, count: int, timeout: float = 0
                     ) -> list[StreamTask]:
        """Up to ``count`` tasks in one ``XREADGROUP`` (recovered ones first); malformed
        entries are buried on the way. ``timeout`` > 0 blocks that long for the first."""
        self.ensure_group()
        recovered = self.claimed.get(worker_id)
        if recovered:
            taken = recovered[:count]
            del recovered[:count]
            return taken
        block_ms = 0
        if timeout > 0:
            block_ms = max(1, int(timeout * 1000))
        while True:
            got = read_entries(self._read(worker_id, count, block_ms))
            if not got:
                return []
            tasks = [t for entry_id, fields in got for t in self.decode_or_bury(entry_id, fields)]
            if tasks:
                return tasks
            block_ms = 0  # only malformed entries came: look again, without blocking

    def _read(self, worker_id: str, count: int, block_ms: int) -> Any:
        args: list[object] = ["XREADGROUP", "GROUP", GROUP, worker_id, "COUNT", count]
        if block_ms > 0:
            args += ["BLOCK", block_ms]
        args += ["STREAMS", self.keys.tasks_stream, ">"]
        try:
            return bytes_reply(self.client, *args)
        except redis.ResponseError as exc:
            if "NOGROUP" not in str(exc):
                raise
            self._group_ready = False  # someone deleted the stream: start it again
            self.ensure_group()
            return bytes_reply(self.client, *args)

    # --- acking ----------------------------------------------------------------------------
    def ack(self, worker_id: str, tasks: Task | Iterable[Task]) -> None:
        """Done: ``XACK`` the entries and count them, in one MULTI; trim now and then."""
        batch = [tasks] if isinstance(tasks, Task) else list(tasks)
        if not batch:
            return
        pipe = self.client.pipeline(transaction=True)
        self._queue_ack(pipe, batch)
        pipe.execute()
        self._trim_now_and_then(len(batch))

    def ack_and_reserve(self, worker_id: str, done: Task | None) -> StreamTask | None:
        """Ack ``done`` (if any) and read the next task, in one round trip (two if no Lua).

        The list queue's ``ack_and_reserve`` on a stream: one script runs ``XACK``, the
        "done" count and ``XREADGROUP ... COUNT 1`` (not blocking), atomically. The read
        entry is pending for ``worker_id`` until its own ack, so at least once holds as with
        :meth:`ack` then :meth:`reserve`. Its reply comes back as bytes: an entry that is
        not UTF-8 reaches :meth:`decode_or_bury`.
        """
        self.ensure_group()
        if self.claimed.get(worker_id):  # recovered tasks go first, as in reserve_many
            if done is not None:
                self.ack(worker_id, done)
            return self.reserve(worker_id)
        finished = [] if done is None else [done]
        acked = ""  # nothing finished
        if isinstance(done, StreamTask) and done.entry_id:
            acked = done.entry_id
        elif done is not None:  # a task that is no entry: counted, nothing to ack
            acked = "+"
        keys = [self.keys.tasks_stream, self.keys.tasks_stream_stats]
        try:
            reply = self.scripts.run("ack_and_read", keys, [worker_id, acked], raw=True,
                                     client=self.client)
        except redis.ResponseError as exc:
            if "NOGROUP" in str(exc):  # the stream was deleted: the ack ran, the read did not
                self._group_ready = False
            elif finished:  # scripts refused (an ACL, a managed service): two round trips
                self.ack(worker_id, finished)
                return self.reserve(worker_id)
            self._trim_now_and_then(len(finished))
            return self.reserve(worker_id)
        except ImportError:  # fakeredis without lupa
            self.ack(worker_id, finished)
            return self.reserve(worker_id)
        self._trim_now_and_then(len(finished))
        if isinstance(reply, bytes):  # the usual entry: "<id> <task json>"
            found, _, raw = reply.partition(b" ")
            return self._usual_entry(worker_id, text(found), raw)
        got = script_entries(reply)
        if not got:
            return None
        tasks = [t for found, fields in got for t in self.decode_or_bury(found, fields)]
        if tasks:
            return tasks[0]
        return self.reserve(worker_id)  # it was buried: read on

    def _usual_entry(self, worker_id: str, entry_id: str, raw: bytes) -> StreamTask | None:
        """The task in an entry of one ``task`` field, parsed straight into a StreamTask;
        if it is no task, :meth:`decode_or_bury` buries it with its reason and we read on."""
        try:
            task = StreamTask.from_json(raw, self.max_task_bytes)
        except Exception:  # TaskValidationError, or a parsing bug: buried the usual way
            self.decode_or_bury(entry_id, {FIELD.encode(): raw})
            return self.reserve(worker_id)
        assert isinstance(task, StreamTask)  # from_json builds the class it is called on
        task.entry_id = entry_id
        return task

    def _queue_ack(self, pipe: Any, batch: list[Task]) -> None:
        """Queue ``XACK`` of ``batch``'s entries and its "done" count on ``pipe``."""
        if not batch:
            return
        ids = [t.entry_id for t in batch if isinstance(t, StreamTask) and t.entry_id]
        if ids:
            pipe.xack(self.keys.tasks_stream, GROUP, *ids)
        pipe.hincrby(self.keys.tasks_stream_stats, "done", len(batch))

    def _trim_now_and_then(self, acked: int) -> None:
        """Count ``acked`` more acks; every ``trim_every`` of them, :meth:`trim`."""
        self._acked_since_trim += acked
        if self._acked_since_trim >= self.trim_every:
            self._acked_since_trim = 0
            self.trim()

    def maintain(self, worker_id: str, heartbeat_ttl_s: float) -> int:
        """A worker's maintenance: a dead worker's entries claimed for ``worker_id``
        (``XAUTOCLAIM``), due retries promoted. Returns how many tasks it moved."""
        orphans = self.claim_orphans(worker_id, heartbeat_ttl_s)
        return self.promote_due() + orphans

    # --- inspection ------------------------------------------------------------------------
    def inspect(self) -> QueueStats:
        """Entries not yet delivered, pending (taken, not acked), delayed, dead, counters."""
        group = self._group()
        last = text(group["last-delivered-id"]) if group else "0-0"
        waiting = bytes_reply(self.client, "XRANGE", self.keys.tasks_stream, f"({last}", "+")
        pipe = self.client.pipeline(transaction=False)
        pipe.zcard(self.keys.tasks_stream_delayed)
        pipe.llen(self.keys.tasks_stream_dead)
        pipe.hgetall(self.keys.tasks_stream_stats)
        delayed, dead, stats = pipe.execute()
        age = None
        if waiting:
            age = max(0.0, (now_ms() - int(text(waiting[0][0]).split("-")[0])) / 1000)
        pending = int(group["pending"]) if group else 0
        return QueueStats(len(waiting), pending, delayed, dead, age,
                          int(stats.get("done", 0)), int(stats.get("failed", 0)))

    def length(self) -> int:
        """``XLEN``: every entry still in the log, processed or not (until :meth:`trim`)."""
        return int(self.client.xlen(self.keys.tasks_stream))
