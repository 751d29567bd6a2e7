"""The kit wired from its settings: one Redis, the store, the cache, the queue and the events.

:meth:`HelpdeskApp.from_settings` is the one public way in; this module holds the choices it
makes, so each is written once: which Redis (``connect``), which key schema (hash tags on a
Cluster), which cache (the near cache when ``HELPDESK_NEAR_CACHE`` is on), which queue
(``HELPDESK_QUEUE_MODE``: the list for seed and reliable, the stream for streams), and the
ticket event log every change is appended to.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..backends import Backend, connect
from ..cache import Cache, NearCache
from ..config import Settings
from ..db import HelpdeskStore, open_store
from ..errors import HelpdeskError
from ..keys import KeySchema
from ..queue import RetryPolicy, StreamQueue, TaskQueue
from ..vocab import QueueMode
from .events import EventLog
from .handlers import REGISTRY, helpdesk_queue

__all__ = ["Wired", "wire"]


@dataclass
class Wired:
    """What :func:`wire` built; the app owns all of it (``backend.client`` included)."""

    backend: Backend
    store: HelpdeskStore
    cache: Cache
    queue: TaskQueue | StreamQueue
    events: EventLog


def wire(settings: Settings, prefer: str | None = None, *, retry: RetryPolicy | None = None,
         **cache_options: Any) -> Wired:
    """Connect Redis and open the store (closing Redis again if the store fails), then build
    the cache, the queue and the event log on the same keys."""
    backend = connect(settings, prefer)  # type: ignore[arg-type]  # checked by Settings
    try:
        store = open_store(settings)
    except HelpdeskError:
        backend.client.close()
        raise
    keys = KeySchema.for_backend(backend.kind, settings.key_prefix)
    options = {"ttl": settings.cache_ttl, "max_value_bytes": settings.max_value_bytes,
               **cache_options}
    if settings.near_cache:  # HELPDESK_NEAR_CACHE: an in-process L1 in front (lesson 16)
        options.setdefault("size", settings.near_cache_size)
    cache = (NearCache if settings.near_cache else Cache)(backend.client, keys, **options)
    if settings.publish_stats:  # HELPDESK_PUBLISH_STATS: a class's dashboard reads them
        cache.internals.publish_stats(keys.cache_stats)
    queue: TaskQueue | StreamQueue
    if settings.queue_mode == QueueMode.STREAMS:
        queue = StreamQueue(backend.client, keys, registry=REGISTRY, retry=retry,
                            max_task_bytes=settings.max_task_bytes)
    else:
        queue = helpdesk_queue(backend.client, keys, retry=retry)
        queue.max_task_bytes = settings.max_task_bytes
    return Wired(backend, store, cache, queue, EventLog(backend.client, keys))
