"""The peers that cannot share the kit's venv get one each: ``.venv-bench/<name>``, installed
from ``bench/locks/<name>-lock.txt`` (``make lock`` compiles it from ``<name>.in``).

- **arq** pins redis-py < 6 and **SAQ** 0.26 redis-py < 8; the kit needs 8.
- **Celery** 5.7 (with kombu) pins exact versions of python-dateutil and packaging: in the
  kit's one lock they would choose those versions for every learner's venv.

``python -m bench.peers --install`` (``make bench`` runs it) makes a venv that is missing, or
whose lock changed since it was made. A venv that cannot be made is reported and left
missing: its rows then say "not run" and why; the rest of the benchmark still runs.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import venv
from pathlib import Path

__all__ = ["LOCKS", "VENVS", "install_all", "python_of"]

ROOT = Path(__file__).resolve().parents[2]
LOCKS = ROOT / "bench" / "locks"
VENVS = ROOT / ".venv-bench"
STAMP = ".lock-sha256"  #: inside each venv: the hash of the lock it was installed from


def python_of(name: str) -> Path:
    """The Python of a peer's venv; ``""`` names the kit's own (this one)."""
    return VENVS / name / "bin" / "python" if name else Path(sys.executable)


def _lock(name: str) -> Path:
    return LOCKS / f"{name}-lock.txt"


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def install(name: str) -> str:
    """Make ``.venv-bench/<name>`` from its lock if missing or stale; "" or why it failed."""
    folder, lock = VENVS / name, _lock(name)
    stamp = folder / STAMP
    if stamp.exists() and stamp.read_text() == _digest(lock):
        print(f"{name}: {folder.relative_to(ROOT)} is up to date with {lock.name}")
        return ""
    print(f"{name}: making {folder.relative_to(ROOT)} from {lock.relative_to(ROOT)}", flush=True)
    shutil.rmtree(folder, ignore_errors=True)
    uv = Path(sys.executable).with_name("uv")  # the kit's venv has uv (the test extra)
    venv.create(folder, with_pip=not uv.exists())
    python = str(python_of(name))
    if uv.exists():
        command = [str(uv), "pip", "install", "--quiet", "--python", python, "-r", str(lock)]
    else:
        command = [python, "-m", "pip", "install", "--quiet", "-r", str(lock)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        shutil.rmtree(folder, ignore_errors=True)
        lines = (done.stderr or done.stdout).strip().splitlines()
        return lines[-1] if lines else f"exit status {done.returncode}"
    stamp.write_text(_digest(lock))
    return ""


def install_all() -> int:
    """Every venv in ``bench/locks/``; failures are printed (their rows will say not run)."""
    failed = {}
    for lock in sorted(LOCKS.glob("*-lock.txt")):
        name = lock.name.removesuffix("-lock.txt")
        why = install(name)
        if why:
            failed[name] = why
    for name, why in failed.items():
        print(f"{name}: NOT installed ({why}); its rows will say 'not run'")
    return 0
