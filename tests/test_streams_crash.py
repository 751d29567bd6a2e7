"""Real ``helpdesk-kit worker --mode streams`` processes: the reliable mode's crash tests.

SIGKILL in the middle of 1,000 tasks loses nothing (a second worker takes the dead one's
pending entries with XAUTOCLAIM) and runs at most the dead worker's batch twice; SIGTERM
hands the rest back; a task that kills every worker is a dead letter after max_attempts
deliveries; garbage first, then good tasks, drains completely.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import redis

from helpdesk_kit.app import REGISTRY
from helpdesk_kit.backends import RedisServer
from helpdesk_kit.keys import KeySchema
from helpdesk_kit.queue import StreamQueue
from helpdesk_kit.queue.stream_entries import GROUP

pytestmark = pytest.mark.slow

#: The worker's task: marks it started, works 2 ms, counts it done; ``poison`` kills the worker.
TASKS_MODULE = textwrap.dedent('''
    import os
    import signal
    import time
    from helpdesk_kit.app import REGISTRY

    def record(ctx, task):
        n, prefix = task.payload["n"], ctx.keys.prefix
        ctx.redis.sadd(prefix + "started", n)
        if task.payload.get("poison"):
            os.kill(os.getpid(), signal.SIGKILL)
        time.sleep(task.payload.get("sleep", 0.002))
        ctx.redis.hincrby(prefix + "done", n, 1)

    REGISTRY.register("record", record, {"n": int})
''')


def _queue(client: redis.Redis, keys: KeySchema) -> StreamQueue:
    registry = REGISTRY.copy()
    registry.register("record", lambda ctx, task: None, {"n": int})
    return StreamQueue(client, keys, registry=registry)


def _start_worker(tmp_path: Path, server: RedisServer, prefix: str, *args: str
                  ) -> subprocess.Popen[bytes]:
    (tmp_path / "crashtasks.py").write_text(TASKS_MODULE)
    env = {**os.environ, "REDIS_URL": server.url, "HELPDESK_KEY_PREFIX": prefix,
           "HELPDESK_DATA_DIR": str(tmp_path / "data"), "HELPDESK_REDIS_BACKEND": "url",
           "PYTHONPATH": str(tmp_path)}
    return subprocess.Popen(
        [sys.executable, "-m", "helpdesk_kit.cli", "worker", "--mode", "streams",
         "--import", "crashtasks", "--heartbeat-ttl", "1", "--poll", "0.2", *args],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _wait_for(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.02)


def _wait_until_orphaned(client: redis.Redis, keys: KeySchema) -> None:
    """Until every pending entry has been idle for over the heartbeat TTL (1 s): its worker
    is dead, and the next worker's XAUTOCLAIM will take it."""
    def orphaned() -> bool:
        pending = client.xpending_range(keys.tasks_stream, GROUP, "-", "+", 1000)
        return all(p["time_since_delivered"] > 1100 for p in pending)

    _wait_for(orphaned)


def _kill_mid_task(process: subprocess.Popen[bytes], client: redis.Redis, prefix: str) -> None:
    """SIGKILL while the worker is inside a handler (checked while it is SIGSTOPped)."""
    _wait_for(lambda: client.hlen(prefix + "done") >= 100)
    for _ in range(500):
        process.send_signal(signal.SIGSTOP)
        time.sleep(0.005)
        if client.scard(prefix + "started") > client.hlen(prefix + "done"):
            process.kill()
            process.wait(timeout=5)
            return
        process.send_signal(signal.SIGCONT)
        time.sleep(0.003)
    raise AssertionError("never caught the worker inside a handler")


def test_sigkill_in_streams_mode_loses_nothing(tmp_path: Path, redis_server: RedisServer,
                                               real_redis: redis.Redis, keys: KeySchema,
                                               key_prefix: str) -> None:
    queue = _queue(real_redis, keys)
    queue.enqueue_many([("record", {"n": n}) for n in range(1000)])
    first = _start_worker(tmp_path, redis_server, key_prefix, "--burst", "--batch", "5")
    _kill_mid_task(first, real_redis, key_prefix)
    assert queue.inspect().processing >= 1  # the dead worker's entries are still pending
    _wait_until_orphaned(real_redis, keys)

    second = _start_worker(tmp_path, redis_server, key_prefix, "--burst")
    _out, err = second.communicate(timeout=60)
    assert second.returncode == 0, err.decode()[-2000:]
    runs = {int(n): int(c) for n, c in real_redis.hgetall(key_prefix + "done").items()}
    lost = 1000 - len(runs)
    duplicates = sum(runs.values()) - len(runs)
    print(f"streams mode after SIGKILL: lost={lost}, duplicates={duplicates}")
    assert lost == 0 and set(runs) == set(range(1000))
    assert duplicates <= 5  # at most the batch the dead worker held
    stats = queue.inspect()
    assert (stats.pending, stats.processing, stats.dead) == (0, 0, 0)
    assert real_redis.hget(keys.tasks_stream_stats, "recovered") is not None
    assert "moved" in err.decode()  # the second worker logged the recovery
    assert queue.length() < 1000  # processed entries were trimmed as it went


