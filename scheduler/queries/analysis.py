"""From per-shape statistics to the report: ranked shapes, index suggestions and findings.

Slow means p95 above the threshold. Shapes are ranked slow first, then by wasted work (docs
examined beyond those returned, summed over runs), then by total time.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from scheduler.queries.advice import (
    Suggestion,
    advise,
    key_name,
    known_indexes,
    serving_index,
    shape_esrs,
)
from scheduler.queries.plans import ID_INDEX, IndexKey
from scheduler.queries.record import FILTERED_OPS
from scheduler.queries.stats import ShapeStats

#: mongod's own default ``slowms``: what MongoDB itself calls a slow operation.
DEFAULT_THRESHOLD_MS = 100.0
#: Docs examined per returned at or below which a plan is called efficient in the findings.
EFFICIENT_RATIO = 2.0
#: Findings listed in the report (and logged by the job).
MAX_FINDINGS = 10


def _round(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(value, digits)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def summarize(
    s: ShapeStats, *, all_ms: float, threshold_ms: float, served_by: IndexKey | None
) -> dict[str, Any]:
    """The JSON view of one shape (the ``shapes`` items of the CLI's ``--json`` output)."""
    p95 = s.pct(95)
    return {
        "id": s.shape.id,
        "ns": s.shape.ns,
        "op": str(s.shape.op),
        "shape": s.shape.display(),
        "count": s.count,
        "total_ms": round(s.total_ms, 3),
        "time_share": _round(s.total_ms / all_ms if all_ms else None, 4),
        "mean_ms": _round(s.total_ms / s.count if s.count else None),
        "p50_ms": s.pct(50),
        "p95_ms": p95,
        "p99_ms": s.pct(99),
        "max_ms": s.max_ms,
        "docs_examined": s.docs_examined,
        "keys_examined": s.keys_examined,
        "returned": s.returned,
        "docs_examined_per_returned": _round(s.docs_examined_per_returned),
        "wasted_docs": s.wasted_docs,
        "collscan_share": _round(s.collscan_share, 4),
        "in_memory_sort_share": _round(s.in_memory_sort_share, 4),
        "slow": (p95 or 0) > threshold_ms,
        "served_by": key_name(served_by) if served_by else None,
        "unsupported": list(s.shape.predicates.unsupported),
        "plans": dict(s.plans.most_common()),
        "query_hashes": list(s.query_hashes),
        "query_shape_hashes": list(s.query_shape_hashes),
        "apps": list(s.apps),
        "first_seen": _iso(s.first_seen),
        "last_seen": _iso(s.last_seen),
        "sample": s.sample,
    }


def _finding(row: dict[str, Any], suggested: dict[str, Suggestion]) -> str:
    filt = row["shape"]["filter"]
    where = f"{row['ns']} {row['op']}" + ("" if filt is None else f" {json.dumps(filt)}")
    head = f"{where}: p95 {row['p95_ms']:g} ms over {row['count']:,} runs"
    ratio = row["docs_examined_per_returned"]
    if row["id"] in suggested:
        sug = suggested[row["id"]]
        return f"{head}; {', '.join(sug.reasons)}: create index {key_name(sug.key)}"
    if row["op"] == "insert":
        return (
            f"{head}; inserts have no query to index: the time is the write path "
            "(journal, write concern, one key per index)"
        )
    if row["collscan_share"] and not row["shape"]["filter"]:
        return f"{head}; unfiltered collection scan: nothing to index, add a filter or a limit"
    if row["served_by"] and (ratio is None or ratio <= EFFICIENT_RATIO):
        return (
            f"{head}; served by index {row['served_by']} "
            f"({ratio if ratio is not None else '?'} docs examined per returned): "
            "the time goes elsewhere (locks, disk, network, client)"
        )
    if row["unsupported"]:
        return f"{head}; cannot use an index for {', '.join(row['unsupported'])}"
    return head


@dataclass(slots=True)
class Report:
    threshold_ms: float
    shapes: list[dict[str, Any]]
    suggestions: list[Suggestion]
    findings: list[str]
    sources: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "threshold_ms": self.threshold_ms,
            "totals": {
                "operations": sum(r["count"] for r in self.shapes),
                "shapes": len(self.shapes),
                "slow_shapes": sum(r["slow"] for r in self.shapes),
                "total_ms": round(sum(r["total_ms"] for r in self.shapes), 3),
            },
            "sources": self.sources,
            "shapes": self.shapes,
            "suggestions": [s.to_dict() for s in self.suggestions],
            "findings": self.findings,
            "notes": self.notes,
        }


def analyze(
    stats: Sequence[ShapeStats],
    *,
    threshold_ms: float = DEFAULT_THRESHOLD_MS,
    indexes: Mapping[str, Sequence[IndexKey]] | None = None,
) -> Report:
    """Rank shapes, advise indexes and write findings. Pure: no I/O."""
    all_ms = sum(s.total_ms for s in stats)
    from_plans = known_indexes(stats)
    rows = []
    for s in stats:
        served = None
        if s.shape.op in FILTERED_OPS and s.shape.filter is not None:
            existing = (indexes or {}).get(s.shape.ns) or from_plans.get(s.shape.ns, [ID_INDEX])
            served = serving_index(shape_esrs(s.shape), existing)
        rows.append(summarize(s, all_ms=all_ms, threshold_ms=threshold_ms, served_by=served))
    rows.sort(key=lambda r: (not r["slow"], -r["wasted_docs"], -r["total_ms"]))
    suggestions = advise(stats, threshold_ms, indexes)
    suggested = {sid: sug for sug in reversed(suggestions) for sid in sug.shapes}
    findings = [_finding(r, suggested) for r in rows if r["slow"]][:MAX_FINDINGS]
    return Report(threshold_ms, rows, suggestions, findings)
