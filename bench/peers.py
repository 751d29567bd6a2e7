"""The peers ``make bench`` measures beside the kit, on the same redis-server, in the same run.

- **RQ** (``rq``, the ``bench`` extra): its ``SimpleWorker`` (no fork per job), in this process.
- **arq**: it pins redis-py < 6 and the kit needs 8, so it lives in a venv of its own,
  ``.venv-bench/arq``, and runs as a subprocess (:mod:`bench.peer_arq`) against the same
  server. ``python -m bench.peers --install`` makes that venv (``make bench`` does).
- **cashews** (the ``bench`` extra): its ``get()`` and its client-side mode, in ``bench_cache``.

A peer that cannot run is reported as "not run" with the reason - never with a number from
somewhere else.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import venv
from pathlib import Path

__all__ = ["ARQ_PYTHON", "arq_rate", "install_arq", "rq_rate"]

ROOT = Path(__file__).resolve().parent.parent
ARQ_VENV = ROOT / ".venv-bench" / "arq"
ARQ_PYTHON = ARQ_VENV / "bin" / "python"
ARQ_LOCK = ROOT / "bench" / "locks" / "arq-lock.txt"  # `make lock` refreshes it from arq.in
EXTRA = "pip install -e '.[bench]' (make bench does)"


def noop() -> None:
    """RQ's job body: nothing (RQ imports it by name, so it lives in a module, not __main__)."""


def rq_rate(host: str, port: int, jobs: int) -> float | str:
    """RQ SimpleWorker jobs/s for ``jobs`` enqueues + a burst run, or why it did not run."""
    try:
        import redis
        from rq import Queue, SimpleWorker
    except ImportError as exc:
        return f"rq is not installed ({exc.name}): {EXTRA}"
    connection = redis.Redis(host=host, port=port)
    try:
        queue = Queue(f"bench-{time.monotonic_ns()}", connection=connection)
        start = time.perf_counter()
        for _ in range(jobs):
            queue.enqueue("bench.peers.noop", result_ttl=0)
        SimpleWorker([queue], connection=connection).work(burst=True, logging_level="WARNING")
        rate = jobs / (time.perf_counter() - start)
        if queue.count or queue.failed_job_registry.count:  # it must have run them all
            return f"rq left {queue.count} queued and {queue.failed_job_registry.count} failed"
        return rate
    finally:
        connection.close()


def arq_rate(host: str, port: int, jobs: int, poll_delay: float = 0.01) -> float | str:
    """arq jobs/s (its own venv, a subprocess), or why it did not run."""
    if not ARQ_PYTHON.exists():
        return ("arq needs redis-py < 6, so it lives in .venv-bench/arq, which is missing: "
                "python -m bench.peers --install (make bench does)")
    done = subprocess.run(
        [str(ARQ_PYTHON), str(Path(__file__).with_name("peer_arq.py")), "--host", host,
         "--port", str(port), "--jobs", str(jobs), "--poll-delay", str(poll_delay)],
        capture_output=True, text=True, timeout=300, check=False)
    if done.returncode != 0:
        return f"arq failed: {done.stderr.strip().splitlines()[-1] if done.stderr else '?'}"
    result = json.loads(done.stdout.splitlines()[-1])
    return float(result["jobs"]) / float(result["seconds"])


def install_arq() -> int:
    """Create ``.venv-bench/arq`` with arq in it (its own redis-py), from its lock."""
    if ARQ_PYTHON.exists():
        print(f"arq is installed in {ARQ_VENV.relative_to(ROOT)}")
        return 0
    print(f"creating {ARQ_VENV.relative_to(ROOT)} for arq (it pins redis-py < 6)", flush=True)
    venv.create(ARQ_VENV, with_pip=True)
    return subprocess.call(
        [str(ARQ_PYTHON), "-m", "pip", "install", "--quiet", "-r", str(ARQ_LOCK)])


if __name__ == "__main__":
    if sys.argv[1:] != ["--install"]:
        raise SystemExit("usage: python -m bench.peers --install")
    raise SystemExit(install_arq())
