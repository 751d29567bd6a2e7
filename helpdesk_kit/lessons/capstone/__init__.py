"""Lesson 19, the capstone: the learner builds the design's cache and queue; the kit checks it.

The learner writes the checklist's functions in plain redis-py (:mod:`.parts` names them);
``run_capstone(lesson, globals())`` (:mod:`.runner`) runs the lessons' own checks and the
capstone's on them, then two drills - a stale-read race (:mod:`.race`) and a worker killed
mid-task in a process of its own (:mod:`.crash`) - and returns a :class:`~.report.Report`
that says, in plain words, what held and what broke.
"""

from __future__ import annotations

from .crash import KillPoint, crash_drill
from .parts import DRILLS, FUNCTIONS, PARTS, Part
from .race import race_drill
from .report import Finding, Report, Verdict, not_built_report
from .runner import drill_url, run_capstone

__all__ = ["DRILLS", "FUNCTIONS", "PARTS", "Finding", "KillPoint", "Part", "Report", "Verdict",
           "crash_drill", "drill_url", "not_built_report", "race_drill", "run_capstone"]
