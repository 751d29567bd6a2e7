"""The design's "Tabla de Métricas y Tuning", evaluated: each row gets a verdict and an action.

Each row of the design's table names a metric, an optimum, a deficient level, what the metric
means and what to do. :func:`tuning_table` reads those metrics from a
:class:`~helpdesk_kit.metrics.Snapshot` and says, for each, ``optimal``, ``acceptable`` (between
the two levels), ``deficient`` or ``unavailable`` (the backend cannot tell; the reason is given).
The table renders as text (terminal), HTML (``_repr_html_``: Jupyter shows it coloured) and JSON.

The thresholds are a :class:`Thresholds` object (defaults: the design's), readable from
``HELPDESK_*`` environment variables with :meth:`Thresholds.from_env`. Each must be a finite,
non-negative number: ``nan`` compares false with everything, so a ``nan`` level would quietly
judge every value ``acceptable``, and ``inf`` would make a verdict impossible to reach.
Metric names come from :mod:`~helpdesk_kit.metrics.catalogue`.
"""

from __future__ import annotations

import html
import json
import math
import os
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, fields
from enum import StrEnum
from typing import Any

from ..errors import ConfigError
from . import catalogue
from .catalogue import MetricSpec
from .snapshot import Snapshot

__all__ = ["ENVIRONMENT", "Thresholds", "TuningRow", "TuningTable", "Verdict", "tuning_table"]


class Verdict(StrEnum):
    """How a metric compares with the design's thresholds."""

    OPTIMAL = "optimal"  # the design's "Óptimo" column holds
    ACCEPTABLE = "acceptable"  # between the optimum and the deficient level: watch it
    DEFICIENT = "deficient"  # the design's "Deficiente" column holds: act
    UNAVAILABLE = "unavailable"  # this backend cannot tell (the row says why)


#: Environment variable for each threshold (document these beside config.ENVIRONMENT).
ENVIRONMENT: dict[str, str] = {
    "HELPDESK_HIT_RATE_OPTIMAL": "cache hit rate above this (percent) is optimal (default 90)",
    "HELPDESK_HIT_RATE_DEFICIENT": "cache hit rate below this (percent) is deficient (default 50)",
    "HELPDESK_MEMORY_OPTIMAL": "memory used below this (percent of maxmemory) is optimal (80)",
    "HELPDESK_MEMORY_DEFICIENT": "memory used above this (percent) is deficient (default 95)",
    "HELPDESK_QUEUE_OPTIMAL": "pending tasks below this are optimal (default 100)",
    "HELPDESK_QUEUE_DEFICIENT": "pending tasks above this are deficient (default 1000)",
    "HELPDESK_TTL_OPTIMAL": "average TTL at or above this (seconds) is optimal (default 300)",
    "HELPDESK_TTL_DEFICIENT": "average TTL below this (seconds) is deficient (default 60)",
    "HELPDESK_EVICTIONS_OPTIMAL": "evictions per minute at or below this are optimal (0)",
    "HELPDESK_EVICTIONS_DEFICIENT": "evictions per minute above this are deficient (100)",
}


