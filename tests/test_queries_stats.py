"""Per-shape statistics: percentiles against hand-computed values, merging, persistence."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest

from scheduler.queries.record import Op, QueryRecord
from scheduler.queries.stats import ShapeStats, StatsTable, duration_bucket, percentile
from tests.test_queries_support import T0


def test_percentile_nearest_rank_by_hand() -> None:
    # 1..10 ms: p50 is the 5th value, p90 the 9th, p95 and p99 the 10th (ceil(9.5), ceil(9.9)).
    hist = Counter({float(v): 1 for v in range(1, 11)})
    assert percentile(hist, 50) == 5
    assert percentile(hist, 90) == 9
    assert percentile(hist, 95) == 10
    assert percentile(hist, 99) == 10
    assert percentile(hist, 0) == 1
    assert percentile(hist, 100) == 10


def test_percentile_weighted_histogram() -> None:
    # 90 ops at 10 ms, 9 at 200 ms, 1 at 5000 ms: ranks 50 -> 10, 95 -> 200, 99 -> 200, 100 -> 5000
    hist = Counter({10.0: 90, 200.0: 9, 5000.0: 1})
    assert percentile(hist, 50) == 10
    assert percentile(hist, 90) == 10
    assert percentile(hist, 91) == 200
    assert percentile(hist, 99) == 200
    assert percentile(hist, 99.5) == 5000
    assert percentile(Counter(), 50) is None


@pytest.mark.parametrize(
    ("ms", "bucket"),
    [
        (0.04, 0.0),
        (3.14159, 3.1),
        (9.96, 10.0),
        (10.4, 10.0),
        (999.4, 999.0),
        (1234.0, 1230.0),
        (98765.0, 98800.0),
    ],
)
def test_duration_buckets(ms: float, bucket: float) -> None:
    assert duration_bucket(ms) == bucket


def _record(
    ms: float,
    examined: int | None = 100,
    returned: int | None = 10,
    plan: str | None = "COLLSCAN",
    sort: bool = False,
    at: int = 0,
) -> QueryRecord:
    return QueryRecord(
        "db.c",
        Op.FIND,
        ms,
        filter={"a": 1},
        docs_examined=examined,
        keys_examined=0,
        n_returned=returned,
        plan_summary=plan,
        has_sort_stage=sort,
        ts=T0 + timedelta(seconds=at),
        query_hash="H1",
    )


def test_shape_stats_figures() -> None:
    table = StatsTable().add_all(
        [
            _record(5, at=3),
            _record(15, sort=True, at=1),
            _record(25, plan="IXSCAN { a: 1 }"),
            _record(35, examined=None, returned=None, plan=None, at=9),
        ]
    )
    (s,) = table.shapes.values()
    assert s.count == 4 and s.total_ms == 80 and s.max_ms == 35
    assert (s.pct(50), s.pct(95)) == (15, 35)
    assert s.measured == 3 and s.docs_examined == 300 and s.returned == 30
    assert s.docs_examined_per_returned == 10
    assert s.wasted_docs == 270
    assert s.collscan_share == pytest.approx(2 / 3)
    assert s.in_memory_sort_share == pytest.approx(1 / 3)
    assert s.first_seen == T0 and s.last_seen == T0 + timedelta(seconds=9)
    assert s.sample == {"filter": {"a": "<number>"}}
    assert s.plans == Counter({"COLLSCAN": 2, "IXSCAN { a: 1 }": 1})


def test_merge_equals_one_pass_and_round_trips() -> None:
    records = [_record(ms, at=i) for i, ms in enumerate([3, 8, 120, 7, 450, 9, 11])]
    whole = StatsTable().add_all(records)
    first, second = StatsTable().add_all(records[:3]), StatsTable().add_all(records[3:])
    first.merge(second)
    (a,), (b,) = whole.shapes.values(), first.shapes.values()
    assert a.to_dict() == b.to_dict()
    again = ShapeStats.from_dict(a.to_dict())
    assert again.to_dict() == a.to_dict()
    assert again.pct(95) == 450


def test_zero_returned_counts_as_one() -> None:
    (s,) = StatsTable().add_all([_record(1, examined=500, returned=0)]).shapes.values()
    assert s.docs_examined_per_returned == 500
