"""Metrics on a Redis Cluster: every primary's keys, memory, evictions and hit rate, plus the
totals, in the snapshot, in ``/api/metrics`` and in ``/metrics`` (Prometheus)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from scaleout_servers import lab_settings, open_backend

from helpdesk_kit.backends import Backend, ClusterLab
from helpdesk_kit.backends.cluster import node_clients
from helpdesk_kit.config import Settings
from helpdesk_kit.keys import KeySchema
from helpdesk_kit.metrics import MetricsCollector
from helpdesk_kit.metrics import catalogue as C
from helpdesk_kit.metrics.prometheus import to_prometheus


@pytest.fixture
def cluster(cluster_lab: ClusterLab, tmp_path: Path, key_prefix: str) -> Iterator[Backend]:
    settings: Settings = lab_settings(cluster_lab.env(), tmp_path, key_prefix)
    yield from open_backend(settings)


def test_each_primary_and_the_total(cluster: Backend, key_prefix: str) -> None:
    for n in range(90):
        cluster.client.set(f"{key_prefix}{{k{n}}}", "x" * 50, ex=600)
    cluster.client.get(f"{key_prefix}{{k1}}")
    # a plain schema, as `helpdesk-kit metrics` builds it: the snapshot tags it by itself
    collector = MetricsCollector(cluster.client, KeySchema(prefix=key_prefix))
    snap = collector.snapshot()
    per_node = {m.labels["node"]: m.value for m in snap.metrics.values()
                if C.NODE_KEYS.matches(m.name, m.labels)}
    truth = {address: node.dbsize() for address, node in node_clients(cluster.client)}
    assert per_node == truth and len(per_node) == 3
    assert snap.value(C.REDIS_KEYS.name) == sum(truth.values())
    memory = [m.value for m in snap.metrics.values()
              if C.NODE_MEMORY_USED_BYTES.matches(m.name, m.labels)]
    assert len(memory) == 3 and snap.value(C.MEMORY_USED_BYTES.name) == pytest.approx(
        sum(memory), rel=0.05)
    assert snap.value(C.PREFIX_KEYS.name) == 90
    assert snap.value(C.QUEUE_PENDING.name) == 0


def test_api_json_and_prometheus_show_every_node(cluster: Backend, key_prefix: str) -> None:
    cluster.client.set(f"{key_prefix}{{a}}", "1")
    snap = MetricsCollector(cluster.client, KeySchema(prefix=key_prefix, cluster=True)).snapshot()
    nodes = snap.to_api_json()["nodes"]
    assert len(nodes) == 3
    assert all({"keys", "memory.used_bytes", "evicted_keys", "keyspace_hit_rate"} <= set(v)
               for v in nodes.values())
    text = to_prometheus(snap)
    lines = [line for line in text.splitlines()
             if line.startswith("helpdesk_cluster_node_keys{")]
    assert len(lines) == 3 and all('node="127.0.0.1:' in line for line in lines)
    assert "helpdesk_cluster_node_evicted_keys_total{" in text


def test_a_single_server_has_no_nodes(redis_client, keys: KeySchema) -> None:  # type: ignore[no-untyped-def]
    snap = MetricsCollector(redis_client, keys).snapshot()
    assert snap.to_api_json()["nodes"] == {}
    assert "helpdesk_cluster_node_keys{" not in to_prometheus(snap)
