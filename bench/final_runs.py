"""``python -m bench.final_runs``: the runs bench/README.md reports, made on a quiet machine.

1. five quick runs (``python -m bench --quick``, each its own process): every target's ratio
   in each, and in how many of the five it held;
2. two full runs (``python -m bench``): their tables, dated, the machine named;
3. both written into bench/README.md between its ``final-runs`` markers; each run's numbers
   are kept in ``bench/results/final-*.json``.

Run it with nothing else busy (``make bench`` first, so the peers' venvs exist)::

    flock /tmp/hk-heavy.lock .venv/bin/python -m bench.final_runs

About 15 minutes on 2 cores. ``--quick-runs`` and ``--full-runs`` change the counts;
``--rewrite`` runs nothing and writes the README again from the kept runs.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from bench.report import RESULTS, describe
from bench.tables import markdown

README = Path(__file__).resolve().parent / "README.md"
START, END = "<!-- final-runs:start -->", "<!-- final-runs:end -->"


def one_run(quick: bool, number: int) -> dict[str, Any]:
    """``python -m bench [--quick]`` in a process of its own; its saved numbers."""
    command = [sys.executable, "-m", "bench", *(["--quick"] if quick else [])]
    subprocess.run(command, check=True)
    kept = RESULTS / f"final-{'quick' if quick else 'full'}-{number}.json"
    shutil.copyfile(RESULTS / "latest.json", kept)
    record: dict[str, Any] = json.loads(kept.read_text(encoding="utf-8"))
    return record


def saved(kind: str) -> list[dict[str, Any]]:
    """The kept runs of one kind (``quick`` or ``full``), in the order they ran."""
    paths = sorted(RESULTS.glob(f"final-{kind}-*.json"), key=lambda p: int(p.stem.split("-")[-1]))
    return [json.loads(path.read_text(encoding="utf-8")) for path in paths]


def tally(records: list[dict[str, Any]]) -> str:
    """Every target across the runs: its ratio in each, and in how many it held."""
    seen: dict[tuple[str, str], list[tuple[float | None, float]]] = {}
    for record in records:
        for area in record["areas"]:
            for row in area["rows"]:
                if row["target"] is not None:
                    key = (re.split(r"[:\d]", area["title"])[0].strip(" ,"), row["name"])
                    seen.setdefault(key, []).append((row["ratio"], row["target"]))
    lines = ["| area | target | ratio in each run (* below the target) | held |",
             "|---|---|---|---|"]
    for (area, name), values in seen.items():
        held = sum(1 for ratio, target in values if ratio is not None and ratio >= target)
        ratios = ", ".join("-" if r is None else f"{r:.2f}{'*' if r < t else ''}"
                           for r, t in values)
        lines.append(f"| {area} | {name} >= {values[0][1]:g} | {ratios} | "
                     f"{held} of {len(values)} |")
    return "\n".join(lines)


def section(quick: list[dict[str, Any]], full: list[dict[str, Any]]) -> str:
    parts = [START, ""]
    if quick:
        machine = dict(quick[0].get("machine") or {})
        if machine:  # one machine; each run's own load at its start
            machine["load"] = " / ".join(str(r.get("machine", {}).get("load")) for r in quick)
        parts += [f"### The targets in {len(quick)} quick runs"
                  f"{f' ({describe(machine)})' if machine else ''}", "", tally(quick), ""]
    for number, record in enumerate(full, 1):
        parts += [f"### Full run {number} of {len(full)}", "", markdown(record), ""]
    return "\n".join([*parts, END])


def write_readme(text: str) -> None:
    readme = README.read_text(encoding="utf-8")
    head, _, rest = readme.partition(START)
    _, _, tail = rest.partition(END)
    README.write_text(head + text + tail, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.final_runs",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--quick-runs", type=int, default=5)
    parser.add_argument("--full-runs", type=int, default=2)
    parser.add_argument("--rewrite", action="store_true",
                        help="run nothing: write the README from the kept final-*.json")
    args = parser.parse_args(argv)
    if args.rewrite:
        quick, full = saved("quick"), saved("full")
    else:
        quick = [one_run(True, n) for n in range(1, args.quick_runs + 1)]
        full = [one_run(False, n) for n in range(1, args.full_runs + 1)]
    write_readme(section(quick, full))
    print(f"\nwrote {README.relative_to(Path.cwd())}:\n\n{tally(quick)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
