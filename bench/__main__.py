"""``python -m bench``: run every ``bench/bench_*.py`` module in turn (or those named)."""

from __future__ import annotations

import pkgutil
import runpy
import sys
from pathlib import Path


def main(names: list[str]) -> int:
    here = Path(__file__).parent
    found = sorted(m.name for m in pkgutil.iter_modules([str(here)]) if m.name.startswith("bench_"))
    chosen = [n if n.startswith("bench_") else f"bench_{n}" for n in names] or found
    unknown = sorted(set(chosen) - set(found))
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; have: {', '.join(found)}")
        return 2
    for name in chosen:
        print(f"\n=== {name} ===", flush=True)
        runpy.run_module(f"bench.{name}", run_name="__main__", alter_sys=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
