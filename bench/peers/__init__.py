"""The queues ``make bench`` runs side by side, each as its users run it, and what each promises.

Every queue here is a worker process of its own and a producer process of its own (one
script in this folder per queue, see :mod:`bench.peers.harness`), all on the same
redis-server in the same run, all running the same no-op job: the raw floor, the kit's three
modes, and the peers a team would pick instead - RQ, Celery, Dramatiq, huey, taskiq-redis
(both brokers), SAQ and arq. Each row states its **delivery guarantee** beside its speed: an
at-most-once queue does less work per job than an at-least-once one, so a faster
at-most-once queue is not a better queue, only a different promise.

Most peers are in the ``bench`` extra (the kit's venv). Three live in venvs of their own,
made from ``bench/locks/`` by ``python -m bench.peers --install`` (``make bench`` runs it):
arq and SAQ need an older redis-py, and Celery pins exact versions of packages the kit also
uses (:mod:`bench.peers.venvs`). A peer that cannot run is a row saying why - never a number
from somewhere else.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = ["QUEUES", "RAW", "Guarantee", "QueuePeer"]


class Guarantee(enum.Enum):
    """What a queue promises about a job whose worker dies while running it."""

    #: Taken off the queue before the handler runs: a crash loses the job.
    POPPED = ("at most once", "taken off before the handler")
    #: Acknowledged to the broker when the worker takes it, before the handler runs.
    ACKED_BEFORE = ("at most once", "acked before the handler")
    #: Kept while it runs, but a dead worker's job is marked failed, not run again.
    FAILED_ON_CRASH = ("at most once", "kept while running; a crash fails it")
    #: Acknowledged after the handler returned: a crash runs it again (handlers idempotent).
    ACKED_AFTER = ("at least once", "acked after the handler")

    @property
    def delivery(self) -> str:
        return self.value[0]

    @property
    def label(self) -> str:
        """``at least once (acked after the handler)``: what every table prints."""
        return f"{self.value[0]} ({self.value[1]})"


@dataclass(frozen=True)
class QueuePeer:
    """One queue as the benchmark runs it: its script in this folder and its settings."""

    name: str  #: the row's name in every table
    script: str  #: ``<x>_peer.py`` in this folder
    guarantee: Guarantee
    variant: str = ""  #: the script's ``--variant`` (a mode, a broker, a setting)
    venv: str = ""  #: "" is the kit's own venv; else ``.venv-bench/<venv>``
    polls: str = ""  #: how an idle worker waits, when it polls (latency pays it)


#: The floor: a hand-written RPUSH / BLPOP loop, the least any list queue does.
RAW = QueuePeer("raw RPUSH / BLPOP loop", "raw_peer.py", Guarantee.POPPED)

QUEUES: tuple[QueuePeer, ...] = (
    RAW,
    QueuePeer("kit, pop mode", "kit_peer.py", Guarantee.POPPED, "pop"),
    QueuePeer("kit, reliable mode", "kit_peer.py", Guarantee.ACKED_AFTER, "reliable"),
    QueuePeer("kit, streams mode", "kit_peer.py", Guarantee.ACKED_AFTER, "streams"),
    QueuePeer("RQ 3 SimpleWorker", "rq_peer.py", Guarantee.FAILED_ON_CRASH),
    QueuePeer("Celery 5.7, acks_late=False (default)", "celery_peer.py",
              Guarantee.ACKED_BEFORE, "early", "celery"),
    QueuePeer("Celery 5.7, acks_late=True", "celery_peer.py", Guarantee.ACKED_AFTER, "late",
              "celery"),
    QueuePeer("Dramatiq 2.2, worker_threads=1", "dramatiq_peer.py", Guarantee.ACKED_AFTER,
              polls="backing off to 1 s when idle"),
    QueuePeer("huey 3.5 RedisHuey, -w 1", "huey_peer.py", Guarantee.POPPED),
    QueuePeer("taskiq-redis 1.2 ListQueueBroker", "taskiq_peer.py", Guarantee.POPPED, "list"),
    QueuePeer("taskiq-redis 1.2 RedisStreamBroker", "taskiq_peer.py", Guarantee.ACKED_AFTER,
              "stream"),
    QueuePeer("SAQ 0.26, concurrency=1", "saq_peer.py", Guarantee.FAILED_ON_CRASH,
              venv="saq"),
    QueuePeer("arq 0.28, poll_delay=0.01 s", "arq_peer.py", Guarantee.ACKED_AFTER, "0.01",
              "arq", "every 0.01 s (default 0.5 s)"),
)
