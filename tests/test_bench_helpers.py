"""The benchmark's own helpers, cheaply: the completion counter, the guarantee labels, the
catalogue of queues, and the tables. No benchmark runs here and nothing is timed: speed is
measured by ``make bench`` as ratios in one run, never asserted in a test.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.bench_peers import NOT_AT_MOST_ONCE, _latency, _throughput
from bench.peers import QUEUES, RAW, Guarantee
from bench.peers.harness import Batches
from bench.report import Area, Row, print_area
from bench.tables import markdown

PEERS = Path(__file__).resolve().parent.parent / "bench" / "peers"
LOCKS = PEERS.parent / "locks"


def test_the_completion_counter_says_done_once_per_batch_on_its_last_job() -> None:
    batches = Batches()
    answers = [batches.count("a", 3) for _ in range(3)]
    assert answers == [False, False, True]
    assert batches.count("b", 1) is True  # a single job is its own batch
    assert batches.seen == {}  # a finished batch is forgotten


def test_interleaved_batches_are_counted_apart() -> None:
    batches = Batches()
    order = ["a", "b", "a", "b", "b"]
    done = [name for name in order if batches.count(name, 2 if name == "a" else 3)]
    assert done == ["a", "b"]


def test_every_guarantee_names_its_delivery_and_when_it_acks() -> None:
    for guarantee in Guarantee:
        assert guarantee.delivery in ("at most once", "at least once")
        assert guarantee.label.startswith(f"{guarantee.delivery} (")
    assert Guarantee.ACKED_AFTER.label == "at least once (acked after the handler)"


def test_every_queue_states_a_guarantee_and_has_its_script_and_venv() -> None:
    names = [peer.name for peer in QUEUES]
    assert len(set(names)) == len(names) and QUEUES[0] is RAW
    for peer in QUEUES:
        assert isinstance(peer.guarantee, Guarantee)
        assert (PEERS / peer.script).is_file(), peer.script
        if peer.venv:
            assert (LOCKS / f"{peer.venv}-lock.txt").is_file(), peer.venv
    by_name = {peer.name: peer.guarantee.delivery for peer in QUEUES}
    assert by_name["kit, reliable mode"] == by_name["kit, streams mode"] == "at least once"
    assert by_name["kit, pop mode"] == by_name[RAW.name] == "at most once"


@pytest.fixture
def rates() -> dict[str, list[float]]:
    return {RAW.name: [1000.0, 2000.0, 1000.0], "kit, reliable mode": [800.0, 1000.0, 900.0]}


def test_the_throughput_table_pairs_rounds_and_says_why_a_queue_did_not_run(
        rates: dict[str, list[float]]) -> None:
    not_run = {"SAQ 0.26, concurrency=1": ".venv-bench/saq is missing"}
    area = _throughput(rates, {RAW.name: 100, "kit, reliable mode": 100}, not_run, 3)
    reliable = area.row("kit, reliable mode")
    assert reliable.ratio == pytest.approx(0.8)  # rounds 0.8, 0.5, 0.9: the median
    assert reliable.guarantee == Guarantee.ACKED_AFTER.label
    saq = area.row("SAQ 0.26, concurrency=1")
    assert saq.ratio is None and saq.note == ".venv-bench/saq is missing" and saq.guarantee
    assert len(area.rows) == len(QUEUES) and NOT_AT_MOST_ONCE in area.notes


def test_the_latency_table_shows_p50_and_p99_and_how_an_idle_worker_waits() -> None:
    latencies = {RAW.name: [0.001] * 99 + [0.01],
                 "arq 0.28, poll_delay=0.01 s": [0.004] * 99 + [0.02]}
    area = _latency(latencies, {})
    arq = area.row("arq 0.28, poll_delay=0.01 s")
    assert arq.ratio == pytest.approx(0.25)  # on p50: 1 ms against 4 ms
    assert arq.shown.startswith("4.00 / ") and "polls" in arq.note
    assert "blocks" in area.row(RAW.name).note


def test_a_queue_table_prints_and_renders_its_delivery_column(
        capsys: pytest.CaptureFixture[str]) -> None:
    area = Area("Queues: a test", RAW.name, [
        Row(RAW.name, 1.0, "10 jobs/s", guarantee=Guarantee.POPPED.label),
        Row("gone", None, note="not installed", guarantee=Guarantee.ACKED_AFTER.label)])
    print_area(area)
    printed = capsys.readouterr().out
    assert "delivery" in printed and Guarantee.POPPED.label in printed
    assert "(not installed)" in printed
    record = {"quick": True, "time": "2026-12-05T10:00:00", "areas": [
        {"title": area.title, "baseline": area.baseline, "notes": [], "rows": [
            {"name": r.name, "ratio": r.ratio, "shown": r.shown, "target": r.target,
             "note": r.note, "guarantee": r.guarantee} for r in area.rows]}]}
    table = markdown(record)
    assert "| delivery |" in table and "| gone |  | not run |" in table
