"""The tables a user reads, as Markdown, from the numbers a run saved (``latest.json``).

``python -m bench.tables [RUN.json ...]`` prints them (default: ``bench/results/latest.json``):
one table per area, each row with its measured figure, its ratio to the area's baseline
(measured in the same run), its target and, for a queue, its delivery guarantee. The run's
date and machine head the tables. :mod:`bench.final_runs` writes them into bench/README.md.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from bench.report import RESULTS, describe

__all__ = ["markdown"]


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _area(area: dict[str, Any]) -> list[str]:
    promises = any(row.get("guarantee") for row in area["rows"])
    head = ["", "measured", f"ratio (x {area['baseline']})", "target"]
    head += ["delivery"] if promises else []
    head += ["note"]
    lines = [f"**{_cell(area['title'])}**", "", "| " + " | ".join(map(_cell, head)) + " |",
             "|" + "---|" * len(head)]
    for row in area["rows"]:
        ratio = "not run" if row["ratio"] is None else f"{row['ratio']:.2f}"
        target = "" if row["target"] is None else f">= {row['target']:g}"
        if row["target"] is not None and row["ratio"] is not None:
            target += " ok" if row["ratio"] >= row["target"] else " **MISSED**"
        cells = [row["name"], row["shown"], ratio, target]
        cells += [row.get("guarantee", "")] if promises else []
        cells += [row["note"]]
        lines.append("| " + " | ".join(_cell(str(c)) for c in cells) + " |")
    lines += [f"\n{_cell(note)}" for note in area["notes"]]
    return [*lines, ""]


def markdown(record: dict[str, Any]) -> str:
    """Every area of one saved run, headed by when and on what it ran."""
    kind = "quick run (--quick)" if record["quick"] else "full run"
    machine = record.get("machine")
    where = describe(machine) if machine else record["time"]
    lines = [f"#### {kind}: {where}", ""]
    for area in record["areas"]:
        lines += _area(area)
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    paths = [Path(a) for a in argv] or [RESULTS / "latest.json"]
    for path in paths:
        print(markdown(json.loads(path.read_text(encoding="utf-8"))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
