"""``helpdesk-kit listen`` hears a ticket created in another process (three real processes).

One process listens; another creates a ticket through the app (which enqueues its
notification); a ``helpdesk-kit worker --burst`` publishes it. The listener prints it.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from helpdesk_kit.backends import RedisServer
from helpdesk_kit.config import Settings
from helpdesk_kit.db import open_store
from helpdesk_kit.db.sample import load_sample

pytestmark = pytest.mark.slow

CREATE = textwrap.dedent("""
    import json
    from helpdesk_kit.app import HelpdeskApp
    with HelpdeskApp.from_settings() as app:
        print(json.dumps(app.create_ticket(3, "Printer on fire, from another process")))
""")


def _env(server: RedisServer, prefix: str, data: Path) -> dict[str, str]:
    return {**os.environ, "REDIS_URL": server.url, "HELPDESK_REDIS_BACKEND": "url",
            "HELPDESK_KEY_PREFIX": prefix, "HELPDESK_DATA_DIR": str(data)}


def _read_line(stream: object, timeout: float) -> str:
    """One line from a child's pipe, or an AssertionError after ``timeout`` seconds."""
    ready, _, _ = select.select([stream], [], [], timeout)
    assert ready, f"nothing printed within {timeout} s"
    return stream.readline().decode()  # type: ignore[attr-defined]


def test_listen_prints_a_ticket_created_in_another_process(
        tmp_path: Path, redis_server: RedisServer, key_prefix: str) -> None:
    data = tmp_path / "data"
    store = open_store(Settings(data_dir=data))
    load_sample(store, 20, 30, seed=42, progress=False)
    store.db.close()
    env = _env(redis_server, key_prefix, data)
    kit = [sys.executable, "-m", "helpdesk_kit.cli"]
    listener = subprocess.Popen([*kit, "listen", "--json", "--count", "1", "--seconds", "60"],
                                env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert "listening on" in _read_line(listener.stderr, 30)  # subscribed for sure
        created = subprocess.run([sys.executable, "-c", CREATE], env=env, capture_output=True,
                                 timeout=60, check=True)
        result = json.loads(created.stdout.decode().strip().splitlines()[-1])
        assert result["success"] and result["notification"] == "queued"
        started = time.monotonic()
        worker = subprocess.run([*kit, "worker", "--burst"], env=env, capture_output=True,
                                timeout=60)
        assert worker.returncode == 0, worker.stderr.decode()[-2000:]
        printed = json.loads(_read_line(listener.stdout, 30))
        print(f"heard {time.monotonic() - started:.2f} s after the worker started")
        assert printed["ticket_id"] == result["ticketId"]
        assert printed["kind"] == "ticket_creado" and printed["task_id"] == result["taskId"]
        assert listener.wait(timeout=30) == 0  # --count 1: it exits by itself
        assert "1 notification(s)" in listener.stderr.read().decode()
    finally:
        if listener.poll() is None:
            listener.kill()
            listener.wait()