@dataclass(frozen=True)
class Thresholds:
    """The levels of the design's tuning table; every default is the design's.

    The design gives two optima for the hit rate: "Óptimo: > 80%" under *Métricas de Caché* and
    "> 90%" in the *Tabla de Métricas y Tuning*. The default is **90 %**, the tuning table's,
    because this table reproduces that table row by row: a learner comparing the two sees the
    same numbers. A hit rate between 80 % and 90 % therefore shows as ``acceptable``; set
    ``HELPDESK_HIT_RATE_OPTIMAL=80`` (or ``Thresholds(hit_rate_optimal=80)``) for the other.
    """

    hit_rate_optimal: float = 90.0  # percent; optimal when above
    hit_rate_deficient: float = 50.0  # percent; deficient when below
    memory_optimal: float = 80.0  # percent of maxmemory; optimal when below
    memory_deficient: float = 95.0  # percent; deficient when above
    queue_optimal: float = 100  # pending tasks; optimal when below
    queue_deficient: float = 1000  # deficient when above
    ttl_optimal: float = 300  # seconds; optimal at or above (the design: "300s")
    ttl_deficient: float = 60  # seconds; deficient when below
    evictions_optimal: float = 0  # per minute; optimal at or below (the design: "0")
    evictions_deficient: float = 100  # per minute; deficient when above

    def __post_init__(self) -> None:
        for f in fields(self):  # first: nan passes every comparison below by failing it
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ConfigError(f"threshold {f.name} must be a number, got {value!r}")
            if not math.isfinite(value):
                raise ConfigError(f"threshold {f.name} must be a finite number, got {value!r}")
        for low, high in (("hit_rate_deficient", "hit_rate_optimal"),
                          ("memory_optimal", "memory_deficient"),
                          ("queue_optimal", "queue_deficient"),
                          ("ttl_deficient", "ttl_optimal"),
                          ("evictions_optimal", "evictions_deficient")):
            if getattr(self, low) > getattr(self, high):
                raise ConfigError(f"threshold {low}={getattr(self, low)} must not be above "
                                  f"{high}={getattr(self, high)}")
        for f in fields(self):
            if getattr(self, f.name) < 0:
                raise ConfigError(f"threshold {f.name} must not be negative")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Thresholds:
        """Read ``HELPDESK_HIT_RATE_OPTIMAL`` etc. (see :data:`ENVIRONMENT`); unset = default."""
        e = os.environ if env is None else env
        values: dict[str, float] = {}
        for f in fields(cls):
            name = "HELPDESK_" + f.name.upper()
            raw = e.get(name, "").strip()
            if raw:
                try:
                    values[f.name] = float(raw)
                except ValueError:
                    raise ConfigError(f"{name} must be a number, got {raw!r}") from None
                if not math.isfinite(values[f.name]):  # float() reads "nan" and "inf"
                    raise ConfigError(f"{name} must be a finite number, got {raw!r}")
        return cls(**values)


@dataclass(frozen=True)
class TuningRow:
    """One row of the design's table, evaluated."""

    metric: str  # the design's name, e.g. "Cache Hit Rate"
    value: float | None
    shown: str  # the value as displayed ("87.5 %", "n/a")
    optimal: str  # the design's "Óptimo" column, with the configured level
    deficient: str
    verdict: Verdict
    meaning_es: str
    meaning_en: str
    action_es: str
    action_en: str
    source: str  # which snapshot metric the value came from
    reason: str | None = None  # why unavailable

    def as_dict(self) -> dict[str, Any]:
        result = asdict(self)
        result["verdict"] = self.verdict.value
        return result

    def __repr__(self) -> str:
        # One line a reader can take in, not the dataclass's dozen fields.
        why = f" ({self.reason})" if self.reason else ""
        return f"<{self.metric}: {self.shown}, {self.verdict.value}{why}>"


_COLOURS = {Verdict.OPTIMAL: "#c8e6c9", Verdict.ACCEPTABLE: "#fff3c4",
            Verdict.DEFICIENT: "#ffcdd2", Verdict.UNAVAILABLE: "#e0e0e0"}
_HEADERS = ("Metric", "Value", "Optimal", "Deficient", "Verdict", "Action")


