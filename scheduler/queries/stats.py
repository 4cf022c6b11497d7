"""Per-shape statistics: counts, time, work done per document returned, and percentiles.

``ShapeStats`` is mergeable (the job adds each run's new operations to what it kept), so
durations are kept as a histogram of exact values: whole milliseconds below one second (the
unit mongod logs and the profiler report), 0.1 ms below 10 ms, three significant digits above.
Percentiles use the nearest-rank definition: the smallest recorded value with at least p % of
the operations at or below it.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from scheduler.queries.plans import is_collscan
from scheduler.queries.record import QueryRecord
from scheduler.queries.shapes import Shape, redacted_sample, shape_of

#: Distinct plan summaries, query hashes and app names kept per shape: enough to see a plan
#: flip without letting a pathological workload grow one entry without bound.
MAX_DISTINCT = 8


def duration_bucket(ms: float) -> float:
    """The histogram value a duration is counted under (see the module docstring)."""
    if ms < 10:
        return round(ms, 1)
    if ms < 1000:
        return float(round(ms))
    return float(f"{ms:.3g}")


def percentile(histogram: Mapping[float, int], pct: float) -> float | None:
    """Nearest-rank percentile of a value → count histogram; None when it is empty."""
    total = sum(histogram.values())
    if total == 0:
        return None
    rank = max(1, math.ceil(pct / 100 * total))
    seen = 0
    for value in sorted(histogram):
        seen += histogram[value]
        if seen >= rank:
            return value
    return max(histogram)  # pragma: no cover - unreachable: seen reaches total


def _bump(counter: Counter[str], key: str | None, by: int = 1) -> None:
    if key and (key in counter or len(counter) < MAX_DISTINCT):
        counter[key] += by


@dataclass(slots=True)
class ShapeStats:
    """Everything kept about one shape; ``merge`` and ``to_dict``/``from_dict`` round-trip."""

    shape: Shape
    count: int = 0
    total_ms: float = 0.0
    max_ms: float = 0.0
    durations: Counter[float] = field(default_factory=Counter)
    #: Operations that reported docs examined and returned; ratios use these only.
    measured: int = 0
    docs_examined: int = 0
    keys_examined: int = 0
    returned: int = 0
    wasted_docs: int = 0
    #: Operations that reported a plan; shares use these only.
    planned: int = 0
    collscans: int = 0
    in_memory_sorts: int = 0
    plans: Counter[str] = field(default_factory=Counter)
    query_hashes: Counter[str] = field(default_factory=Counter)
    query_shape_hashes: Counter[str] = field(default_factory=Counter)
    apps: Counter[str] = field(default_factory=Counter)
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    sample: dict[str, Any] | None = None

    def add(self, record: QueryRecord) -> None:
        ms = record.duration_ms
        self.count += 1
        self.total_ms += ms
        self.max_ms = max(self.max_ms, ms)
        self.durations[duration_bucket(ms)] += 1
        if record.docs_examined is not None and record.n_returned is not None:
            self.measured += 1
            self.docs_examined += record.docs_examined
            self.keys_examined += record.keys_examined or 0
            self.returned += record.n_returned
            self.wasted_docs += max(0, record.docs_examined - record.n_returned)
        if record.plan_summary:
            self.planned += 1
            self.collscans += is_collscan(record.plan_summary)
            self.in_memory_sorts += record.has_sort_stage
            _bump(self.plans, record.plan_summary)
        _bump(self.query_hashes, record.query_hash)
        _bump(self.query_shape_hashes, record.query_shape_hash)
        _bump(self.apps, record.app_name)
        if record.ts is not None:
            if self.first_seen is None or record.ts < self.first_seen:
                self.first_seen = record.ts
            if self.last_seen is None or record.ts > self.last_seen:
                self.last_seen = record.ts
        if self.sample is None:
            self.sample = redacted_sample(record)

    def merge(self, other: ShapeStats) -> None:
        """Add another accumulation of the same shape (e.g. the next run's operations)."""
        for name in (
            "count",
            "total_ms",
            "measured",
            "docs_examined",
            "keys_examined",
            "returned",
            "wasted_docs",
            "planned",
            "collscans",
            "in_memory_sorts",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.max_ms = max(self.max_ms, other.max_ms)
        self.durations.update(other.durations)
        for mine, theirs in (
            (self.plans, other.plans),
            (self.query_hashes, other.query_hashes),
            (self.query_shape_hashes, other.query_shape_hashes),
            (self.apps, other.apps),
        ):
            for key, n in theirs.items():
                _bump(mine, key, n)
        seen = [t for t in (self.first_seen, other.first_seen) if t is not None]
        self.first_seen = min(seen) if seen else None
        seen = [t for t in (self.last_seen, other.last_seen) if t is not None]
        self.last_seen = max(seen) if seen else None
        self.sample = self.sample or other.sample

    # -- derived figures -------------------------------------------------------------------

    def pct(self, p: float) -> float | None:
        return percentile(self.durations, p)

    @property
    def docs_examined_per_returned(self) -> float | None:
        """Docs examined ÷ returned over operations that reported both; 0 returned counts as 1."""
        if not self.measured:
            return None
        return self.docs_examined / max(self.returned, 1)

    @property
    def collscan_share(self) -> float | None:
        return self.collscans / self.planned if self.planned else None

    @property
    def in_memory_sort_share(self) -> float | None:
        return self.in_memory_sorts / self.planned if self.planned else None

    # -- persistence -----------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return {
            "shape": self.shape.to_dict(),
            "count": self.count,
            "total_ms": self.total_ms,
            "max_ms": self.max_ms,
            "durations": [[v, n] for v, n in sorted(self.durations.items())],
            "measured": self.measured,
            "docs_examined": self.docs_examined,
            "keys_examined": self.keys_examined,
            "returned": self.returned,
            "wasted_docs": self.wasted_docs,
            "planned": self.planned,
            "collscans": self.collscans,
            "in_memory_sorts": self.in_memory_sorts,
            "plans": dict(self.plans),
            "query_hashes": dict(self.query_hashes),
            "query_shape_hashes": dict(self.query_shape_hashes),
            "apps": dict(self.apps),
            "first_seen": self.first_seen.isoformat() if self.first_seen else None,
            "last_seen": self.last_seen.isoformat() if self.last_seen else None,
            "sample": self.sample,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ShapeStats:
        def when(text: str | None) -> datetime | None:
            return datetime.fromisoformat(text) if text else None

        return cls(
            shape=Shape.from_dict(data["shape"]),
            count=data["count"],
            total_ms=data["total_ms"],
            max_ms=data["max_ms"],
            durations=Counter({float(v): n for v, n in data["durations"]}),
            measured=data["measured"],
            docs_examined=data["docs_examined"],
            keys_examined=data["keys_examined"],
            returned=data["returned"],
            wasted_docs=data["wasted_docs"],
            planned=data["planned"],
            collscans=data["collscans"],
            in_memory_sorts=data["in_memory_sorts"],
            plans=Counter(data["plans"]),
            query_hashes=Counter(data["query_hashes"]),
            query_shape_hashes=Counter(data.get("query_shape_hashes", {})),
            apps=Counter(data["apps"]),
            first_seen=when(data["first_seen"]),
            last_seen=when(data["last_seen"]),
            sample=data["sample"],
        )


class StatsTable:
    """Shape id → ``ShapeStats`` for a stream of records."""

    def __init__(self) -> None:
        self.shapes: dict[str, ShapeStats] = {}
        self.records = 0

    def add(self, record: QueryRecord) -> ShapeStats:
        shape = shape_of(record)
        stats = self.shapes.get(shape.id)
        if stats is None:
            stats = self.shapes[shape.id] = ShapeStats(shape)
        stats.add(record)
        self.records += 1
        return stats

    def add_all(self, records: Iterable[QueryRecord]) -> StatsTable:
        for record in records:
            self.add(record)
        return self

    def merge(self, other: StatsTable) -> None:
        for sid, stats in other.shapes.items():
            mine = self.shapes.get(sid)
            if mine is None:
                self.shapes[sid] = stats
            else:
                mine.merge(stats)
        self.records += other.records
