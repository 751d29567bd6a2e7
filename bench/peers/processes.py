"""Start a queue's worker and producer processes, talk to the producer, stop them both.

The worker runs in a session of its own, so stopping it reaches the processes it started
too (``taskiq worker`` runs its worker in a child): ``SIGTERM`` to that group, ``SIGKILL`` if
it has not exited a few seconds later (the benchmark needs no graceful end). Both processes'
stderr go to one log file per queue; when a queue cannot run, the last line of that log is
the row's reason.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
from pathlib import Path
from typing import Any

from bench.peers import QueuePeer
from bench.peers.venvs import ROOT, python_of

__all__ = ["PeerNotRunning", "PeerProcesses"]

HERE = Path(__file__).resolve().parent
#: How long a worker may take to start and run its first job (Celery imports a lot).
START_S = 90.0
#: How long a stopped process may take to exit before it is killed.
GRACE_S = 3.0


class PeerNotRunning(Exception):
    """The queue could not run here: the message is the row's reason."""


class PeerProcesses:
    """One queue's worker and producer on the server at ``url``, under a unique queue name."""

    def __init__(self, peer: QueuePeer, url: str, queue: str, logs: Path) -> None:
        self.peer = peer
        self.url = url
        self.queue = queue
        self.log = logs / f"{queue}.log"
        self.worker: subprocess.Popen[bytes] | None = None
        self.producer: subprocess.Popen[str] | None = None

    def _command(self, role: str) -> list[str]:
        python = python_of(self.peer.venv)
        if not python.exists():
            raise PeerNotRunning(f".venv-bench/{self.peer.venv} is missing: "
                                 "python -m bench.peers --install (make bench runs it)")
        return [str(python), str(HERE / self.peer.script), role, "--url", self.url,
                "--queue", self.queue, "--variant", self.peer.variant]

    def start(self) -> None:
        """Start both processes (the worker warms up while others start)."""
        with self.log.open("ab") as log:
            self.worker = subprocess.Popen(self._command("worker"), cwd=ROOT,
                                           stdout=log, stderr=log, start_new_session=True)
            self.producer = subprocess.Popen(self._command("producer"), cwd=ROOT, text=True,
                                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                             stderr=log)

    def ready(self) -> None:
        """Wait until the worker has run a job; PeerNotRunning (and why) if it never does."""
        answer = self.ask({"op": "ready", "seconds": START_S})
        if not answer.get("ready"):
            raise PeerNotRunning(f"its worker ran no job within {START_S:.0f} s "
                                 f"({self.last_log_line()})")

    def ask(self, command: dict[str, Any]) -> dict[str, Any]:
        """Send one command to the producer, return its answer (PeerNotRunning if it died)."""
        assert self.producer is not None and self.producer.stdin and self.producer.stdout
        if self.worker is not None and self.worker.poll() is not None:
            raise PeerNotRunning(f"its worker exited ({self.last_log_line()})")
        try:
            self.producer.stdin.write(json.dumps(command) + "\n")
            self.producer.stdin.flush()
            line = self.producer.stdout.readline()
        except (BrokenPipeError, OSError) as exc:
            raise PeerNotRunning(f"its producer exited ({self.last_log_line()})") from exc
        if not line:
            raise PeerNotRunning(f"its producer exited ({self.last_log_line()})")
        answer: dict[str, Any] = json.loads(line)
        if "error" in answer:
            raise PeerNotRunning(answer["error"])
        return answer

    def stop(self) -> None:
        """Ask both to end (quit; SIGTERM to the worker's group); :meth:`wait` reaps them."""
        if self.producer is not None:
            with contextlib.suppress(BrokenPipeError, OSError, ValueError):
                assert self.producer.stdin is not None
                self.producer.stdin.write(json.dumps({"op": "quit"}) + "\n")
                self.producer.stdin.close()
        if self.worker is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.worker.pid, signal.SIGTERM)

    def wait(self) -> None:
        """Reap both after :meth:`stop`; SIGKILL what is still there after a few seconds."""
        if self.producer is not None:
            _wait_or_kill(self.producer, self.producer.pid, group=False)
        if self.worker is not None:
            _wait_or_kill(self.worker, self.worker.pid, group=True)

    def last_log_line(self) -> str:
        lines = [line for line in self.log.read_text(errors="replace").splitlines() if line]
        return lines[-1][-200:] if lines else "nothing in its log"


def _wait_or_kill(process: subprocess.Popen[Any], pid: int, *, group: bool) -> None:
    try:
        process.wait(timeout=GRACE_S)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            if group:
                os.killpg(pid, signal.SIGKILL)
            else:
                process.kill()
        process.wait(timeout=10)
    if group:  # the group's other members (a child the worker started)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
