"""The store's writes stay atomic when two writers hit the same ticket at once.

Once per driver, on a local file and on a real sqld: two threads (each with its own store, or
both sharing one) and two processes create, update (the version bump) and comment on one
ticket, and archive comments, at the same time. Every write must land exactly once: the final
version, the comment count and the archive are counted, never timed.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from helpdesk_kit.config import Settings
from helpdesk_kit.db import HelpdeskStore, open_store
from helpdesk_kit.db.sample import SAMPLE_NOW, load_sample
from helpdesk_kit.vocab import DbDriver

ROUNDS = 15
TICKET = 7


@pytest.fixture(params=["file", "sqld"])
def target(request: pytest.FixtureRequest, tmp_path: Path, db_driver: DbDriver) -> Settings:
    """Settings for a local file or for the session's sqld, with the given driver."""
    settings = Settings(data_dir=tmp_path / "data", db_driver=db_driver)
    if request.param == "sqld":
        settings = settings.with_(database_url=request.getfixturevalue("sqld_url"))
    store = open_store(settings)
    load_sample(store, 10, 30, seed=5, progress=False)
    store.db.close()
    return settings


def _stores(settings: Settings, shared: bool) -> Iterator[HelpdeskStore]:
    first = open_store(settings, apply_schema=False)
    yield first
    yield first if shared else open_store(settings, apply_schema=False)


def _in_two_threads(work: Callable[[HelpdeskStore, str], None], stores: list[HelpdeskStore]
                    ) -> None:
    """Run ``work`` in two threads at once (a barrier lines them up); re-raise their errors."""
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def run(store: HelpdeskStore, who: str) -> None:
        try:
            barrier.wait()
            work(store, who)
        except BaseException as exc:  # reported below, not lost in the thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(store, who))
               for store, who in zip(stores, ("a", "b"), strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []


def _write_one_ticket(store: HelpdeskStore, who: str) -> None:
    for i in range(ROUNDS):
        store.update_ticket(TICKET, title=f"{who} {i}", now=SAMPLE_NOW)
        store.add_interaction(TICKET, 2, f"{who} says {i}", now=SAMPLE_NOW)
        store.create_ticket(3, f"new from {who} {i}", now=SAMPLE_NOW)


@pytest.mark.parametrize("shared", [False, True], ids=["own-stores", "one-store"])
def test_two_threads_writing_one_ticket_lose_nothing(target: Settings, shared: bool) -> None:
    stores = list(_stores(target, shared))
    try:
        before = stores[0].get_ticket(TICKET)
        comments = len(stores[0].list_interactions(TICKET))
        tickets = stores[0].counts()["tickets"]
        assert before is not None
        _in_two_threads(_write_one_ticket, stores)
        after = stores[0].get_ticket(TICKET)
        assert after is not None
        # every update and every comment bumped the version exactly once
        assert after.version == before.version + 2 * 2 * ROUNDS
        assert len(stores[0].list_interactions(TICKET)) == comments + 2 * ROUNDS
        assert stores[0].counts()["tickets"] == tickets + 2 * ROUNDS
    finally:
        for store in stores:
            store.db.close()


def test_two_archivers_at_once_move_each_comment_once(target: Settings) -> None:
    stores = list(_stores(target, shared=False))
    cutoff = SAMPLE_NOW - timedelta(days=30)
    moved: dict[str, int] = {}

    def archive(store: HelpdeskStore, who: str) -> None:
        moved[who] = 0
        while batch := store.archive_interactions_batch(cutoff, 3, SAMPLE_NOW):
            moved[who] += batch

    try:
        before = stores[0].counts()
        old = int(stores[0].db.execute("SELECT COUNT(*) FROM interactions WHERE created_at < ?",
                                       (cutoff.isoformat(),)).rows[0][0])
        assert old > 6  # enough for both archivers to have work
        _in_two_threads(archive, stores)
        after = stores[0].counts()
        assert moved["a"] + moved["b"] == old
        assert after["interactions_archive"] == before["interactions_archive"] + old
        assert after["interactions"] == before["interactions"] - old
    finally:
        for store in stores:
            store.db.close()


_WRITER = textwrap.dedent("""
    import sys
    from helpdesk_kit.config import Settings
    from helpdesk_kit.db import open_store
    from helpdesk_kit.db.sample import SAMPLE_NOW
    store = open_store(Settings(data_dir=sys.argv[1], database_url=sys.argv[2] or None,
                                db_driver=sys.argv[3]), apply_schema=False)
    print("ready", flush=True)
    sys.stdin.readline()  # both processes start writing at the same moment
    for i in range(int(sys.argv[4])):
        store.update_ticket(int(sys.argv[5]), priority="high", now=SAMPLE_NOW)
        store.add_interaction(int(sys.argv[5]), 2, f"process says {i}", now=SAMPLE_NOW)
    store.db.close()
""")


def test_two_processes_writing_one_ticket_lose_nothing(target: Settings) -> None:
    """The app and a worker are separate processes: their writes must not lose each other's."""
    store = open_store(target, apply_schema=False)
    try:
        before = store.get_ticket(TICKET)
        assert before is not None
        args = [str(target.data_dir), target.database_url or "", str(target.db_driver),
                str(ROUNDS), str(TICKET)]
        writers = [subprocess.Popen([sys.executable, "-c", _WRITER, *args],
                                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
                   for _ in range(2)]
        for writer in writers:
            assert writer.stdout is not None and writer.stdout.readline().strip() == "ready"
        for writer in writers:
            assert writer.stdin is not None
            writer.stdin.write("go\n")
            writer.stdin.close()
        assert [writer.wait(timeout=60) for writer in writers] == [0, 0]
        after = store.get_ticket(TICKET)
        assert after is not None and after.version == before.version + 2 * 2 * ROUNDS
    finally:
        store.db.close()
