"""Lesson 12: notifications arriving live, what an offline subscriber misses, repeats dropped.

:class:`NotificationFeed` is a :class:`~helpdesk_kit.app.listen.Listener` running in a
background thread (quiet: its lines never land in a cell), with the notifications it heard;
:class:`LiveNotifications` shows that feed while a button creates tickets. The plain
functions measure Pub/Sub's semantics: :func:`offline_gap` counts what a subscriber misses
while it is away (and what a stream reader does not), :func:`repeat_run` runs one
notification task twice and counts what a listener keeps; :func:`sharded_vs_classic`
compares ``PUBLISH`` and ``SPUBLISH`` on a small cluster of its own.
"""

from __future__ import annotations

import html
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import ipywidgets as widgets
import redis

from ..app import HelpdeskApp, Listener, Notification, TaskContext
from ..app.handlers import send_notifications
from ..backends.binaries import no_server_reason
from ..keys import KeySchema
from ..lessons import capture_logs, quiet_thread
from ..lessons.assembly_messaging import PieceListener
from ..queue import Task
from ..queue.stream_entries import read_entries
from . import Shown

__all__ = ["SHARD_HEADERS", "GapReport", "LiveNotifications", "NotificationFeed", "ShardRow",
           "offline_gap",
           "repeat_run", "sharded_skip_reason", "sharded_vs_classic"]


class NotificationFeed:
    """A listener in a background thread; ``notes`` holds what it heard, in order.

    ``listen``: the learner's ``listen_notifications`` (lesson 12's piece) instead of the
    kit's :class:`~helpdesk_kit.app.Listener`; either way it has subscribed before this
    returns, so nothing published afterwards is missed.
    """

    def __init__(self, client: redis.Redis, keys: KeySchema,
                 listen: Callable[..., object] | None = None) -> None:
        self.listener: Listener | PieceListener = (
            PieceListener(client, keys, listen) if listen is not None else Listener(client, keys))
        self.listener.start()
        self.notes: list[Notification] = []
        self.on_note: list[object] = []  # callables(note), run in the feed's thread
        self._stop = threading.Event()
        self._heard = threading.Condition()
        self._thread = threading.Thread(target=self._run, daemon=True, name="notification-feed")
        self._thread.start()

    def _run(self) -> None:
        with quiet_thread():
            while not self._stop.is_set():
                note = self.listener.get(timeout=0.1)
                if note is None:
                    continue
                with self._heard:
                    self.notes.append(note)
                    self._heard.notify_all()
                for callback in self.on_note:
                    callback(note)  # type: ignore[operator]

    def wait_for(self, count: int, timeout: float = 5.0) -> bool:
        """True once ``count`` notifications have arrived (False after ``timeout`` s)."""
        with self._heard:
            return self._heard.wait_for(lambda: len(self.notes) >= count, timeout)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.listener.close()


class LiveNotifications(Shown):
    """A button that creates a ticket, and the notifications arriving as they are published.

    The ticket's notification runs inline (``create_ticket(..., inline=True)``), so it is
    published at once, without a worker; the feed hears it from its own thread - with the
    kit's listener, or with ``listen`` (the learner's ``listen_notifications``).
    """

    def __init__(self, app: HelpdeskApp, requester_id: int = 3,
                 listen: Callable[..., object] | None = None) -> None:
        if app.redis is None:
            raise ValueError("the app has no Redis: there is nothing to listen to")
        self.app = app
        self.requester_id = requester_id
        self.feed = NotificationFeed(app.redis, app.keys, listen)
        self.created: list[int] = []
        self.button = widgets.Button(description="Create a ticket", icon="plus")
        self.status = widgets.Label("Press the button: the notification arrives below.")
        self.view = widgets.HTML()
        self.button.on_click(lambda _: self.create_ticket())
        self.feed.on_note.append(lambda _note: self._show())
        self.widget = widgets.VBox([widgets.HBox([self.button, self.status]), self.view])

    def create_ticket(self) -> int:
        """Create a ticket (notification inline); returns its id."""
        started = time.perf_counter()
        with capture_logs():
            result = self.app.create_ticket(self.requester_id,
                                            f"Live ticket {len(self.created) + 1}", inline=True)
        if not result["success"]:
            self.status.value = f"refused: {result['error']}"
            return 0
        self.created.append(int(result["ticketId"]))
        self.status.value = (f"created ticket {result['ticketId']} in "
                             f"{(time.perf_counter() - started) * 1000:.1f} ms")
        return int(result["ticketId"])

    def _show(self) -> None:
        rows = "".join(f"<li>ticket {n.ticket_id}: {html.escape(n.kind)} for user "
                       f"{n.user_id}</li>" for n in reversed(self.feed.notes[-10:]))
        repeats = self.feed.listener.repeats
        dropped = "" if repeats is None else f" ({repeats} repeats dropped)"
        self.view.value = f"<b>{len(self.feed.notes)} heard</b>{dropped}<ul>{rows}</ul>"

    def stop(self) -> None:
        self.feed.stop()


