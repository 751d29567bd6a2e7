"""``python -m bench [--quick] [cache queue store ...]``: every benchmark, one story.

Runs each ``bench/bench_*.py`` module's ``run(quick)`` (or those named), prints one ratio
table per area - every ratio against a baseline measured in the same run - then the targets
met and missed, and draws the ratios in ``bench/results/ratios.png`` (numbers in
``latest.json``; every run appends to ``history.jsonl``). ``--quick`` is the same story with
fewer rounds and tasks, under a minute.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import time
from pathlib import Path

from bench.report import RESULTS, Area, describe, machine, print_area, save


def main(argv: list[str] | None = None) -> int:
    here = Path(__file__).parent
    found = sorted(m.name for m in pkgutil.iter_modules([str(here)]) if m.name.startswith("bench_"))
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help=f"some of: {', '.join(found)}")
    parser.add_argument("--quick", action="store_true", help="fewer rounds: under a minute")
    parser.add_argument("--no-chart", action="store_true", help=f"print only (no {RESULTS})")
    args = parser.parse_args(argv)
    chosen = [n if n.startswith("bench_") else f"bench_{n}" for n in args.names] or found
    unknown = sorted(set(chosen) - set(found))
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)}; have: {', '.join(found)}")
    started, areas = time.perf_counter(), []
    print(f"machine: {describe(machine())}", flush=True)
    for name in chosen:
        print(f"\n=== {name}{' (quick)' if args.quick else ''}, at "
              f"{time.perf_counter() - started:.0f} s ===", flush=True)
        module = importlib.import_module(f"bench.{name}")
        if not hasattr(module, "run"):  # an older module that only prints: no table, no chart
            if args.quick:
                print(f"skipped in --quick: {name} has no run(quick); python -m bench "
                      f"{name.removeprefix('bench_')} runs it")
            else:
                module.main()
            continue
        for area in module.run(quick=args.quick):
            print_area(area)
            areas.append(area)
    _verdicts(areas, time.perf_counter() - started)
    if not args.no_chart:
        print(f"chart: {save(areas, args.quick).relative_to(Path.cwd())}")
    return 0


def _verdicts(areas: list[Area], seconds: float) -> None:
    rows = [(area, row) for area in areas for row in area.rows]
    targets = [(a, r) for a, r in rows if r.target is not None]
    missed = [f"{r.name} ({a.title.split(':')[0]}): {r.ratio:.2f} < {r.target:g}"
              for a, r in targets if r.verdict == "MISSED"]
    not_run = [f"{r.name}: {r.note}" for _, r in rows if r.ratio is None]
    met = sum(r.verdict == "ok" for _, r in targets)
    print(f"\n== {met} of {len(targets)} targets met, in {seconds:.0f} s ==")
    for line in missed:
        print(f"   MISSED  {line}")
    for line in not_run:
        print(f"   not run {line}")


if __name__ == "__main__":
    raise SystemExit(main())
