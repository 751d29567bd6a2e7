"""A snapshot as Prometheus text (exposition format 0.0.4), for ``GET /metrics``.

prometheus_client renders it: :class:`SnapshotCollector` is a custom collector that yields one
gauge or counter family per exported metric of the catalogue, and
:func:`~prometheus_client.generate_latest` writes them from a private registry (never the
process-wide ``REGISTRY``, which would add this Python process's own numbers).

Where a number is one that redis_exporter (oliver006/redis_exporter) also exports, it has the
exporter's name (``redis_memory_used_bytes``, ``redis_db_keys{db="db0"}``,
``redis_evicted_keys_total``...), so a Grafana dashboard made for the exporter reads it. The
kit's own numbers are ``helpdesk_*``. An unavailable metric is left out (Prometheus reads a
missing series as "unknown", never as 0) and listed in a ``# unavailable:`` comment line, which
the format allows and scrapers ignore. ``redis_up`` is 1 when Redis answered; when it did not,
:func:`redis_down` still gives a valid scrape with ``redis_up 0``, as the exporter does.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from . import catalogue
from .catalogue import MetricSpec, PrometheusSpec, PrometheusType
from .snapshot import Snapshot

__all__ = ["CONTENT_TYPE", "SnapshotCollector", "redis_down", "to_prometheus"]

#: What generate_latest writes (redis_exporter serves the same). Not prometheus_client's
#: CONTENT_TYPE_LATEST: recent versions point that at text format 1.0.0, which this is not.
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

#: The families of per-entity cache counters: they exist only when a Cache was given.
_CACHE_FAMILIES = "helpdesk_cache_*"

_Family = CounterMetricFamily | GaugeMetricFamily


def _number(value: object) -> float | None:
    """A sample value, or None for what Prometheus cannot hold (text, bool, nan, inf)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _family(exported: PrometheusSpec, labels: list[str]) -> _Family:
    if exported.type is PrometheusType.COUNTER:  # prometheus_client appends the _total
        return CounterMetricFamily(exported.family, exported.help, labels=labels)
    return GaugeMetricFamily(exported.family, exported.help, labels=labels)


class SnapshotCollector:
    """A prometheus_client collector over one snapshot (None: Redis did not answer).

    ``db`` is the database number the snapshot's client uses: redis_exporter labels the
    per-database families with it (``db="db0"``).
    """

    def __init__(self, snap: Snapshot | None, db: int = 0) -> None:
        self.snap = snap
        self.db = db

    def collect(self) -> Iterator[Metric]:
        up = catalogue.REDIS_UP
        yield GaugeMetricFamily(up.family, up.help, value=0 if self.snap is None else 1)
        if self.snap is None:
            return
        for spec in catalogue.CATALOGUE:
            if spec.prometheus is not None:
                family = self._family(self.snap, spec, spec.prometheus)
                if family.samples:  # a family without samples says nothing: leave it out
                    yield family

    def _family(self, snap: Snapshot, spec: MetricSpec, exported: PrometheusSpec) -> _Family:
        """Every measurement of ``spec`` (one, or one per entity), with its labels."""
        extra = {"db": f"db{self.db}"} if exported.per_db else {}
        found = [m for m in snap.metrics.values() if spec.matches(m.name, m.labels)]
        names = [*sorted(found[0].labels), *extra] if found else []
        family = _family(exported, names)
        for metric in sorted(found, key=lambda m: sorted(m.labels.items())):
            value = _number(metric.value)
            if value is not None:
                labels = {**metric.labels, **extra}
                family.add_metric([labels[name] for name in names], value)
        return family

    def unavailable(self) -> list[str]:
        """``name: reason`` of every exported metric the backend could not give."""
        if self.snap is None:
            return []
        result = []
        for spec in catalogue.CATALOGUE:
            metric = self.snap.metrics.get(spec.name)
            if spec.prometheus is not None and metric is not None and not metric.available:
                result.append(f"{spec.prometheus.name}: {metric.reason}")
        hits = self.snap.metrics.get(catalogue.CACHE_HITS.name)
        if hits is not None and not hits.available:  # no Cache: no per-entity families
            result.append(f"{_CACHE_FAMILIES}: {hits.reason}")
        return result


def _render(collector: SnapshotCollector, notes: list[str]) -> str:
    registry = CollectorRegistry()
    registry.register(collector)
    text = generate_latest(registry).decode("utf-8")
    # " ".join(split()): a reason with a line break would end the comment and break the text
    return text + "".join(f"# unavailable: {' '.join(note.split())}\n" for note in notes)


def to_prometheus(snap: Snapshot, db: int = 0) -> str:
    """Prometheus text for ``snap``: one ``# HELP``, one ``# TYPE`` and its samples per name."""
    collector = SnapshotCollector(snap, db)
    return _render(collector, collector.unavailable())


def redis_down(reason: str) -> str:
    """The scrape when Redis did not answer: ``redis_up 0`` and why (``reason``, redacted)."""
    return _render(SnapshotCollector(None), [f"every metric: {reason}"])