@dataclass(frozen=True)
class TuningTable:
    """The evaluated rows; ``str()`` for a terminal, ``_repr_html_`` for Jupyter, ``to_json``."""

    rows: tuple[TuningRow, ...]
    thresholds: Thresholds

    def __iter__(self) -> Iterator[TuningRow]:
        return iter(self.rows)

    def row(self, metric: str) -> TuningRow:
        """The row for one of the design's metric names (``"Queue Length"``)."""
        for r in self.rows:
            if r.metric == metric:
                return r
        raise KeyError(metric)

    def to_dicts(self) -> list[dict[str, Any]]:
        return [r.as_dict() for r in self.rows]

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps({"rows": self.to_dicts(), "thresholds": asdict(self.thresholds)},
                          indent=indent, ensure_ascii=False)

    def __str__(self) -> str:
        cells = [_HEADERS] + [
            (r.metric, r.shown, r.optimal, r.deficient, r.verdict.value.upper(),
             (r.reason or "") if r.verdict is Verdict.UNAVAILABLE
             else f"{r.action_es} / {r.action_en}")
            for r in self.rows
        ]
        widths = [max(len(c[i]) for c in cells) for i in range(len(_HEADERS) - 1)]
        lines = []
        for n, c in enumerate(cells):
            lines.append("  ".join(f"{v:<{w}}" for v, w in zip(c, widths, strict=False))
                         + "  " + c[-1])
            if n == 0:
                lines.append("  ".join("-" * w for w in widths) + "  " + "-" * 6)
        return "\n".join(lines)

    def __repr__(self) -> str:
        # A notebook shows repr() as text: the table itself, not a dump of its dataclasses.
        return str(self)

    def _repr_html_(self) -> str:
        head = "".join(f"<th>{h}</th>" for h in (*_HEADERS[:5], "Meaning", "Action"))
        body = []
        for r in self.rows:
            why = f"<br><small>{html.escape(r.reason)}</small>" if r.reason else ""
            body.append(
                f'<tr style="background:{_COLOURS[r.verdict]}" data-verdict="{r.verdict.value}">'
                f"<td>{html.escape(r.metric)}</td><td>{html.escape(r.shown)}</td>"
                f"<td>{html.escape(r.optimal)}</td><td>{html.escape(r.deficient)}</td>"
                f"<td><b>{r.verdict.value}</b>{why}</td>"
                f"<td>{html.escape(r.meaning_es)}<br><i>{html.escape(r.meaning_en)}</i></td>"
                f"<td>{html.escape(r.action_es)}<br><i>{html.escape(r.action_en)}</i></td></tr>"
            )
        return (f'<table class="helpdesk-tuning"><thead><tr>{head}</tr></thead>'
                f"<tbody>{''.join(body)}</tbody></table>")


def _higher_is_better(value: float, optimal: float, deficient: float,
                      inclusive: bool = False) -> Verdict:
    if value > optimal or (inclusive and value == optimal):
        return Verdict.OPTIMAL
    return Verdict.DEFICIENT if value < deficient else Verdict.ACCEPTABLE


def _lower_is_better(value: float, optimal: float, deficient: float,
                     inclusive: bool = False) -> Verdict:
    if value < optimal or (inclusive and value == optimal):
        return Verdict.OPTIMAL
    return Verdict.DEFICIENT if value > deficient else Verdict.ACCEPTABLE


def _pick(snap: Snapshot, *specs: MetricSpec) -> tuple[float | None, str, str | None]:
    """The first available metric among ``specs``: (value, its name and source, reason)."""
    reasons = []
    for spec in specs:
        if spec.name in snap:
            m = snap[spec.name]
            if isinstance(m.value, int | float):
                return float(m.value), f"{spec.name} ({m.source})", None
            reasons.append(m.reason or "unavailable")
    return None, specs[0].name, "; ".join(dict.fromkeys(reasons)) or "not measured"


