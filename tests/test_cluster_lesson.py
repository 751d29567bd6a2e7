"""Lesson 11's widget functions and its exercise (the notebook itself runs under nbval)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from helpdesk_kit.backends import ClusterLab
from helpdesk_kit.backends.cluster import hash_slot
from helpdesk_kit.config import Settings
from helpdesk_kit.lessons import setup, show_logs
from helpdesk_kit.lessons.exercises import lesson11
from helpdesk_kit.widgets.cluster import (
    SlotExplorer,
    distribution_figure,
    hashed_part,
    keys_per_node,
    slot_table,
)

SOLUTION = Path(__file__).resolve().parent.parent / "notebooks" / "solutions" / "lesson11.py"


def _solution() -> ModuleType:
    spec = importlib.util.spec_from_file_location("solution_lesson11", SOLUTION)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@given(st.text(alphabet="ab{}:x", max_size=12))
def test_hashed_part_is_what_the_cluster_hashes(key: str) -> None:
    from binascii import crc_hqx

    assert crc_hqx(hashed_part(key).encode(), 0) % 16384 == hash_slot(key)


def test_the_exercise_on_the_session_cluster_and_its_usual_slips(
        tmp_path: Path, cluster_lab: ClusterLab) -> None:
    lesson = setup("11_cluster", settings=Settings(data_dir=tmp_path, redis_backend="fake"),
                   users=10, tickets=30, logs=False)

    def asked(client: Any, key: str) -> str:
        options = client.connection_pool.connection_kwargs
        return f"{options['host']}:{options['port']}"

    def any_replica(client: Any, key: str) -> str:
        slot = client.execute_command("CLUSTER KEYSLOT", key)
        for shard in client.execute_command("CLUSTER SHARDS"):
            ranges = shard["slots"]
            if any(a <= slot <= b for a, b in zip(ranges[0::2], ranges[1::2], strict=True)):
                node = next(n for n in shard["nodes"] if n["role"] != "master")
                return f"{node['ip']}:{node['port']}"
        return ""

    try:
        assert lesson11.check(lesson, _solution().answer, cluster_lab).ok is True
        assert lesson11.check(lesson, ...).ok is None
        assert "the node you asked" in lesson11.check(lesson, asked, cluster_lab).message
        replica = lesson11.check(lesson, any_replica, cluster_lab)
        assert replica.ok is False and "replica" in replica.message and "MOVED" in replica.message
        assert lesson11.check(lesson, lambda client, key: 42, cluster_lab).ok is False
        crash = lesson11.check(lesson, lambda client, key: 1 / 0, cluster_lab)
        assert crash.ok is False and "ZeroDivisionError" in crash.message
    finally:
        lesson.close()
        show_logs(False)


def test_slot_table_and_distribution_figure() -> None:
    text = repr(slot_table(["{tasks}:pending", "{tasks}:processing:w1"]))
    assert text.count(str(hash_slot("{tasks}:pending"))) == 2 and "tasks" in text
    fig = distribution_figure({"a": 3, "b": 5}, {"b": 6, "c": 2})
    bars = [p.get_height() for p in fig.axes[0].patches]
    assert bars == [3, 5, 0, 0, 6, 2]


def test_keys_per_node_and_the_explorer_on_the_session_cluster(cluster_lab: ClusterLab,
                                                               key_prefix: str) -> None:
    from helpdesk_kit.backends import connect
    from helpdesk_kit.backends.connection import close_backend

    backend = connect(Settings.from_env(cluster_lab.env()))
    try:
        for n in range(60):
            backend.client.set(f"{key_prefix}{{k{n}}}", "x")
        counts = keys_per_node(backend.client, f"{key_prefix}*")
        assert len(counts) == 3 and sum(counts.values()) == 60 and min(counts.values()) > 0
        pytest.importorskip("ipywidgets")
        explorer = SlotExplorer(backend.client)
        explorer.key.value = f"{key_prefix}{{k1}}"
        shown = explorer.show()
        assert f"slot {hash_slot(explorer.key.value):,}" in shown and "127.0.0.1:" in shown
    finally:
        for n in range(60):
            backend.client.delete(f"{key_prefix}{{k{n}}}")
        close_backend(backend)


@pytest.mark.slow
def test_while_a_dead_primarys_slots_have_no_primary_every_node_refuses() -> None:
    """What lesson 11 says after its failover: with ``cluster-require-full-coverage yes`` (the
    default, which the lab keeps), a healthy primary answers CLUSTERDOWN for its own keys
    from the moment the dead one is flagged FAIL until its replica is promoted. The order of
    states is asserted; the deadline only bounds the wait."""
    import time

    import redis
    from scaleout_servers import need_binaries

    need_binaries()
    with ClusterLab(node_timeout_ms=1000) as lab:
        dead, healthy = lab.nodes[0], lab.nodes[1]  # slots 0-5460 and 5461-10922
        key = next(f"k{n}" for n in range(1000) if 5461 <= hash_slot(f"k{n}") <= 10922)
        states: list[str] = []
        with healthy.client(timeout=0.5) as client:
            client.set(key, "kept")
            dead.kill()
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and states[-2:] != ["down", "ok"]:
                try:
                    state = "ok" if client.get(key) == "kept" else "lost"
                except redis.exceptions.ClusterDownError:
                    state = "down"
                if not states or states[-1] != state:
                    states.append(state)
                time.sleep(0.02)
        assert states == ["ok", "down", "ok"]
