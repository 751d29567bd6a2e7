"""Lesson 17 for real: servers that keep their data on disk, crashed under load and counted.

Every test starts its own redis-servers (PersistentServers): they are killed, restarted and
reconfigured, which no shared server may be. The counts asserted are what each way of
persisting promises; the push times the drills also measure are never asserted.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from conftest import missing

from helpdesk_kit.backends.launch_persistent import PersistentServers, persistence_config
from helpdesk_kit.backends.launchers import wait_for
from helpdesk_kit.config import Settings
from helpdesk_kit.keys import KeySchema
from helpdesk_kit.lab.live import live_skip_reason
from helpdesk_kit.lab.persistence import crash_under_load, queued_ids, snapshot_now
from helpdesk_kit.lessons import setup
from helpdesk_kit.lessons.exercises import lesson17
from helpdesk_kit.vocab import FsyncPolicy, Persistence

KEYS = KeySchema(prefix="drill:")


@pytest.fixture(scope="module")
def servers() -> Iterator[PersistentServers]:
    if shutil.which("redis-server") is None:
        missing("redis", "install redis-server")
    with PersistentServers() as lab:
        yield lab


def _push(client: redis.Redis, count: int, start: int = 0) -> None:
    pipe = client.pipeline(transaction=False)
    for n in range(start, start + count):
        pipe.rpush(KEYS.tasks_pending, f"task-{n}")
    pipe.execute()


# --- the drills: what each way of persisting keeps after a SIGKILL ------------------------
def test_without_persistence_every_acknowledged_task_is_lost(servers: PersistentServers) -> None:
    run = crash_under_load(servers, Persistence.NONE, pushes=50)
    assert len(run.acknowledged) >= 50
    assert run.recovered == [] and run.lost == len(run.acknowledged)


def test_rdb_keeps_exactly_the_snapshot(servers: PersistentServers) -> None:
    run = crash_under_load(servers, Persistence.RDB, pushes=80, snapshot_at=30)
    assert run.snapshot == 30
    assert run.recovered == run.acknowledged[:30]  # the snapshot, in queue order
    assert run.lost == len(run.acknowledged) - 30 > 0


@pytest.mark.parametrize("fsync", [FsyncPolicy.ALWAYS, FsyncPolicy.NO])
def test_aof_loses_no_acknowledged_push_to_a_process_crash(servers: PersistentServers,
                                                           fsync: FsyncPolicy) -> None:
    """always: written and fsynced before the reply; no: written (to the OS) before the reply.
    A SIGKILL ends the process, not the machine, so the OS still has both."""
    run = crash_under_load(servers, Persistence.AOF, fsync, pushes=60)
    assert run.lost == 0
    assert run.recovered[:len(run.acknowledged)] == run.acknowledged
    assert run.unacknowledged_kept <= 1  # the push the kill cut off, at most
    assert len(run.push_seconds) == len(run.acknowledged)


def test_everysec_keeps_the_tasks_in_order(servers: PersistentServers) -> None:
    run = crash_under_load(servers, Persistence.AOF, FsyncPolicy.EVERYSEC, pushes=60)
    kept = [task for task in run.acknowledged if task in set(run.recovered)]
    assert kept == run.recovered[:len(kept)]  # whatever it kept is a prefix, in order
    assert len(kept) > 0


# --- the launcher ------------------------------------------------------------------------
def test_a_restart_loads_what_is_on_disk_and_only_that(servers: PersistentServers) -> None:
    node = servers.add("restart", persistence_config(Persistence.RDB))
    client = node.client()
    _push(client, 5)
    snapshot_now(client)
    _push(client, 3, start=5)
    assert client.info("persistence")["rdb_changes_since_last_save"] == 3
    assert servers.data_files(node) == ["dump.rdb"]
    servers.crash(node)
    servers.restart(node)
    assert client.lrange(KEYS.tasks_pending, 0, -1) == [f"task-{n}" for n in range(5)]
    client.close()
    servers.remove(node)
    assert not node.folder.exists()


def test_the_aof_is_a_folder_of_commands(servers: PersistentServers) -> None:
    node = servers.add("aof-files", persistence_config(Persistence.AOF, FsyncPolicy.ALWAYS))
    client = node.client()
    _push(client, 2)
    files = servers.data_files(node)
    assert any(name.startswith("appendonlydir/") and name.endswith(".manifest")
               for name in files)
    incr = next(node.folder / name for name in files if name.endswith(".incr.aof"))
    text = incr.read_text()
    assert "RPUSH" in text and "task-1" in text  # the commands themselves, in RESP
    client.close()
    servers.remove(node)


def test_shutdown_nosave_keeps_nothing_and_config_set_is_forgotten(
        servers: PersistentServers) -> None:
    node = servers.add("forgets", {"save": '""', "appendonly": "no"})
    client = node.client()
    _push(client, 4)
    client.config_set("maxmemory-policy", "allkeys-lru")  # never written to redis.conf
    client.shutdown(nosave=True)
    node.process.wait(10)  # type: ignore[union-attr]
    servers.restart(node)
    assert client.llen(KEYS.tasks_pending) == 0
    assert client.config_get("maxmemory-policy") == {"maxmemory-policy": "noeviction"}
    client.close()
    servers.remove(node)


def test_a_server_name_is_used_once(servers: PersistentServers) -> None:
    node = servers.add("twice", persistence_config(Persistence.NONE))
    with pytest.raises(Exception, match="added already"):
        servers.add("twice", persistence_config(Persistence.NONE))
    servers.remove(node)


def test_queued_ids_reads_task_ids_in_order(servers: PersistentServers) -> None:
    from helpdesk_kit.app import helpdesk_queue

    node = servers.add("ids", persistence_config(Persistence.NONE))
    client = node.client()
    queue = helpdesk_queue(client, KEYS)
    tasks = [queue.enqueue("send_notifications", {"ticketId": 1, "usuarioId": 1, "tipo": "x"})
             for _ in range(3)]
    assert queued_ids(client, KEYS) == [task.id for task in tasks]
    client.close()
    servers.remove(node)


def test_the_live_parts_say_why_they_skip() -> None:
    assert "fakeredis has no BGSAVE" in (live_skip_reason("fake", "BGSAVE") or "")
    if shutil.which("redis-server") is not None:
        assert live_skip_reason("server", "BGSAVE") is None


# --- the exercise: the two ways a live switch to the AOF loses everything -----------------
def _wait_for_rewrite(client: redis.Redis) -> None:
    wait_for(lambda: not client.info("persistence")["aof_rewrite_in_progress"], 30,
             "the AOF rewrite")


@pytest.mark.parametrize(("steps", "named"), [
    (("set", "rewrite"), "rewrite is over"),           # killed while the AOF was being built
    (("set", "wait"), "config file"),                  # CONFIG SET forgotten by the restart
    (("set everysec", "wait", "rewrite"), "appendfsync everysec"),
])
def test_the_exercise_names_each_mistake(servers: PersistentServers, tmp_path: Path,
                                         steps: tuple[str, ...], named: str) -> None:
    lesson = setup("17_persistence", settings=Settings(data_dir=tmp_path, redis_backend="fake"),
                   users=5, tickets=5, logs=False)

    def answer(client: redis.Redis) -> None:
        for step in steps:
            if step.startswith("set"):
                client.config_set("appendonly", "yes")
                if step == "set":
                    client.config_set("appendfsync", "always")
            elif step == "wait":
                _wait_for_rewrite(client)
            else:
                client.config_rewrite()

    result = lesson17.check(lesson, answer)
    assert result.ok is False and named in result.message, result.message
    lesson.close()


@pytest.mark.parametrize(("fsync", "queued", "named"), [
    ("always", 0, "rewrite is over"),                 # no complete AOF: the old queue is gone
    ("everysec", lesson17.BEFORE - 1, "rewrite is over"),
    ("everysec", lesson17.BEFORE + 1, "appendfsync everysec"),  # later pushes in the buffer
    ("everysec", lesson17.BEFORE + lesson17.AFTER, "appendfsync everysec"),
    ("always", lesson17.BEFORE + 1, "Was the rewrite over"),
])
def test_the_judge_names_what_the_counts_show(fsync: str, queued: int, named: str) -> None:
    """Whatever a loaded machine does to ``everysec`` (lose the last pushes or not), the
    verdict on an answer that left it on names it."""
    result = lesson17._judge({"appendonly": "yes", "appendfsync": fsync}, queued)
    assert result.ok is False and named in result.message, result.message


def test_the_judge_passes_the_aof_with_always_and_every_task() -> None:
    result = lesson17._judge({"appendonly": "yes", "appendfsync": "always"},
                             lesson17.BEFORE + lesson17.AFTER)
    assert result.ok is True
