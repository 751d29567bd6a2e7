"""What every queue mode shares: the retry policy, the numbers ``inspect()`` reports, and the
list queue's one-round-trip script.

Kept apart from the queues themselves, so the list queue and the streams queue state their
retries and report their state in exactly the same terms.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ACK_AND_RESERVE", "QueueStats", "RetryPolicy"]

#: KEYS: the worker's processing list, ``tasks:pending``, ``tasks:stats``; ARGV[1]: the done
#: task's JSON ("": none). Ack and LMOVE in one command: a task is always in exactly one list.
ACK_AND_RESERVE = """
if ARGV[1] ~= '' then
  redis.call('LREM', KEYS[1], 1, ARGV[1])
  redis.call('HINCRBY', KEYS[3], 'done', 1)
end
return redis.call('LMOVE', KEYS[2], KEYS[1], 'LEFT', 'RIGHT')
"""


@dataclass(frozen=True)
class QueueStats:
    """A snapshot of the queue (``inspect()``); ``done``/``failed`` count since the start."""

    pending: int
    processing: int
    delayed: int
    dead: int
    oldest_pending_age_s: float | None
    done: int
    failed: int


@dataclass(frozen=True)
class RetryPolicy:
    """How often a failing task is tried, and how long it waits in between."""

    max_attempts: int = 3
    base_delay_s: float = 1.0  # wait after the 1st failure; doubles each time
    max_delay_s: float = 300.0

    def delay_s(self, attempts: int) -> float:
        """Seconds to wait after ``attempts`` failures (1, 2, 4, ... capped)."""
        return min(self.max_delay_s, self.base_delay_s * 2 ** max(0, attempts - 1))
