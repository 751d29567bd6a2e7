"""The third queue mode: one Redis stream, read through a consumer group (lesson 14).

The list queues (:mod:`.list_queue`) move a task from list to list; a stream keeps every task
as an entry of one log, and the consumer *group* remembers who holds what:

1. ``enqueue`` is ``XADD tasks:stream MAXLEN ~ max_len * task <json>``;
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
   it drops the oldest entries whether or not a worker has processed them.

Delivery is *at least once*, as in reliable mode: the same idempotent handlers run, in the
same :class:`~helpdesk_kit.queue.Worker` (``mode="streams"``). Dead letters, retrying them
and the counters are in :mod:`.stream_letters`, heartbeats and recovery in
:mod:`.stream_workers`. With ``KeySchema(cluster=True)`` every key
here shares the hash tag ``{tasks}`` (one MULTI touches the stream and the delayed set).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import redis

from ..backends.raw import bytes_reply
from ..backends.transaction import watched
from ..config import MAX_TASK_BYTES
from ..errors import TaskValidationError
from ..keys import KeySchema
from ..vocab import Outcome
from .durable import push_and_wait
from .list_queue import QueueStats, RetryPolicy
from .stream_entries import FIELD, GROUP, StreamTask, decode_entry, entry_text, read_entries, text
from .stream_workers import StreamWorkerOps
from .task import Task, TaskRegistry, now_ms

__all__ = ["DEFAULT_MAX_LEN", "StreamQueue", "StreamTask"]

#: The stream's memory cap (``XADD ... MAXLEN ~``): far above any backlog a lesson makes.
DEFAULT_MAX_LEN = 1_000_000

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


class StreamQueue(StreamWorkerOps):
    """The queue on one Redis stream. Same producing API and guarantees as ``TaskQueue``.

    ``max_len`` caps the stream (approximately, ``~``); ``trim_every`` acks, :meth:`trim`
    removes the processed entries. ``registry`` decides which task types are accepted.
    ``durable``, ``replicas`` and ``replica_timeout_ms`` are the list queue's (``WAIT`` after
    each push: :mod:`.durable`).
    """

    def __init__(self, client: redis.Redis, keys: KeySchema | None = None, *,
                 registry: TaskRegistry, retry: RetryPolicy | None = None,
                 max_task_bytes: int = MAX_TASK_BYTES, max_len: int = DEFAULT_MAX_LEN,
                 trim_every: int = 1000, durable: bool = False, replica_timeout_ms: int = 1000,
                 replicas: int | None = None) -> None:
        if max_len < 1 or trim_every < 1:
            raise ValueError("max_len and trim_every must be at least 1")
        self.client = client
        self.keys = keys or KeySchema()
        self.registry = registry
        self.retry = retry or RetryPolicy()
        self.max_task_bytes = max_task_bytes
        self.max_len = max_len
        self.trim_every = trim_every
        #: ``durable``: an XADD counts as done only once replicas have it (see :mod:`.durable`).
        self.durable = durable
        self.replica_timeout_ms = replica_timeout_ms
        self.replicas = replicas
        self.claimed: dict[str, list[StreamTask]] = {}  # recovered, waiting to run, per worker
        self._acked_since_trim = 0
        self._group_ready = False
        self._ack_read = client.register_script(ACK_AND_READ)

    def __repr__(self) -> str:
        return f"StreamQueue({self.keys.tasks_stream!r})"

    # --- producing ----------------------------------------------------------------------
    def make_task(self, type: str, payload: dict[str, Any]) -> Task:
        """A validated :class:`Task` with its JSON in ``task.raw``; touches no Redis."""
        return self._prepared(Task(type, dict(payload)))

    def _prepared(self, task: Task) -> Task:
        return self.registry.prepare(task, self.max_task_bytes)

    def enqueue(self, type: str, payload: dict[str, Any]) -> Task:
        """Validate, then ``XADD tasks:stream MAXLEN ~ max_len * task <json>``."""
        return self.enqueue_task(Task(type, dict(payload)))

    def enqueue_task(self, task: Task) -> Task:
        """Validate and add an existing task, keeping its id (see ``TaskQueue.enqueue_task``)."""
        self._prepared(task)
        self._push([task])
        return task

    def enqueue_many(self, items: Iterable[tuple[str, dict[str, Any]]], chunk: int = 1000
                     ) -> list[Task]:
        """Validate every item first (all or nothing), then XADD them, one pipeline a chunk."""
        tasks = [self.make_task(kind, payload) for kind, payload in items]
        for start in range(0, len(tasks), chunk):
            self._push(tasks[start:start + chunk])
        return tasks

    def _push(self, tasks: list[Task]) -> None:
        """XADD each task, one pipeline; with ``durable``, ``WAIT`` on the same connection."""
        def build(pipe: Any) -> None:
            for task in tasks:
                self.add_entry(pipe, FIELD, task.raw)

        if self.durable:
            push_and_wait(self.client, self.keys.tasks_stream, build, len(tasks),
                          self.replicas, self.replica_timeout_ms)
            return
        pipe = self.client.pipeline(transaction=False)
        build(pipe)
        pipe.execute()

    def add_entry(self, pipe: Any, *pairs: Any) -> Any:
        """``XADD`` one entry (field, value, ...) on ``pipe`` (a client or a pipeline)."""
        return pipe.execute_command("XADD", self.keys.tasks_stream, "MAXLEN", "~",
                                    self.max_len, "*", *pairs)

    # --- the consumer group ------------------------------------------------------------
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

    def _read(self, worker_id: str, count: int, block_ms: int) -> Any:
        args: list[Any] = ["XREADGROUP", "GROUP", GROUP, worker_id, "COUNT", count]
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

    # --- taking and acknowledging -------------------------------------------------------
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
        block_ms = max(1, int(timeout * 1000)) if timeout > 0 else 0
        while True:
            got = read_entries(self._read(worker_id, count, block_ms))
            if not got:
                return []
            tasks = [t for entry_id, fields in got for t in self.decode_or_bury(entry_id, fields)]
            if tasks:
                return tasks
            block_ms = 0  # only malformed entries came: look again, without blocking

    def decode_or_bury(self, entry_id: str, fields: Any) -> list[StreamTask]:
        """``[task]``, or ``[]`` after making an entry that is not a task a dead letter.

        Whatever the entry holds, this never raises for it: a decoding bug becomes a dead
        letter with the exception's type and message, not a dead worker.
        """
        try:
            return [decode_entry(entry_id, fields, self.max_task_bytes)]
        except TaskValidationError as exc:
            reason = str(exc)
        except Exception as exc:  # a bug in parsing must not stop the queue: bury, go on
            reason = f"{type(exc).__name__}: {exc}"
        self.bury(entry_text(fields), None, reason, entry_id=entry_id)
        return []

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
        if done is not None:
            acked = done.entry_id if isinstance(done, StreamTask) and done.entry_id else "+"
        args = (2, self.keys.tasks_stream, self.keys.tasks_stream_stats, worker_id, acked)
        try:
            try:
                reply = bytes_reply(self.client, "EVALSHA", self._ack_read.sha, *args)
            except redis.exceptions.NoScriptError:  # a new or restarted server: send it once
                reply = bytes_reply(self.client, "EVAL", ACK_AND_READ, *args)
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
        got = _script_entries(reply)
        if not got:
            return None
        tasks = [t for found, fields in got for t in self.decode_or_bury(found, fields)]
        return tasks[0] if tasks else self.reserve(worker_id)  # it was buried: read on

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

    def fail(self, worker_id: str, task: Task, error: str, *, retry: bool = True) -> Outcome:
        """A handler failed: delay the task for a retry (a new entry later), or bury it."""
        task.attempts += 1
        if not retry or task.attempts >= self.retry.max_attempts:
            self.bury(_raw(task), task, error)
            return Outcome.DEAD
        due = now_ms() + int(self.retry.delay_s(task.attempts) * 1000)
        pipe = self.client.pipeline(transaction=True)  # MULTI: both or neither
        pipe.zadd(self.keys.tasks_stream_delayed, {task.to_json(): due})
        if isinstance(task, StreamTask) and task.entry_id:
            pipe.xack(self.keys.tasks_stream, GROUP, task.entry_id)
        pipe.hincrby(self.keys.tasks_stream_stats, "failed", 1)
        pipe.execute()
        return Outcome.RETRY

    def promote_due(self, now: int | None = None, limit: int = 100) -> int:
        """Add delayed tasks whose time has come to the stream again; returns how many.
        WATCH/MULTI: with several workers, a task is never added twice."""
        moment = now_ms() if now is None else now
        delayed = self.keys.tasks_stream_delayed

        def move(pipe: Any) -> int:
            due = bytes_reply(pipe, "ZRANGEBYSCORE", delayed, "-inf", moment, "LIMIT", 0, limit)
            if not due:
                return 0
            pipe.multi()
            pipe.zrem(delayed, *due)
            for raw in due:
                self.add_entry(pipe, FIELD, raw)
            return len(due)

        return watched(self.client, move, delayed)

    # --- inspection and trimming ----------------------------------------------------------
    def _group(self) -> dict[str, Any] | None:
        try:
            groups = self.client.xinfo_groups(self.keys.tasks_stream)
        except redis.ResponseError:  # no stream yet
            return None
        return next((g for g in groups if text(g["name"]) == GROUP), None)

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
        return QueueStats(len(waiting), int(group["pending"]) if group else 0, delayed, dead,
                          age, int(stats.get("done", 0)), int(stats.get("failed", 0)))

    def length(self) -> int:
        """``XLEN``: every entry still in the log, processed or not (until :meth:`trim`)."""
        return int(self.client.xlen(self.keys.tasks_stream))

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


def _script_entries(reply: Any) -> list[tuple[str, dict[Any, Any] | None]]:
    """The ``(id, fields)`` pairs of ``ACK_AND_READ``'s reply, fields as redis-py's dict.

    Redis answers ``[[stream, [[id, [field, value, ...]]]]]`` (nil: nothing new); fakeredis'
    Lua drops the outer list (``[stream, [...]]``, and ``[]`` for nothing): both are read.
    """
    if not reply:
        return []
    if isinstance(reply[0], bytes | str):
        reply = [reply]
    return [(found, _fields(flat)) for found, flat in read_entries(reply)]


def _fields(flat: Any) -> dict[Any, Any] | None:
    """An entry's flat ``[field, value, ...]`` list as a dict (None if it is not a list)."""
    if not isinstance(flat, list):
        return None
    return dict(zip(flat[::2], flat[1::2], strict=False))


def _raw(task: Task) -> str:
    return task.raw if task.raw is not None else task.to_json()