def tuning_table(snap: Snapshot, thresholds: Thresholds | None = None) -> TuningTable:
    """Evaluate every row of the design's tuning table against ``thresholds``.

    Where several metrics could answer a row, the first available one is used and the row's
    ``source`` says which: the hit rate is the Cache's own counters; only a snapshot taken
    without a Cache falls back to the server's keyspace_hits/misses, which count every read
    of every client - a monitor's own PTTLs too - so a Cache that has not been read yet leaves
    the row unavailable ("no reads yet") instead of rating the monitor's reads. The average
    TTL is sampled under the key prefix when there is one (your keys), else Redis's INFO
    estimate, else sampled.

    "TTL Promedio" is measured the way Redis and redis_exporter measure it: the average
    *remaining* TTL. Keys written with ``EX 300`` and read under steady traffic have remaining
    TTLs spread between 0 and 300 s (mean near 150 s), so this row reads ``optimal`` right
    after a warm-up and ``acceptable`` in a steady state; ``deficient`` (< 60 s) still means
    entries live too briefly to be reused.
    """
    t = thresholds or Thresholds()
    ttl_specs = ((catalogue.PREFIX_AVG_TTL_S, catalogue.REDIS_AVG_TTL_S) if snap.key_prefix
                 else (catalogue.REDIS_AVG_TTL_S, catalogue.PREFIX_AVG_TTL_S))
    # A Cache was given: its own hit rate is the row's, not the server's keyspace counters.
    has_cache = isinstance(snap.value(catalogue.CACHE_HITS.name), int | float)
    hit_specs = ((catalogue.CACHE_HIT_RATE,) if has_cache
                 else (catalogue.CACHE_HIT_RATE, catalogue.REDIS_KEYSPACE_HIT_RATE))
    design_rows = [
        ("Cache Hit Rate", hit_specs, 100.0,
         f"> {t.hit_rate_optimal:g}%", f"< {t.hit_rate_deficient:g}%", " %",
         lambda v: _higher_is_better(v, t.hit_rate_optimal, t.hit_rate_deficient),
         "Efectividad del caché", "Cache effectiveness",
         "Aumentar TTL, cache warming", "Increase TTL, cache warming"),
        ("Memory Used", (catalogue.MEMORY_USED_PERCENT,), 1.0,
         f"< {t.memory_optimal:g}%", f"> {t.memory_deficient:g}%", " %",
         lambda v: _lower_is_better(v, t.memory_optimal, t.memory_deficient),
         "Presión de memoria", "Memory pressure",
         "Reducir TTL, limpiar keys obsoletas", "Reduce TTL, clean up stale keys"),
        ("Queue Length", (catalogue.QUEUE_PENDING,), 1.0,
         f"< {t.queue_optimal:g}", f"> {t.queue_deficient:g}", " tasks",
         lambda v: _lower_is_better(v, t.queue_optimal, t.queue_deficient),
         "Backlog de tareas", "Task backlog",
         "Aumentar workers, optimizar procesamiento", "Add workers, optimise processing"),
        ("TTL Promedio", ttl_specs, 1.0,
         f"{t.ttl_optimal:g}s", f"< {t.ttl_deficient:g}s", " s",
         lambda v: _higher_is_better(v, t.ttl_optimal, t.ttl_deficient, inclusive=True),
         "Duración en caché", "Time in cache",
         "Aumentar TTL para datos estables", "Increase TTL for stable data"),
        ("Key Evictions", (catalogue.REDIS_EVICTED_PER_MIN,), 1.0,
         f"{t.evictions_optimal:g}/min", f"> {t.evictions_deficient:g}/min", "/min",
         lambda v: _lower_is_better(v, t.evictions_optimal, t.evictions_deficient,
                                    inclusive=True),
         "Keys eliminadas por límite", "Keys removed by the memory limit",
         "Aumentar memoria o reducir TTL", "Add memory or reduce TTL"),
    ]
    rows = []
    for (metric, candidates, scale, optimal, deficient, unit, judge,
         meaning_es, meaning_en, action_es, action_en) in design_rows:
        raw, source, reason = _pick(snap, *candidates)
        value = None if raw is None else round(raw * scale, 2)
        rows.append(TuningRow(
            metric, value, "n/a" if value is None else f"{value:g}{unit}",
            optimal, deficient, Verdict.UNAVAILABLE if value is None else judge(value),
            meaning_es, meaning_en, action_es, action_en, source, reason))
    return TuningTable(tuple(rows), t)
