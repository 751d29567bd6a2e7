"""What every queue mode shares: the retry policy and the numbers ``inspect()`` reports.

Kept apart from the queues themselves, so the list queue and the streams queue state their
retries and report their state in exactly the same terms.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["QueueStats", "RetryPolicy"]


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
