"""The HTTP endpoint on localhost: the design's /api/metrics JSON, Prometheus text, 404, 503.

tests/test_prometheus.py covers the Prometheus text itself and a real Redis going away.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest
import redis
from prometheus_client.parser import text_string_to_metric_families

from helpdesk_kit.backends import Backend
from helpdesk_kit.cache import Cache
from helpdesk_kit.keys import KeySchema
from helpdesk_kit.metrics import MetricsCollector, snapshot
from helpdesk_kit.metrics.prometheus import to_prometheus
from helpdesk_kit.metrics.server import MetricsServer, serve_in_thread

SAMPLE_LINE = re.compile(r'^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[a-z_]+="[^"]*"(,[a-z_]+="[^"]*")*\})? '
                         r"-?[0-9.e+-]+$")


def get(url: str) -> tuple[int, str, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as reply:  # noqa: S310 (loopback)
            return reply.status, reply.headers["Content-Type"], reply.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers["Content-Type"], exc.read().decode()


@pytest.fixture
def server(backend: Backend, keys: KeySchema) -> Iterator[MetricsServer]:
    cache = Cache(backend.client, keys)
    cache.get_or_load("user", 1, lambda: None)
    cache.get_or_load("user", 1, lambda: None)
    started, thread = serve_in_thread(MetricsCollector(backend.client, keys, cache=cache))
    yield started
    started.shutdown()
    started.server_close()
    thread.join(timeout=5)


def test_api_metrics_answers_with_the_seeds_json(server: MetricsServer, backend: Backend
                                                 ) -> None:
    assert server.url.startswith("http://127.0.0.1:")
    status, content_type, body = get(server.url + "/api/metrics")
    assert status == 200 and content_type == "application/json"
    data = json.loads(body)
    assert data["redis"]["keys"] == backend.client.dbsize()
    assert set(data["redis"]["memory"]) >= {"used_bytes", "max_bytes", "used_percent"}
    assert data["cache"]["entities"]["user"]["hits"] == 1


def test_prometheus_text_parses(server: MetricsServer, backend: Backend) -> None:
    status, content_type, body = get(server.url + "/metrics")
    assert status == 200 and content_type.startswith("text/plain; version=0.0.4")
    for line in body.splitlines():
        assert line.startswith("#") or SAMPLE_LINE.match(line), line
    families = {f.name: f for f in text_string_to_metric_families(body)}
    assert [s.value for s in families["redis_up"].samples] == [1.0]
    assert families["redis_db_keys"].samples[0].labels == {"db": "db0"}
    assert families["redis_db_keys"].samples[0].value == backend.client.dbsize()
    hits = families["helpdesk_cache_hits"]  # the parser drops "_total" from counter families
    assert hits.type == "counter"
    assert [(s.labels["entity"], s.value) for s in hits.samples] == [("user", 1.0)]
    names = set(families)
    if backend.kind == "fake":
        assert "redis_memory_used_bytes" not in names  # absent, never a made-up 0
        assert "# unavailable: redis_memory_used_bytes:" in body
    else:
        assert {"redis_memory_used_bytes", "redis_evicted_keys", "redis_keyspace_hits",
                "redis_memory_max_bytes"} <= names


def test_every_family_has_help_and_type_once(backend: Backend, keys: KeySchema) -> None:
    text = to_prometheus(snapshot(backend.client, keys))
    helps = re.findall(r"^# HELP (\S+)", text, re.M)
    types = re.findall(r"^# TYPE (\S+)", text, re.M)
    assert helps == types and len(helps) == len(set(helps))


def test_other_paths_are_404(server: MetricsServer) -> None:
    status, content_type, body = get(server.url + "/api/other")
    assert status == 404 and content_type == "application/json"
    assert "/api/metrics" in json.loads(body)["paths"]


def test_redis_failure_is_503_and_the_server_lives_on(dead_redis: redis.Redis) -> None:
    started, thread = serve_in_thread(MetricsCollector(dead_redis, KeySchema("x:")))
    try:
        status, content_type, body = get(started.url + "/api/metrics")
        assert status == 503 and content_type == "application/json"
        assert json.loads(body)["error"] == "Redis is unavailable"
        # Prometheus, as from redis_exporter: the scrape works and says Redis is down.
        status, content_type, body = get(started.url + "/metrics")
        assert status == 200 and content_type.startswith("text/plain; version=0.0.4")
        families = {f.name: f for f in text_string_to_metric_families(body)}
        assert list(families) == ["redis_up"]
        assert [s.value for s in families["redis_up"].samples] == [0.0]
        assert thread.is_alive()
    finally:
        started.shutdown()
        started.server_close()
