"""The kit wired from its settings: one Redis, the store, the cache, the queue and the events.

:meth:`HelpdeskApp.from_settings` is the one public way in; this module holds the choices it
makes, so each is written once: which Redis (``connect``), which key schema (hash tags on a
Cluster), which cache (the near cache when ``HELPDESK_NEAR_CACHE`` is on), which queue
(``HELPDESK_QUEUE_MODE``: the list for pop and reliable, the stream for streams; with
``HELPDESK_QUEUE_DURABLE`` each push waits for replicas), and the ticket event log every
change is appended to.

Redis down at start does not stop the app: ``connect(down_ok=True)`` hands back a client that
connects on its first use (logged once, as a warning), the cache counts each failed read and
serves it from the database, and the same client works as soon as Redis answers. (A Cluster
with none of its named nodes answering still raises: see :mod:`helpdesk_kit.backends`.)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..backends import Backend, connect
from ..cache import Cache, NearCache
from ..config import BackendChoice, Durability, Settings
from ..db import HelpdeskStore, open_store
from ..errors import HelpdeskError
from ..keys import KeySchema
from ..queue import RetryPolicy, StreamQueue, TaskQueue
from ..vocab import QueueMode
from .events import EventLog
from .handlers import REGISTRY

__all__ = ["Wired", "wire"]


@dataclass
class Wired:
    """What :func:`wire` built; the app owns all of it (``backend.client`` included)."""

    backend: Backend
    store: HelpdeskStore
    cache: Cache
    queue: TaskQueue | StreamQueue
    events: EventLog


def wire(settings: Settings, prefer: BackendChoice | None = None, *,
         retry: RetryPolicy | None = None, **cache_options: Any) -> Wired:
    """Connect Redis (answering or not yet: see the module docstring) and open the store
    (closing Redis again if the store fails), then build the cache, the queue and the event
    log on the same keys."""
    backend = connect(settings, prefer, down_ok=True)
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
        cache.publish_stats(keys.cache_stats)
    durable = settings.queue_durable  # HELPDESK_QUEUE_DURABLE: WAIT after each push
    wait = durable or Durability()  # its figures count only when durable is set
    queue: TaskQueue | StreamQueue
    if settings.queue_mode == QueueMode.STREAMS:
        queue = StreamQueue(backend.client, keys, registry=REGISTRY, retry=retry,
                            max_task_bytes=settings.max_task_bytes, durable=durable is not None,
                            replicas=wait.replicas, replica_timeout_ms=wait.timeout_ms)
    else:
        queue = TaskQueue(backend.client, keys, registry=REGISTRY, retry=retry,
                          max_task_bytes=settings.max_task_bytes, durable=durable is not None,
                          replicas=wait.replicas, replica_timeout_ms=wait.timeout_ms)
    return Wired(backend, store, cache, queue, EventLog(backend.client, keys))