@dataclass(frozen=True)
class GapReport:
    """One subscriber that goes away and comes back, and a stream reader beside it."""

    before: int            # published while it listened
    offline: int           # published while it was away
    after: int             # published once it was back
    receivers_offline: int  # what PUBLISH answered while it was away (subscribers reached)
    heard: int             # what the subscriber got, in all
    stream_read: int       # what a consumer group read from a stream with the same messages

    @property
    def missed(self) -> int:
        return self.before + self.offline + self.after - self.heard

    def rows(self) -> list[tuple[object, ...]]:
        total = self.before + self.offline + self.after
        return [("Pub/Sub channel", total, self.heard, self.missed),
                ("stream + consumer group", total, self.stream_read, total - self.stream_read)]


def offline_gap(client: redis.Redis, keys: KeySchema, *, before: int = 3, offline: int = 5,
                after: int = 2) -> GapReport:
    """Publish while a subscriber listens, while it is away, and once it is back; append the
    same messages to a stream read by a consumer group that is away just as long."""
    channel = f"{keys.prefix}gap:channel"
    stream = f"{keys.prefix}gap:stream"
    client.delete(stream)
    client.xgroup_create(stream, "readers", id="$", mkstream=True)
    heard = receivers_offline = 0

    def send(n: int, phase: str) -> int:
        reached = 0
        for i in range(n):
            message = json.dumps({"phase": phase, "n": i})
            reached += int(client.publish(channel, message))
            client.xadd(stream, {"message": message})
        return reached

    def drain(pubsub: redis.client.PubSub, expected: int, wait_s: float = 1.0) -> int:
        got = 0
        deadline = time.monotonic() + wait_s
        while got < expected and time.monotonic() < deadline:
            message = pubsub.get_message(ignore_subscribe_messages=True, timeout=0.05)
            if message is not None and message["type"] == "message":
                got += 1
        return got

    def read_stream() -> int:
        entries = read_entries(client.xreadgroup("readers", "reader", {stream: ">"}))
        if entries:
            client.xack(stream, "readers", *(entry_id for entry_id, _ in entries))
        return len(entries)

    listener = client.pubsub()
    listener.subscribe(channel)
    listener.get_message(timeout=1)  # the server's confirmation: from now on we hear it all
    send(before, "before")
    heard += drain(listener, before)
    stream_read = read_stream()
    listener.unsubscribe(channel)  # away: a restart, a deploy, a dropped connection
    listener.get_message(timeout=1)  # the server's confirmation: it has forgotten us
    receivers_offline = send(offline, "offline")
    listener.subscribe(channel)  # back
    listener.get_message(timeout=1)
    send(after, "after")
    heard += drain(listener, after + offline, 0.3)  # would anything from the gap show up?
    stream_read += read_stream()
    listener.close()
    client.delete(stream)
    return GapReport(before, offline, after, receivers_offline, heard, stream_read)


