"""Monitoring: the metrics snapshot (the design's ``/api/metrics``), Prometheus, tuning, a server.

``catalogue`` names every metric once; ``sources`` reads them from INFO, the key space, the
cache's counters and the queue; ``snapshot`` puts them together; ``prometheus``, ``tuning``
and ``server`` present them.
"""

from __future__ import annotations

from .snapshot import Metric, MetricsCollector, Snapshot, snapshot, snapshot_json

__all__ = ["Metric", "MetricsCollector", "Snapshot", "snapshot", "snapshot_json"]
