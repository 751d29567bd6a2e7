"""Everything the kit does, on a real 6-node Redis Cluster (3 primaries, 3 replicas).

One cluster serves the whole session (``cluster_lab``, tests/scaleout_servers.py); each test
works under its own key prefix. The kit is reached the way a learner reaches it: the lab's
environment (``REDIS_CLUSTER_URL``, with a password) through ``Settings.from_env`` and
``connect``, so the key schema must switch to hash tags by itself.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from conftest import until
from scaleout_servers import PASSWORD, lab_settings, open_backend

from helpdesk_kit.app import HelpdeskApp, helpdesk_queue
from helpdesk_kit.backends import Backend, ClusterLab, connect, topology
from helpdesk_kit.backends.cluster import (
    SLOTS,
    ClusterUnavailableError,
    hash_slot,
    is_cluster,
    node_clients,
)
from helpdesk_kit.backends.replication import replicas_to_wait_for, write_and_wait
from helpdesk_kit.cache import Cache
from helpdesk_kit.config import Settings
from helpdesk_kit.db.sample import load_sample
from helpdesk_kit.doctor import report
from helpdesk_kit.errors import RedisBackendError
from helpdesk_kit.keys import KeySchema
from helpdesk_kit.queue import Worker
from helpdesk_kit.vocab import BackendKind, Entity


@pytest.fixture
def cluster_settings(cluster_lab: ClusterLab, tmp_path: Path, key_prefix: str) -> Settings:
    return lab_settings(cluster_lab.env(), tmp_path / "data", key_prefix)


@pytest.fixture
def cluster(cluster_settings: Settings) -> Iterator[Backend]:
    yield from open_backend(cluster_settings)


@pytest.fixture
def app(cluster_settings: Settings, cluster: Backend) -> Iterator[HelpdeskApp]:
    """The app wired by ``from_settings`` on the cluster, over a small sample."""
    with HelpdeskApp.from_settings(cluster_settings) as result:
        load_sample(result.store, 20, 60, seed=42, progress=False)
        yield result


def _nodes_holding(client: redis.RedisCluster, pattern: str) -> dict[str, int]:
    """Keys matching ``pattern`` on each primary, counted on that node itself."""
    return {address: sum(1 for _ in node.scan_iter(match=pattern, count=500))
            for address, node in node_clients(client)}


# --- connecting ----------------------------------------------------------------------------
def test_auto_picks_the_cluster_before_a_redis_url(cluster_lab: ClusterLab,
                                                    tmp_path: Path) -> None:
    settings = Settings.from_env({"REDIS_CLUSTER_URL": cluster_lab.url(),
                                  "REDIS_URL": "redis://127.0.0.1:1/0",
                                  "HELPDESK_DATA_DIR": str(tmp_path)})
    backend = connect(settings)
    try:
        assert backend.kind == BackendKind.CLUSTER and is_cluster(backend.client)
        assert backend.capabilities.lua and backend.capabilities.info
        assert PASSWORD not in backend.description and "***" in backend.description
        assert "3 primaries" in backend.description
    finally:
        backend.client.close()


def test_a_wrong_password_is_named_and_never_shown(cluster_lab: ClusterLab) -> None:
    wrong = cluster_lab.url().replace(PASSWORD, "not-the-password")
    with pytest.raises(RedisBackendError) as caught:
        connect(Settings(redis_cluster_url=wrong))
    message = str(caught.value)
    assert "REDIS_CLUSTER_URL" in message and "password" in message
    assert "not-the-password" not in message and PASSWORD not in message


def test_cluster_backend_without_a_url_says_what_is_missing() -> None:
    with pytest.raises(RedisBackendError, match="REDIS_CLUSTER_URL"):
        connect(Settings(redis_backend="cluster"))


def test_the_key_schema_switches_to_hash_tags_by_itself(app: HelpdeskApp) -> None:
    assert app.keys.cluster and app.cache is not None and app.queue is not None
    assert app.cache.keys == app.queue.keys == app.keys
    assert KeySchema.for_backend(BackendKind.CLUSTER, "p:").ticket(7) == "p:{ticket:7}"
    for kind in (BackendKind.SENTINEL, BackendKind.URL, BackendKind.SERVER, BackendKind.FAKE):
        assert KeySchema.for_backend(kind).ticket(7) == "ticket:7"


def test_each_group_of_keys_one_command_touches_shares_a_slot() -> None:
    keys = KeySchema(prefix="x:", cluster=True)
    assert hash_slot(keys.ticket(7)) == hash_slot(keys.generation(Entity.TICKET, 7)) \
        == hash_slot(keys.lock(Entity.TICKET, 7))
    page = keys.ticket_list("open", None, None, 100, 0)
    assert hash_slot(page) == hash_slot(keys.generation(Entity.TICKETS))
    queue_keys = [keys.tasks_pending, keys.tasks_processing("w1"), keys.tasks_delayed,
                  keys.tasks_dead, keys.tasks_stats, keys.tasks_workers]
    assert len({hash_slot(k) for k in queue_keys}) == 1
    # without tags, a ticket and its counter land in different slots
    plain = KeySchema()
    assert hash_slot(plain.ticket(7)) != hash_slot(plain.generation(Entity.TICKET, 7))


def test_hash_slot_agrees_with_the_server(cluster: Backend) -> None:
    for key in ("ticket:7", "{ticket:7}", "gen:{ticket:7}", "{tasks}:pending", "a{}b", "ñ{x}"):
        assert hash_slot(key) == cluster.client.cluster_keyslot(key)


def test_doctor_shows_every_node_and_its_slots(cluster_settings: Settings) -> None:
    result = report(cluster_settings)
    text = str(result)
    assert result.redis_kind == BackendKind.CLUSTER and PASSWORD not in text
    primaries = [line for line in result.topology if line.startswith("primary")]
    replicas = [line for line in result.topology if "replica" in line]
    assert len(primaries) == 3 and len(replicas) == 3
    assert "slots 0-" in text and f"of {SLOTS:,}" in text


def test_topology_covers_all_slots_once(cluster: Backend) -> None:
    view = topology(cluster.client)
    assert view is not None and len(view.primaries) == 3
    assert sum(p.slot_count for p in view.primaries) == SLOTS
    for primary in view.primaries:
        assert [r.follows for r in view.replicas_of(primary)] == [primary.address]


# --- the cache -----------------------------------------------------------------------------
def test_cache_aside_miss_then_hit(app: HelpdeskApp) -> None:
    assert app.cache is not None
    first = app.get_ticket(5)["ticket"]
    assert app.get_ticket(5)["ticket"] == first
    stats = app.cache.stats()[Entity.TICKET]
    assert (stats.misses, stats.hits, stats.errors) == (1, 1, 0)


def test_the_guarded_set_refuses_a_row_invalidated_while_loading(app: HelpdeskApp) -> None:
    cache = app.cache
    assert cache is not None

    def slow_loader():  # type: ignore[no-untyped-def]
        cache.invalidate(Entity.TICKET, 9)  # a writer committed meanwhile
        return app.store.get_ticket(9)

    cache.get_ticket(9, slow_loader)
    assert cache.get_cached_ticket(9) is None, "the stale set must be refused"
    cache.get_ticket(9, lambda: app.store.get_ticket(9))
    assert cache.get_cached_ticket(9) == app.store.get_ticket(9)


def test_negative_caching_and_forget_missing(app: HelpdeskApp) -> None:
    cache = app.cache
    assert cache is not None
    loads = []
    for _ in range(3):
        cache.get_user(9999, lambda: loads.append(1))  # type: ignore[func-returns-value]
    assert len(loads) == 1 and cache.stats()[Entity.USER].negative_hits == 2
    cache.forget_missing(Entity.USER, 9999)
    cache.get_user(9999, lambda: loads.append(1))  # type: ignore[func-returns-value]
    assert len(loads) == 2


def test_the_stampede_lock_lets_one_reader_load(app: HelpdeskApp) -> None:
    cache = app.cache
    assert cache is not None
    cache.lock_timeout = 60.0  # waiters never give up here: the count depends on the lock alone
    loads, start = [], threading.Barrier(8)

    def loader():  # type: ignore[no-untyped-def]
        loads.append(1)
        time.sleep(0.2)
        return app.store.get_ticket(11)

    def reader() -> None:
        start.wait()
        cache.get_ticket(11, loader)

    threads = [threading.Thread(target=reader) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(loads) == 1


def test_sessions_slide_and_log_out(cluster: Backend, cluster_settings: Settings) -> None:
    cache = Cache(cluster.client, KeySchema.for_backend(cluster.kind, cluster_settings.key_prefix))
    cache.cache_session("s1", {"user": 3}, ttl=5)
    assert cache.get_cached_session("s1", ttl=100) == {"user": 3}
    assert cluster.client.ttl(cache.keys.session("s1")) > 5
    cache.invalidate_session("s1")
    assert cache.get_cached_session("s1") is None


def test_ticket_lists_go_stale_with_one_counter(app: HelpdeskApp) -> None:
    queries = []
    real = app.store.list_tickets

    def counted(**filters):  # type: ignore[no-untyped-def]
        queries.append(filters)
        return real(**filters)

    app.store.list_tickets = counted  # type: ignore[method-assign]
    first = app.list_tickets(status="open")["tickets"]
    assert app.list_tickets(status="open")["tickets"] == first and len(queries) == 1
    app.update_ticket(first[0].id, title="renamed on a cluster")
    again = app.list_tickets(status="open")["tickets"]
    assert len(queries) == 2 and again[0].title == "renamed on a cluster"


def test_invalidating_many_tickets_spans_slots_and_nodes(app: HelpdeskApp) -> None:
    cache = app.cache
    assert cache is not None
    ids = list(range(1, 31))
    for ident in ids:
        cache.get_ticket(ident, lambda i=ident: app.store.get_ticket(i))
    assert len({cache.client.get_node_from_key(cache.keys.ticket(i)).name for i in ids}) == 3
    cache.invalidate_tickets(ids)
    assert all(cache.get_cached_ticket(i) is None for i in ids)


def test_pattern_invalidation_scans_every_primary(app: HelpdeskApp) -> None:
    cache = app.cache
    assert cache is not None
    cache.warm_tickets(app.store, limit=None, progress=False)
    before = _nodes_holding(cache.client, cache.keys.pattern(Entity.TICKET))
    assert len(before) == 3 and all(n > 0 for n in before.values()), before
    assert cache.invalidate_pattern(Entity.TICKET) == sum(before.values()) == 60
    assert sum(_nodes_holding(cache.client, cache.keys.pattern(Entity.TICKET)).values()) == 0


def test_warming_costs_one_round_trip_per_node_per_page(app: HelpdeskApp,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    cache = app.cache
    assert cache is not None
    sent: list[int] = []
    real = redis.client.Pipeline.execute

    def counted(self, raise_on_error=True):  # type: ignore[no-untyped-def]
        sent.append(len(self.command_stack))
        return real(self, raise_on_error)

    monkeypatch.setattr(redis.client.Pipeline, "execute", counted)
    stored = cache.warm_tickets(app.store, limit=None, batch_size=30, progress=False)
    monkeypatch.undo()
    assert stored == 60
    # 2 pages of 30 keys: at most one node pipeline per primary per page, never one per key
    assert len(sent) <= 2 * 3 and sum(sent) == 60, sent
    assert all(cache.get_cached_ticket(i) is not None for i in (1, 30, 60))


def test_warming_skips_a_row_invalidated_meanwhile(app: HelpdeskApp) -> None:
    cache = app.cache
    assert cache is not None
    real = app.store.list_users
    calls = []

    def racing(**kwargs):  # type: ignore[no-untyped-def]
        calls.append(1)
        if len(calls) == 2:  # between noting the counters and reading the rows
            cache.invalidate(Entity.USER, 3)
        return real(**kwargs)

    app.store.list_users = racing  # type: ignore[method-assign]
    stored = cache.warm_users(app.store, active_only=False, progress=False)
    assert stored == 19 and cache.get_cached_user(3) is None


def test_flush_all_is_refused_where_it_would_wipe_other_prefixes(app: HelpdeskApp) -> None:
    """On the shared cluster the counter-example is not run; ``test_flush_all_flushes_every_
    primary`` runs it on a cluster of its own (tests/test_cluster_tls.py)."""
    assert app.cache is not None and app.keys.cluster


# --- the queue -----------------------------------------------------------------------------
def test_seed_queue_round_trip(app: HelpdeskApp) -> None:
    assert app.queue is not None
    task = app.queue.enqueue("send_notifications", {"ticketId": 3, "usuarioId": 1, "tipo": "x"})
    got = app.queue.dequeue()
    assert got is not None and got.id == task.id and app.queue.dequeue() is None


def test_reliable_queue_reserve_fail_retry_ack(app: HelpdeskApp) -> None:
    queue = app.queue
    assert queue is not None
    queue.enqueue("send_notifications", {"ticketId": 3, "usuarioId": 1, "tipo": "x"})
    task = queue.reserve("w1")
    assert task is not None and queue.inspect().processing == 1
    queue.fail("w1", task, "provider down")
    assert queue.inspect().delayed == 1
    assert queue.promote_due(now=int(time.time() * 1000) + 10 ** 7) == 1
    again = queue.reserve("w1", timeout=0.1)  # BLMOVE between two {tasks} lists
    assert again is not None and again.attempts == 1
    queue.ack("w1", again)
    stats = queue.inspect()
    assert (stats.pending, stats.processing, stats.delayed, stats.done) == (0, 0, 0, 1)


def test_dead_letters_and_orphans_on_a_cluster(app: HelpdeskApp) -> None:
    queue = app.queue
    assert queue is not None
    queue.client.rpush(queue.keys.tasks_pending, "{not json")
    assert queue.reserve("w1") is None and len(queue.dead_letters()) == 1
    queue.enqueue("send_notifications", {"ticketId": 3, "usuarioId": 1, "tipo": "x"})
    queue.register_worker("dead-worker", 0.05)
    assert queue.reserve("dead-worker") is not None
    time.sleep(0.1)  # its heartbeat expires: it died holding the task
    assert queue.requeue_orphans() == 1 and queue.inspect().pending == 1
    assert queue.retry_dead() == 0 and queue.purge_dead() == 1


def test_a_worker_drains_the_queue_on_a_cluster(app: HelpdeskApp) -> None:
    assert app.queue is not None
    for n in range(5):
        app.create_ticket(1, f"cluster ticket {n}")
    result = Worker(app.queue, app.task_context(), batch=2).process_all()
    assert result == {"processed": 5} and app.store.counts()["notifications"] >= 5


def test_durable_enqueue_waits_for_the_replica(app: HelpdeskApp, cluster: Backend) -> None:
    # A lab that just started may not list its replicas yet (CLUSTER SLOTS learns them by
    # gossip): wait for that state, reading the slot map again, before the durable push -
    # its WAIT would otherwise have no replica to wait for.
    client = cluster.client

    def replica_listed() -> bool:
        client.nodes_manager.initialize()
        return client.get_node_from_key(app.keys.tasks_pending, replica=True) is not None

    until(replica_listed, what="the slot map lists the replica of {tasks}")
    queue = helpdesk_queue(cluster.client, app.keys)
    queue.durable = True
    task = queue.enqueue("send_notifications", {"ticketId": 3, "usuarioId": 1, "tipo": "x"})
    node = cluster.client.get_node_from_key(app.keys.tasks_pending, replica=True)
    replica = cluster.client.get_redis_connection(node)
    replica.execute_command("READONLY")
    assert task.id in replica.lindex(app.keys.tasks_pending, 0), "WAIT returned: it is there"
    assert replicas_to_wait_for(cluster.client) == 1


def test_write_and_wait_stays_on_the_node_of_its_key(cluster: Backend, key_prefix: str) -> None:
    key = f"{key_prefix}{{w}}:list"
    replies, confirmed = write_and_wait(cluster.client, key,
                                        lambda p: p.rpush(key, "a").rpush(key, "b"), 1000)
    assert replies == [1, 2] and confirmed and cluster.client.llen(key) == 2


def test_crossslot_is_what_the_hash_tags_prevent(cluster: Backend, key_prefix: str) -> None:
    plain = KeySchema(prefix=key_prefix)
    assert hash_slot(plain.tasks_pending) != hash_slot(plain.tasks_processing("w1"))
    cluster.client.rpush(plain.tasks_pending, "x")
    with pytest.raises(redis.ResponseError, match="CROSSSLOT"):
        cluster.client.lmove(plain.tasks_pending, plain.tasks_processing("w1"))
    tagged = KeySchema(prefix=key_prefix, cluster=True)
    cluster.client.rpush(tagged.tasks_pending, "x")
    assert cluster.client.lmove(tagged.tasks_pending, tagged.tasks_processing("w1")) == "x"


def test_a_slot_without_a_node_is_a_redis_error(cluster: Backend) -> None:
    """Mid-failover redis-py raises errors that are not RedisErrors; the kit's client turns
    them into one, so fail-open code (which catches RedisError) keeps working."""
    client = cluster.client
    slot = hash_slot("{probe}")
    saved = client.nodes_manager.slots_cache.pop(slot)
    try:
        with pytest.raises(ClusterUnavailableError) as caught:
            client.get("{probe}")
        assert isinstance(caught.value, redis.RedisError)
    finally:
        client.nodes_manager.slots_cache[slot] = saved


def test_a_second_client_finds_the_kits_library_on_every_primary(cluster: Backend) -> None:
    """FUNCTION LIST on a cluster answers per node: the kit calls its library only when
    every primary holds its code (FCALL runs on the node of its key)."""
    from helpdesk_kit.cache.functions import KitScripts

    assert KitScripts(cluster.client).ensure_loaded() == "functions"  # loaded (or there)
    assert KitScripts(cluster.client).ensure_loaded() == "functions"  # found, on all three


def test_cluster_url_names_several_nodes_sharing_one_secret() -> None:
    """REDIS_CLUSTER_URL as REDIS_SENTINELS: a list; the first URL's password and TLS for all."""
    from helpdesk_kit.backends.cluster import startup_nodes

    nodes = startup_nodes("rediss://:s3cret@10.0.0.1:7000?ssl_ca_certs=/ca.pem, 10.0.0.2:7001,"
                          "[::1]:7002")
    assert nodes.addresses == (("10.0.0.1", 7000), ("10.0.0.2", 7001), ("::1", 7002))
    assert nodes.options == {"ssl": True, "password": "s3cret", "ssl_ca_certs": "/ca.pem"}
    assert nodes.tls and "s3cret" not in repr(nodes) + nodes.where()
    assert startup_nodes("redis://10.0.0.1").addresses == (("10.0.0.1", 6379),)


@pytest.mark.parametrize("urls", ["10.0.0.1", "redis://:pw@10.0.0.1:7000,nohost",
                                  "redis://:pw@/x"])
def test_an_unusable_cluster_node_is_a_config_error_without_the_secret(urls: str) -> None:
    from helpdesk_kit.backends.cluster import startup_nodes
    from helpdesk_kit.errors import ConfigError

    with pytest.raises(ConfigError, match="REDIS_CLUSTER_URL") as caught:
        startup_nodes(urls)
    assert ":pw@" not in str(caught.value)
