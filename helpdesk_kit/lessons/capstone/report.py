"""What the capstone's check says: one finding per part and drill, in plain words.

A :class:`Report` reads like a :class:`~helpdesk_kit.lessons.checks.CheckResult` (``ok``
and ``message``: ``✅ Right``, ``❌ Not quite``, ``✏️ Not answered yet``) followed by a table -
one row per part, whose functions it ran, what became of them - and then, in sentences, what
held and what broke, with each drill's steps as they happened. The same text on every run: no
times, no machine's names.
"""

from __future__ import annotations

import html
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from ..output import Table
from .parts import DRILLS, PARTS, Part

__all__ = ["Finding", "Report", "Verdict"]


class Verdict(StrEnum):
    """What became of one part."""

    #: its check passed every step (a drill: nothing stale, nothing lost)
    HELD = "held"
    #: a step broke (a drill: a stale row kept, a task lost); ``detail`` says which and why
    BROKE = "broke"
    #: a function it needs is not defined yet
    NOT_BUILT = "not built yet"
    #: it cannot run here (drill 2 on fakeredis); ``detail`` says why
    SKIPPED = "skipped"


@dataclass(frozen=True)
class Finding:
    """The verdict on one part, why, and (for a drill) the steps as they happened."""

    part: Part
    verdict: Verdict
    detail: str = ""
    steps: tuple[str, ...] = ()

    def line(self) -> str:
        """``drill 1: a stale-read race: <detail>``."""
        return f"{self.part.label}: {self.detail}" if self.detail else self.part.label


_SECTIONS = ((Verdict.BROKE, "What broke"), (Verdict.HELD, "What held"),
             (Verdict.SKIPPED, "Skipped here"), (Verdict.NOT_BUILT, "Not built yet"))


class Report:
    """Every finding of one run of the capstone's check."""

    def __init__(self, findings: Iterable[Finding]) -> None:
        self.findings = list(findings)

    def __getitem__(self, key: str) -> Finding:
        """The finding of part ``key`` (``"users"``, ``"race"``...)."""
        for finding in self.findings:
            if finding.part.key == key:
                return finding
        raise KeyError(key)

    def of(self, verdict: Verdict) -> list[Finding]:
        return [f for f in self.findings if f.verdict == verdict]

    @property
    def ok(self) -> bool | None:
        """False if anything broke; None while something is not built; True otherwise."""
        if self.of(Verdict.BROKE):
            return False
        if self.of(Verdict.NOT_BUILT):
            return None
        return True

    @property
    def message(self) -> str:
        """The first line: the verdict on the whole, in the words of every other check."""
        built = len(self.findings) - len(self.of(Verdict.NOT_BUILT))
        if self.ok is False:
            return (f"❌ Not quite: {len(self.of(Verdict.BROKE))} of {built} part(s) you "
                    "built broke - below, what held and what broke, and why.")
        if self.ok is None and built == 0:
            return ("✏️ Not answered yet: nothing is built yet. Write the checklist's "
                    "functions in the empty cells above, then run this cell again.")
        if self.ok is None:
            return (f"✏️ Not answered yet: {built} of {len(self.findings)} parts are built "
                    "and held; write the others, then run this cell again.")
        skipped = self.of(Verdict.SKIPPED)
        held = len(self.of(Verdict.HELD))
        return (f"✅ Right: all {held} part(s) checked held"
                + (f"; {len(skipped)} skipped here (why: below)." if skipped else "."))

    def __bool__(self) -> bool:
        return bool(self.ok)

    def table(self) -> Table:
        rows = [(f.part.label + ("" if f.part.is_drill else f" ({f.part.lesson})"),
                 ", ".join(f.part.functions), str(f.verdict)) for f in self.findings]
        return Table(("part (lesson)", "your functions", "verdict"), rows,
                     caption="Your helpdesk, checked by the kit")

    def _sections(self) -> list[tuple[str, list[Finding]]]:
        if not any(f.verdict != Verdict.NOT_BUILT for f in self.findings):
            return []  # nothing ran: the table says it all
        return [(title, self.of(verdict)) for verdict, title in _SECTIONS if self.of(verdict)]

    def __repr__(self) -> str:
        lines = [self.message, "", repr(self.table())]
        for title, findings in self._sections():
            lines += ["", title]
            for finding in findings:
                lines.append(f"- {finding.line()}")
                lines += [f"    {step}" for step in finding.steps]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        parts = [f"<p>{html.escape(self.message)}</p>", self.table()._repr_html_()]
        for title, findings in self._sections():
            items = []
            for finding in findings:
                steps = "".join(f"<br/>{html.escape(step)}" for step in finding.steps)
                items.append(f"<li>{html.escape(finding.line())}{steps}</li>")
            parts.append(f"<p><b>{html.escape(title)}</b></p><ul>{''.join(items)}</ul>")
        return "".join(parts)


def not_built_report() -> Report:
    """The report before anything is written: every part and drill not built yet."""
    return Report(Finding(part, Verdict.NOT_BUILT) for part in PARTS + DRILLS)
