"""Rollup math and derived figures (pure): buckets, exact sums, projection, efficiency."""

from __future__ import annotations

from decimal import Decimal

import pytest

from scheduler.costs.figures import (
    cost_line,
    efficiency,
    month_end,
    project_month_end,
    run_rate_per_day,
)
from scheduler.costs.rollup import (
    METRICS,
    NO_TENANT,
    Aggregator,
    Dim,
    Period,
    bucket_start,
    digest,
    label,
    to_record,
)
from workers.errors import InvalidInput
from workers.events import TaskEvent, TaskStatus

MAR_10 = 1_741_564_800.0  # 2025-03-10T00:00:00Z


def event(**kw: object) -> TaskEvent:
    base: dict[str, object] = dict(task_id="t", agent_type="cto", pool="default", instance="i",
                                   provider="simulated", model="gpt-4o",
                                   status=TaskStatus.SUCCEEDED, finished_at=MAR_10)  # fmt: skip
    base.update(kw)
    return TaskEvent(**base)  # type: ignore[arg-type]


def test_labels_are_utc_and_start_inclusive() -> None:
    assert label(Period.HOUR, MAR_10) == "2025-03-10T00"
    assert label(Period.HOUR, MAR_10 - 0.001) == "2025-03-09T23"
    assert label(Period.DAY, MAR_10 - 1) == "2025-03-09"
    assert label(Period.MONTH, MAR_10 - 9 * 86_400) == "2025-03"
    assert label(Period.MONTH, MAR_10 - 9 * 86_400 - 1) == "2025-02"
    assert bucket_start(Period.HOUR, "2025-03-10T05").timestamp() == MAR_10 + 5 * 3600


def test_sums_are_exact_decimals() -> None:
    # 0.1 + 0.2 is 0.3 exactly here, unlike in binary floating point
    agg = Aggregator().extend(
        [to_record(event(task_id="a", llm_cost_usd="0.1")),
         to_record(event(task_id="b", llm_cost_usd="0.2", compute_cost_usd="0.000000000001"))]
    )  # fmt: skip
    row = agg.rows()[(Period.DAY, "2025-03-10", Dim.AGENT, "cto")]
    assert row[METRICS.index("llm_pico")] == 300_000_000_000
    assert row[METRICS.index("compute_pico")] == 1
    line = cost_line("cto", dict(zip(METRICS, row, strict=True)))
    assert line.total_usd == Decimal("0.300000000001")
    assert line.per_request_usd == Decimal("0.150000000000")


def test_every_dimension_and_period_gets_the_event() -> None:
    rows = Aggregator().extend([to_record(event(tenant="acme", pool="fast"))]).rows()
    keys = {(p, d, k) for p, _, d, k in rows}
    assert keys == {
        (p, d, k)
        for p in Period
        for d, k in ((Dim.AGENT, "cto"), (Dim.POOL, "cto.fast"), (Dim.MODEL, "gpt-4o"),
                     (Dim.TENANT, "acme"))
    }  # fmt: skip
    untagged = Aggregator().extend([to_record(event())]).rows()
    assert (Period.DAY, "2025-03-10", Dim.TENANT, NO_TENANT) in untagged


def test_unpriced_counts_but_adds_no_money() -> None:
    rec = to_record(event(model="house-llm", priced=False, llm_cost_usd="0"))
    row = dict(zip(METRICS, Aggregator().extend([rec]).rows()[
        (Period.MONTH, "2025-03", Dim.MODEL, "house-llm")], strict=True))  # fmt: skip
    assert (row["requests"], row["unpriced"], row["llm_pico"]) == (1, 1, 0)


def test_cache_savings_are_recorded() -> None:
    rec = to_record(event(prompt_tokens=1000, completion_tokens=500, cached_tokens=200))
    assert rec["savings_pico"] == 250_000_000  # $0.00025, see the pricing tests
    hit = to_record(event(prompt_tokens=1000, completion_tokens=500, cache_hit=True))
    assert hit["savings_pico"] == 7_500_000_000


@pytest.mark.parametrize("cost", ["lots", "-0.5", "NaN"])
def test_bad_costs_are_invalid(cost: str) -> None:
    with pytest.raises(InvalidInput, match="not a decimal number"):
        to_record(event(compute_cost_usd=cost))


def test_digest_is_short_and_stable() -> None:
    assert digest("task-1") == digest("task-1") != digest("task-2")
    assert len(digest("x" * 500)) == 16


def test_efficiency() -> None:
    assert efficiency(30, 120) == 0.25
    assert efficiency(5, 0) is None


def test_run_rate_and_month_end_projection() -> None:
    now = MAR_10 + 12 * 3600  # noon on the 10th
    # $10 a day on the 4th..9th plus $5 this morning: 7-day window starts on the 4th
    daily = {f"2025-03-{d:02d}": 10 * 10**12 for d in range(4, 10)} | {"2025-03-10": 5 * 10**12}
    rate = run_rate_per_day(daily, now, 7)
    assert rate == Decimal(65) / Decimal("6.5")  # $65 over 6.5 days = $10/day
    assert month_end(now) == MAR_10 + 22 * 86_400  # April 1st
    # $100 so far + $10/day × 21.5 days left
    assert project_month_end(Decimal(100), rate, now) == Decimal(315)


def test_run_rate_of_a_young_deployment_starts_at_its_first_day() -> None:
    now = MAR_10 + 6 * 3600
    assert run_rate_per_day({"2025-03-10": 3 * 10**12}, now, 7) == Decimal(12)  # $3 in 6 h
    assert run_rate_per_day({}, now, 7) == 0
