"""Stop a server process the kit started: politely first, then by force.

Shared by the private servers (:class:`~helpdesk_kit.backends.RedisServer`,
:class:`~helpdesk_kit.db.sqld.SqldServer`) so both stop the same way.
"""

from __future__ import annotations

import subprocess

__all__ = ["stop_process"]


def stop_process(process: subprocess.Popen[bytes] | None, timeout: float = 5.0) -> None:
    """SIGTERM, wait up to ``timeout`` seconds, then SIGKILL; nothing to do if it has ended."""
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
