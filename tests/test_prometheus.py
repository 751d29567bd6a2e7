"""GET /metrics built with prometheus_client: redis_exporter's names, redis_up, no secrets.

The Redis that goes away here is a real redis-server of the test's own, stopped mid-test (never
the session's), reached through a ``REDIS_URL`` with a password, as a class's Redis would be.
"""

from __future__ import annotations

import json
import logging
import re
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
import redis
from prometheus_client.parser import text_string_to_metric_families

from helpdesk_kit.backends import RedisServer, connect
from helpdesk_kit.config import Settings
from helpdesk_kit.errors import RedisBackendError
from helpdesk_kit.keys import KeySchema
from helpdesk_kit.metrics import Metric, MetricsCollector, Snapshot, snapshot
from helpdesk_kit.metrics import catalogue as C
from helpdesk_kit.metrics.prometheus import SnapshotCollector, redis_down, to_prometheus
from helpdesk_kit.metrics.server import MetricsServer, redacted, serve_in_thread

PASSWORD = "s3cret-Pa55"


def get(url: str) -> tuple[int, str, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as reply:  # noqa: S310 (loopback)
            return reply.status, reply.headers["Content-Type"], reply.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers["Content-Type"], exc.read().decode()


def families(text: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    """``{family: [(labels, value)]}`` as Prometheus reads the text (counters without _total)."""
    return {f.name: [(s.labels, s.value) for s in f.samples]
            for f in text_string_to_metric_families(text)}


@dataclass
class Served:
    server: MetricsServer
    redis: RedisServer
    url: str


@pytest.fixture
def served(redis_server: RedisServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
           ) -> Iterator[Served]:
    """/metrics over a private redis-server that wants a password (redis_server: the binary)."""
    own = RedisServer().start()
    with own.client() as admin:
        admin.config_set("requirepass", PASSWORD)
    url = f"unix://:{PASSWORD}@{own.socket}"
    monkeypatch.setenv("REDIS_URL", url)
    backend = connect(Settings.from_env().with_(data_dir=tmp_path), prefer="url")
    started, thread = serve_in_thread(MetricsCollector(backend.client, KeySchema("p:")))
    yield Served(started, own, url)
    started.shutdown()
    started.server_close()
    thread.join(timeout=5)
    backend.client.close()
    own.stop()


def test_a_stopped_redis_is_redis_up_0_with_http_200(
        served: Served, caplog: pytest.LogCaptureFixture) -> None:
    status, _, body = get(served.server.url + "/metrics")
    assert status == 200 and families(body)["redis_up"] == [({}, 1.0)]

    served.redis.stop()  # Redis goes away; the endpoint must not
    caplog.set_level(logging.WARNING, logger="helpdesk_kit.metrics.server")
    status, content_type, body = get(served.server.url + "/metrics")
    assert status == 200 and content_type == "text/plain; version=0.0.4; charset=utf-8"
    assert re.search(r"^redis_up 0(\.0)?$", body, re.M), body
    assert families(body) == {"redis_up": [({}, 0.0)]}  # nothing else is known
    assert "# unavailable: every metric: Redis did not answer" in body

    status, content_type, api = get(served.server.url + "/api/metrics")
    assert status == 503 and content_type == "application/json"
    assert json.loads(api)["error"] == "Redis is unavailable"
    for text in (body, api, caplog.text):
        assert PASSWORD not in text


class _Quoting(MetricsCollector):
    """A collector whose error quotes the URL it was given, password and all."""

    def __init__(self, client: redis.Redis, url: str, error: type[Exception]) -> None:
        super().__init__(client, KeySchema("p:"))
        self.url, self.error = url, error

    def snapshot(self) -> Snapshot:
        raise self.error(f"cannot reach {self.url} (password {PASSWORD})")


@pytest.mark.parametrize(("error", "path", "status"), [
    (RedisBackendError, "/metrics", 200), (RedisBackendError, "/api/metrics", 503),
    (RuntimeError, "/metrics", 500)])
def test_error_texts_never_carry_the_password(
        served: Served, caplog: pytest.LogCaptureFixture, error: type[Exception], path: str,
        status: int) -> None:
    served.server.collector = _Quoting(served.server.collector.client, served.url, error)
    caplog.set_level(logging.INFO, logger="helpdesk_kit.metrics.server")
    got, _, body = get(served.server.url + path)
    assert got == status
    assert "cannot reach unix://:***@" in body
    assert PASSWORD not in body and PASSWORD not in caplog.text
    assert "cannot reach unix://:***@" in caplog.text


def test_redacted_hides_urls_and_the_clients_password() -> None:
    client = redis.Redis.from_url(f"redis://user:{PASSWORD}@localhost:1/0")
    text = redacted(f"redis://user:{PASSWORD}@localhost:1/0 said {PASSWORD!r}", client)
    assert text == "redis://user:***@localhost:1/0 said '***'"
    assert redacted("no secret here", redis.Redis()) == "no secret here"


def test_counter_names_get_one_total(backend_snapshot: Snapshot) -> None:
    text = to_prometheus(backend_snapshot)
    assert "_total_total" not in text
    types = dict(re.findall(r"^# TYPE (\S+) (\S+)$", text, re.M))
    for name, kind in types.items():
        assert name.endswith("_total") == (kind == "counter"), name
    assert types["helpdesk_queue_tasks_done_total"] == "counter"


@pytest.fixture
def backend_snapshot(redis_client: redis.Redis, keys: KeySchema) -> Snapshot:
    return snapshot(redis_client, keys)


def _snap(*metrics: Metric) -> Snapshot:
    return Snapshot({m.name: m for m in metrics}, datetime.now(UTC), 0.0)


def test_values_prometheus_cannot_hold_are_left_out() -> None:
    snap = _snap(C.MEMORY_USED_BYTES.measure(float("nan"), "test"),
                 C.MEMORY_MAX_BYTES.measure(float("inf"), "test"),
                 C.REDIS_UPTIME_S.measure(True, "test"),
                 C.REDIS_KEYS.measure(7, "test"),
                 C.QUEUE_PENDING.measure(None, "test", "a reason\nover two lines"))
    found = families(to_prometheus(snap, db=3))
    assert found == {"redis_up": [({}, 1.0)], "redis_db_keys": [({"db": "db3"}, 7.0)]}
    assert "# unavailable: helpdesk_queue_pending_tasks: a reason over two lines\n" in \
        to_prometheus(snap)


def test_cache_families_are_per_entity_sorted() -> None:
    entity = {"entity": "user"}
    snap = _snap(C.CACHE_ENTITY_HITS.measure(3, "test", labels=entity),
                 C.CACHE_ENTITY_HITS.measure(1, "test", labels={"entity": "ticket"}),
                 C.CACHE_HITS.measure(4, "test"))
    assert families(to_prometheus(snap))["helpdesk_cache_hits"] == [
        ({"entity": "ticket"}, 1.0), ({"entity": "user"}, 3.0)]


def test_the_collector_works_with_any_registry() -> None:
    from prometheus_client import CollectorRegistry, generate_latest

    registry = CollectorRegistry()
    registry.register(SnapshotCollector(_snap(C.REDIS_KEYS.measure(2, "test"))))
    assert b'redis_db_keys{db="db0"} 2.0' in generate_latest(registry)
    assert families(redis_down("line one\nline two")) == {"redis_up": [({}, 0.0)]}
    assert "# unavailable: every metric: line one line two\n" in redis_down("line one\nline two")