def repeat_run(context: TaskContext, ticket_id: int = 5, user_id: int = 1
               ) -> tuple[int, int, int]:
    """Run one ``send_notifications`` task twice (a worker died before its ack): returns
    (messages that reached our listener, notifications it kept, repeats it dropped)."""
    if context.redis is None:
        raise ValueError("the context has no Redis: nothing is published")
    task = Task("send_notifications", {"ticketId": ticket_id, "usuarioId": user_id,
                                       "tipo": "ticket_creado"})
    with Listener(context.redis, context.keys) as listener:
        for _ in range(2):
            send_notifications(context, task)
        kept = list(listener.listen(count=2, seconds=0.5))
    return len(kept) + listener.repeats, len(kept), listener.repeats


@dataclass(frozen=True)
class ShardRow:
    """One way of publishing on a Redis Cluster, measured on the cluster bus."""

    how: str
    published: int
    heard: int
    bus_messages: int  # messages the publishing node sent other nodes (CLUSTER INFO)

    def row(self) -> tuple[object, ...]:
        return (self.how, self.published, self.heard, self.bus_messages)


SHARD_HEADERS = ("how", "published", "heard", "cluster-bus messages sent")


def sharded_skip_reason(backend_kind: str) -> str | None:
    """Why lesson 12 cannot start a small cluster for sharded Pub/Sub here, or None."""
    if backend_kind == "fake":
        return "skipped: sharded Pub/Sub needs real redis-server nodes (fakeredis is one process)"
    missing = no_server_reason()
    return None if missing is None else f"skipped: a local cluster needs one: {missing}"


def _bus_sent(client: redis.Redis, counter: str) -> int:
    return int(client.cluster("INFO").get(f"cluster_stats_messages_{counter}_sent", 0))


def _heard(pubsub: Any, expected: int, kind: str) -> int:
    got = 0
    deadline = time.monotonic() + 2
    while got < expected and time.monotonic() < deadline:
        message = pubsub.get_message(timeout=0.05)
        if message is not None and message["type"] == kind:
            got += 1
    return got


def sharded_vs_classic(messages: int = 100) -> list[ShardRow]:
    """On a 3-primary cluster of its own: ``PUBLISH`` reaches a subscriber on *any* node
    because every message is copied to every other node over the cluster bus; ``SPUBLISH``
    goes to the one shard that owns the channel's slot, and nowhere else."""
    from ..backends import ClusterLab

    lab = ClusterLab(primaries=3, replicas=0)
    lab.start()
    try:
        nodes = lab.primaries()
        channel = "lesson12:{tickets}:notifications"
        first = nodes[0].client()
        slot = int(first.cluster("KEYSLOT", channel))
        owner_port = next(int(r[2][1]) for r in first.cluster("SLOTS") if r[0] <= slot <= r[1])
        owner = next(n for n in nodes if n.port == owner_port)
        elsewhere = next(n for n in nodes if n is not owner)
        rows = []
        with owner.client() as publisher, elsewhere.client() as far:
            classic = far.pubsub(ignore_subscribe_messages=True)  # on *another* node
            classic.subscribe(channel)
            classic.get_message(timeout=1)
            before = _bus_sent(publisher, "publish")
            for i in range(messages):
                publisher.publish(channel, f"classic {i}")
            rows.append(ShardRow("PUBLISH (classic)", messages, _heard(classic, messages,
                                 "message"), _bus_sent(publisher, "publish") - before))
            classic.close()
            with owner.client() as near:
                sharded = near.pubsub(ignore_subscribe_messages=True)  # on the slot's node
                sharded.ssubscribe(channel)
                sharded.get_message(timeout=1)
                before = _bus_sent(publisher, "publishshard")
                for i in range(messages):
                    publisher.spublish(channel, f"sharded {i}")
                rows.append(ShardRow("SPUBLISH (sharded)", messages,
                                     _heard(sharded, messages, "smessage"),
                                     _bus_sent(publisher, "publishshard") - before))
                sharded.close()
        first.close()
    finally:
        lab.stop()
    return rows
