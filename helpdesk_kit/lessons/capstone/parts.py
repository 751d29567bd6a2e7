"""The capstone's checklist as data: each part, the functions it asks for, where it was taught.

The notebook's checklist names the same parts in the same order. A part is *built* when every
function it names is defined (and is more than the template's ``...``); only then does the kit
run its check. The two drills come last: they run the learner's functions together, the way
production would - a reader and a writer at the same moment, a worker killed mid-task.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DRILLS", "FUNCTIONS", "PARTS", "Part"]


@dataclass(frozen=True)
class Part:
    """One item of the checklist (or one drill)."""

    #: A short name the runner and the board use (``"users"``, ``"race"``).
    key: str
    #: How the report names it: ``"1. the user cache"``, ``"drill 1: a stale-read race"``.
    label: str
    #: The lesson that taught it (``"01"``).
    lesson: str
    #: The functions it needs, by the names the checklist gives them.
    functions: tuple[str, ...]

    @property
    def is_drill(self) -> bool:
        return self.label.startswith("drill")


#: The checklist's nine parts, in the notebook's order.
PARTS: tuple[Part, ...] = (
    Part("users", "1. the user cache", "01",
         ("cache_user", "get_cached_user", "invalidate_user")),
    Part("tickets", "2. ticket reads, cache-aside", "01", ("get_ticket",)),
    Part("update", "3. update, then invalidate", "03", ("update_ticket",)),
    Part("warm", "4. warming, pipelined", "04", ("warm_users",)),
    Part("queue", "5. the seed's queue", "06", ("enqueue_task", "dequeue_task")),
    Part("tasks", "6. the three tasks", "06", ("handle_task",)),
    Part("reliable", "7. the reliable queue", "07",
         ("reserve_task", "ack_task", "recover_tasks")),
    Part("worker", "8. the worker", "07", ("work",)),
    Part("metrics", "9. /api/metrics", "08", ("api_metrics",)),
)

#: The two drills: the learner's functions together, under a race and under a SIGKILL.
DRILLS: tuple[Part, ...] = (
    Part("race", "drill 1: a stale-read race", "03", ("get_ticket", "update_ticket")),
    Part("crash", "drill 2: a worker killed mid-task", "07",
         ("enqueue_task", "work", "recover_tasks")),
)

#: Every function name the capstone asks for, in checklist order.
FUNCTIONS: tuple[str, ...] = tuple(dict.fromkeys(name for part in PARTS for name in part.functions))