def test_sigterm_finishes_the_current_task_and_hands_back_the_rest(
        tmp_path: Path, redis_server: RedisServer, real_redis: redis.Redis, keys: KeySchema,
        key_prefix: str) -> None:
    queue = _queue(real_redis, keys)
    queue.enqueue_many([("record", {"n": n, "sleep": 0.3}) for n in range(20)])
    worker = _start_worker(tmp_path, redis_server, key_prefix, "--batch", "4")
    _wait_for(lambda: real_redis.scard(key_prefix + "started") >= 1)
    worker.send_signal(signal.SIGTERM)
    _out, err = worker.communicate(timeout=10)
    assert worker.returncode == 0, err.decode()[-2000:]
    done = real_redis.hlen(key_prefix + "done")
    assert done >= 1 and done == real_redis.scard(key_prefix + "started")  # none cut short
    stats = queue.inspect()
    assert (stats.pending, stats.processing, stats.done) == (20 - done, 0, done)
    assert queue.worker_ids() == [] and "SIGTERM" in err.decode()


def test_a_task_that_kills_every_worker_ends_as_a_dead_letter(
        tmp_path: Path, redis_server: RedisServer, real_redis: redis.Redis, keys: KeySchema,
        key_prefix: str) -> None:
    queue = _queue(real_redis, keys)
    queue.enqueue("record", {"n": 0, "poison": True})
    queue.enqueue_many([("record", {"n": n}) for n in range(1, 6)])
    deaths = 0
    for _ in range(5):  # max_attempts (3) deaths, then one worker that buries it and goes on
        worker = _start_worker(tmp_path, redis_server, key_prefix, "--burst",
                               "--max-attempts", "3")
        _out, err = worker.communicate(timeout=30)
        if worker.returncode == 0:
            break
        assert worker.returncode == -signal.SIGKILL, err.decode()[-2000:]
        deaths += 1
        _wait_until_orphaned(real_redis, keys)
    assert deaths == 3 and worker.returncode == 0
    letters = queue.dead_letters()
    assert [d.error for d in letters] == ["worker died 3 times while processing it"]
    assert letters[0].task is not None and letters[0].task.payload["n"] == 0
    assert real_redis.hgetall(key_prefix + "done") == {str(n): "1" for n in range(1, 6)}
    stats = queue.inspect()
    assert (stats.pending, stats.processing, stats.dead, stats.done) == (0, 0, 1, 5)


def test_garbage_first_then_good_tasks_drains_completely(
        tmp_path: Path, redis_server: RedisServer, real_redis: redis.Redis, keys: KeySchema,
        key_prefix: str) -> None:
    queue = _queue(real_redis, keys)
    garbage = [{"task": b"[" * 200_000 + b"]" * 200_000}, {"task": b"\xff\xfe not text"},
               {"task": b'{"type": 7}'}, {"task": b'{"type": "record", "payload": {"n": "7"}}'},
               {"task": b"null"}, {"task": b"x" * 300_000}, {"no": b"task field"}]
    for entry in garbage:
        real_redis.xadd(keys.tasks_stream, entry)  # type: ignore[arg-type]
    queue.enqueue_many([("record", {"n": n}) for n in range(20)])
    worker = _start_worker(tmp_path, redis_server, key_prefix, "--burst", "--batch", "3")
    _out, err = worker.communicate(timeout=60)
    assert worker.returncode == 0, err.decode()[-2000:]
    assert {int(n) for n in real_redis.hgetall(key_prefix + "done")} == set(range(20))
    stats = queue.inspect()
    assert (stats.pending, stats.processing, stats.dead) == (0, 0, len(garbage))
    reasons = [letter.error for letter in queue.dead_letters()]
    assert all(reasons) and any("UTF-8" in r for r in reasons) and any("JSON" in r for r in reasons)
    assert any("HELPDESK_MAX_TASK_BYTES" in r for r in reasons)
    assert any("'task' field" in r for r in reasons)
