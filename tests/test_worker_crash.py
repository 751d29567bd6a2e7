"""Real ``helpdesk-kit worker`` processes: SIGKILL in the middle of 1,000 tasks, and SIGTERM.

The lesson's point, measured: killed mid-task, the design's LPOP worker loses the task in its
hands; the reliable worker loses nothing (another worker recovers it after the heartbeat
expires) and may run a task twice, which we count.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import redis

from helpdesk_kit.app import REGISTRY
from helpdesk_kit.backends import RedisServer
from helpdesk_kit.keys import KeySchema
from helpdesk_kit.queue import TaskQueue

pytestmark = pytest.mark.slow

#: Registers ``record``: marks the task started, works 2 ms, then counts it done (durably).
#: With ``"poison": true`` it SIGKILLs its own worker instead (as a segfault or the OOM killer).
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


def _queue(client: redis.Redis, keys: KeySchema) -> TaskQueue:
    registry = REGISTRY.copy()
    registry.register("record", lambda ctx, task: None, {"n": int})
    return TaskQueue(client, keys, registry=registry)


def _start_worker(tmp_path: Path, server: RedisServer, prefix: str, *args: str
                  ) -> subprocess.Popen[bytes]:
    (tmp_path / "crashtasks.py").write_text(TASKS_MODULE)
    env = {**os.environ, "REDIS_URL": server.url, "HELPDESK_KEY_PREFIX": prefix,
           "HELPDESK_DATA_DIR": str(tmp_path / "data"), "HELPDESK_REDIS_BACKEND": "url",
           "PYTHONPATH": str(tmp_path)}
    return subprocess.Popen(
        [sys.executable, "-m", "helpdesk_kit.cli", "worker", "--import", "crashtasks",
         "--heartbeat-ttl", "1", "--poll", "0.2", *args],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _wait_for(condition, timeout: float = 30.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.02)


def _wait_for_heartbeats_to_expire(queue: TaskQueue) -> None:
    """Until every registered worker's heartbeat is gone (TTL 1 s after it died)."""
    beats = [queue.keys.worker_heartbeat(w) for w in queue.worker_ids()]
    _wait_for(lambda: not any(queue.client.exists(b) for b in beats))


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


def test_sigkill_in_reliable_mode_loses_nothing(tmp_path: Path, redis_server: RedisServer,
                                                real_redis: redis.Redis, keys: KeySchema,
                                                key_prefix: str) -> None:
    queue = _queue(real_redis, keys)
    queue.enqueue_many([("record", {"n": n}) for n in range(1000)])
    first = _start_worker(tmp_path, redis_server, key_prefix, "--burst", "--batch", "5")
    _kill_mid_task(first, real_redis, key_prefix)
    assert queue.inspect().processing >= 1  # the dead worker still holds its batch
    _wait_for_heartbeats_to_expire(queue)

    second = _start_worker(tmp_path, redis_server, key_prefix, "--burst")
    _out, err = second.communicate(timeout=30)
    assert second.returncode == 0, err.decode()[-2000:]
    runs = {int(n): int(c) for n, c in real_redis.hgetall(key_prefix + "done").items()}
    lost = 1000 - len(runs)
    duplicates = sum(runs.values()) - len(runs)
    print(f"reliable mode after SIGKILL: lost={lost}, duplicates={duplicates}")
    assert lost == 0 and set(runs) == set(range(1000))
    assert duplicates <= 5  # at most the batch the dead worker held
    stats = queue.inspect()
    assert (stats.pending, stats.processing, stats.dead) == (0, 0, 0)
    assert "moved" in err.decode()  # the second worker logged the recovery


def test_sigkill_in_seed_mode_loses_the_task_in_hand(tmp_path: Path, redis_server: RedisServer,
                                                     real_redis: redis.Redis, keys: KeySchema,
                                                     key_prefix: str) -> None:
    queue = _queue(real_redis, keys)
    queue.enqueue_many([("record", {"n": n}) for n in range(1000)])
    worker = _start_worker(tmp_path, redis_server, key_prefix, "--mode", "pop", "--burst")
    _kill_mid_task(worker, real_redis, key_prefix)
    done = real_redis.hlen(key_prefix + "done")
    pending = queue.inspect().pending
    lost = 1000 - done - pending
    print(f"seed mode after SIGKILL: lost={lost} (the task the worker held)")
    assert lost >= 1  # the lesson's point: LPOP then crash = the task is gone
    assert lost == real_redis.scard(key_prefix + "started") - done
    assert queue.inspect().processing == 0  # nothing anywhere in Redis remembers it


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
        _wait_for_heartbeats_to_expire(queue)
    assert deaths == 3 and worker.returncode == 0
    letters = queue.dead_letters()
    assert [d.error for d in letters] == ["worker died 3 times while processing it"]
    assert letters[0].task is not None and letters[0].task.payload["n"] == 0
    assert real_redis.hgetall(key_prefix + "done") == {str(n): "1" for n in range(1, 6)}
    stats = queue.inspect()
    assert (stats.pending, stats.processing, stats.dead, stats.done) == (0, 0, 1, 5)


@pytest.mark.parametrize("mode", ["reliable", "pop"])
def test_garbage_first_then_good_tasks_drains_completely(
        tmp_path: Path, redis_server: RedisServer, real_redis: redis.Redis, keys: KeySchema,
        key_prefix: str, mode: str) -> None:
    """The hardening issue's case: a real worker process, the worst entries first."""
    queue = _queue(real_redis, keys)
    garbage = [b"[" * 200_000 + b"]" * 200_000, b"\xff\xfe not text", b'{"type": 7}',
               b'{"type": "record", "payload": {"n": "seven"}}', b"null", b"x" * 300_000]
    real_redis.rpush(keys.tasks_pending, *garbage)
    queue.enqueue_many([("record", {"n": n}) for n in range(20)])
    worker = _start_worker(tmp_path, redis_server, key_prefix, "--burst", "--mode", mode)
    _out, err = worker.communicate(timeout=60)
    assert worker.returncode == 0, err.decode()[-2000:]  # alive to the end, then a clean exit
    done = {int(n) for n in real_redis.hgetall(key_prefix + "done")}
    assert done == set(range(20))  # every good task behind the garbage ran
    stats = queue.inspect()
    assert (stats.pending, stats.processing, stats.dead) == (0, 0, len(garbage))
    reasons = [letter.error for letter in queue.dead_letters()]
    assert all(reasons) and any("UTF-8" in r for r in reasons) and any("JSON" in r for r in reasons)
    assert any("HELPDESK_MAX_TASK_BYTES" in r for r in reasons)
