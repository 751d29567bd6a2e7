"""Every queue a user would pick, side by side: the raw floor, the kit's three modes, RQ,
Celery, Dramatiq, huey, taskiq-redis (both brokers), SAQ and arq (:mod:`bench.peers`).

Each queue runs as its users run it: its own worker process and its own producer process, on
one private redis-server, all started together and measured in the same run, each with the
same no-op job. Two tables:

- **throughput**: a burst of jobs (one enqueue call each) until the worker ran the last
  (jobs/s); every queue once per round, the order turning each round; a ratio is the median
  of each round's ratio to the same round's raw floor (:func:`bench.report.paired`). A
  burst is sized to take about the same time for every queue (a calibration burst first),
  so the slow queues do not take the whole run;
- **latency**: single jobs to an idle worker, from the enqueue call to the job's first line
  (p50 and p99): a blocking worker starts at once, a polling one adds its poll interval.

Every row states its delivery guarantee: a faster at-most-once queue is not a better queue.
A queue that cannot run here is a row that says why.
"""

from __future__ import annotations

import statistics
import tempfile
from collections.abc import Callable
from pathlib import Path

from bench import HOST, tcp_redis
from bench.peers import QUEUES, RAW, QueuePeer
from bench.peers.processes import PeerNotRunning, PeerProcesses
from bench.report import Area, Row, paired, print_area

#: (rounds, seconds a burst aims at, single jobs for the latency, the most jobs in a burst)
FULL, QUICK = (7, 0.4, 300, 20_000), (5, 0.08, 40, 5_000)
#: The longest random pause between two single jobs (the worker idles meanwhile).
GAP_MS = 20
CALIBRATION_JOBS = 50
NOT_AT_MOST_ONCE = ("An at-most-once queue does less per job than an at-least-once one: a "
                    "faster at-most-once queue is not a better queue.")


class Bench:
    """The queues' processes, and why those that could not run did not."""

    def __init__(self, url: str, logs: Path) -> None:
        self.running: dict[str, PeerProcesses] = {}
        self.not_run: dict[str, str] = {}
        for number, peer in enumerate(QUEUES):
            processes = PeerProcesses(peer, url, f"q{number}", logs)
            try:
                processes.start()
            except PeerNotRunning as exc:
                self.not_run[peer.name] = str(exc)
                continue
            self.running[peer.name] = processes

    def ready(self) -> None:
        for name, processes in list(self.running.items()):
            self._try(name, processes.ready)

    def _try(self, name: str, step: Callable[[], object]) -> object | None:
        """Run one step of a queue; if it cannot run, stop it and keep the reason."""
        try:
            return step()
        except PeerNotRunning as exc:
            self.not_run[name] = str(exc)
            processes = self.running.pop(name)
            processes.stop()
            processes.wait()
            return None

    def burst_sizes(self, seconds: float, most: int) -> dict[str, int]:
        """Jobs per burst for each queue: about ``seconds`` of its work (50 at least)."""
        sizes = {}
        for name, processes in list(self.running.items()):
            answer = self._try(name, lambda p=processes: p.ask(
                {"op": "burst", "jobs": CALIBRATION_JOBS}))
            if isinstance(answer, dict):
                rate = CALIBRATION_JOBS / answer["seconds"]
                sizes[name] = max(CALIBRATION_JOBS, min(most, round(rate * seconds)))
        return sizes

    def rounds(self, rounds: int, sizes: dict[str, int], probes: int
               ) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
        """Bursts (jobs/s) and single jobs (latencies, s), every queue once per round."""
        rates: dict[str, list[float]] = {name: [] for name in self.running}
        latencies: dict[str, list[float]] = {name: [] for name in self.running}
        per_round = max(1, probes // rounds)
        for round_ in range(rounds):
            order = list(self.running)
            turn = round_ % max(1, len(order))
            for name in order[turn:] + order[:turn]:
                processes, jobs = self.running[name], sizes[name]
                burst = self._try(name, lambda p=processes, j=jobs: p.ask(
                    {"op": "burst", "jobs": j}))
                single = None if burst is None else self._try(name, lambda p=processes: p.ask(
                    {"op": "latency", "jobs": per_round, "gap_ms": GAP_MS}))
                if isinstance(burst, dict) and isinstance(single, dict):
                    rates[name].append(jobs / burst["seconds"])
                    latencies[name] += [ns / 1e9 for ns in single["latencies_ns"]]
        return ({n: r for n, r in rates.items() if n in self.running},
                {n: v for n, v in latencies.items() if n in self.running})

    def stop(self) -> None:
        """Every queue's processes asked to end at once, then reaped."""
        for processes in self.running.values():
            processes.stop()
        for processes in self.running.values():
            processes.wait()


def _p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[98]


def _throughput(rates: dict[str, list[float]], sizes: dict[str, int], not_run: dict[str, str],
                rounds: int) -> Area:
    ratios = paired(rates, RAW.name) if RAW.name in rates else {}
    rows = []
    for peer in QUEUES:
        if peer.name in rates and peer.name in ratios:
            rows.append(Row(peer.name, ratios[peer.name],
                            f"{statistics.median(rates[peer.name]):,.0f} jobs/s",
                            guarantee=peer.guarantee.label))
        else:
            why = not_run.get(peer.name, f"the floor did not run: {not_run.get(RAW.name)}")
            rows.append(Row(peer.name, None, note=why, guarantee=peer.guarantee.label))
    smallest = min(sizes.values(), default=0)
    return Area(f"Queues side by side, throughput: each its own worker and producer process, "
                f"bursts of {smallest:,}-{max(sizes.values(), default=0):,} jobs, {rounds} "
                "paired rounds (same server)", RAW.name, rows, [NOT_AT_MOST_ONCE])


def _latency(latencies: dict[str, list[float]], not_run: dict[str, str]) -> Area:
    p50 = {name: statistics.median(values) for name, values in latencies.items() if values}
    rows = []
    for peer in QUEUES:
        if peer.name in p50 and RAW.name in p50:
            values = latencies[peer.name]
            rows.append(Row(peer.name, p50[RAW.name] / p50[peer.name],
                            f"{p50[peer.name] * 1e3:.2f} / {_p99(values) * 1e3:.2f} ms",
                            guarantee=peer.guarantee.label, note=_waits(peer)))
        else:
            rows.append(Row(peer.name, None, guarantee=peer.guarantee.label,
                            note=not_run.get(peer.name, "the floor did not run")))
    count = min((len(v) for v in latencies.values()), default=0)
    return Area(f"Enqueue to start, idle worker: p50 / p99 of {count} single jobs each, "
                f"a pause of up to {GAP_MS} ms before each (ratio on p50)", RAW.name, rows)


def _waits(peer: QueuePeer) -> str:
    return f"polls: {peer.polls}" if peer.polls else "blocks on Redis"


def run(quick: bool = False) -> list[Area]:
    rounds, seconds, probes, most = QUICK if quick else FULL
    with tcp_redis() as port, tempfile.TemporaryDirectory() as logs:
        bench = Bench(f"redis://{HOST}:{port}/0", Path(logs))
        try:
            bench.ready()
            sizes = bench.burst_sizes(seconds, most)
            rates, latencies = bench.rounds(rounds, sizes, probes)
        finally:
            bench.stop()
    return [_throughput(rates, sizes, bench.not_run, rounds), _latency(latencies, bench.not_run)]


if __name__ == "__main__":
    for area in run():
        print_area(area)
