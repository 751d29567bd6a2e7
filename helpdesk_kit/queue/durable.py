"""A durable push, for both queues: it counts as done only once replicas have it (``WAIT``).

Replication is asynchronous: a primary that dies right after answering ``RPUSH`` (or
``XADD``) takes the task with it, and the producer was told it is queued. With ``durable``
a queue sends ``WAIT`` after the push on the same connection
(:func:`~helpdesk_kit.backends.replication.write_and_wait`) and raises :class:`TaskError`
unless enough replicas confirmed it, so the producer knows to push it again (with the same
task id, the handler's work is still done once).

What it does not do: make Redis strongly consistent. A push that timed out is *still on the
primary* (WAIT undoes nothing), and a confirmed one can still be lost if the failover
promotes a replica that did not have it (Sentinel and Cluster pick the best replica they can
see, best effort) or if the primary and those replicas die together. Waiting for every
replica connected now (``replicas=None``, ``HELPDESK_QUEUE_DURABLE=all``) closes the first
gap as far as the replicas connected at the push go.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..backends.replication import write_and_wait
from ..errors import TaskError

__all__ = ["push_and_wait"]


def push_and_wait(client: Any, key: str, build: Callable[[Any], object], count: int,
                  replicas: int | None, timeout_ms: int) -> None:
    """Run ``build(pipe)`` (the push of ``count`` tasks to ``key``), then ``WAIT`` for
    ``replicas`` (None: every connected one); TaskError if they did not all confirm."""
    _, confirmed = write_and_wait(client, key, build, timeout_ms, replicas)
    if not confirmed:
        who = "no replica" if replicas is None else f"fewer than {replicas} replica(s)"
        raise TaskError(f"{count} task(s) pushed to the primary, but {who} confirmed them "
                        f"within {timeout_ms} ms: they may be lost if the primary fails now; "
                        "enqueue them again (same ids) to be sure")
