"""Trend and capacity math on synthetic series (pure, no I/O)."""

from __future__ import annotations

import pytest

from scheduler.resources.capacity import (
    hours_to_limit,
    instances_needed,
    plan_pool,
    rates,
)
from scheduler.resources.samples import PoolSample
from scheduler.resources.trends import Direction, slope_per_s, trend
from workers.settings import ScalingPolicy


def series(values: list[float], step_s: float = 60.0) -> list[tuple[float, float]]:
    return [(i * step_s, v) for i, v in enumerate(values)]


def test_least_squares_slope_of_an_exact_line() -> None:
    # v = 3 + 0.5 t: slope 0.5 per second whatever the noise-free points
    assert slope_per_s([(t, 3 + 0.5 * t) for t in (0, 10, 20, 50)]) == pytest.approx(0.5)
    assert slope_per_s([(1.0, 2.0)]) is None
    assert slope_per_s([(1.0, 2.0), (1.0, 3.0)]) is None


def test_noisy_rise_is_increasing() -> None:
    # +1 per minute = 60/h, with ±2 noise
    noise = [2, -2, 1, -1, 0, 2, -2, 1]
    t = trend(series([10 + i + n for i, n in enumerate(noise)]), threshold_per_h=5)
    assert t.direction is Direction.INCREASING
    assert 50 < t.slope_per_h < 70


def test_flat_and_falling_and_too_short() -> None:
    assert trend(series([50, 50.1, 49.9, 50, 50.05]), 1).direction is Direction.STABLE
    assert trend(series([80, 70, 60, 50]), 1).direction is Direction.DECREASING
    assert trend(series([1, 2]), 1).direction is Direction.UNKNOWN


def test_hours_to_limit() -> None:
    assert hours_to_limit(78, 4, 90) == pytest.approx(3.0)
    assert hours_to_limit(95, 4, 90) == 0
    assert hours_to_limit(50, 0, 90) is None
    assert hours_to_limit(50, -1, 90) is None


def test_instances_needed_by_littles_law() -> None:
    # 10 tasks/s × 0.8 s = 8 busy slots; 4 slots per instance at 70 % → 8 / 2.8 = 2.86 → 3
    assert instances_needed(10, 0.8, 4, 0.7) == 3
    # a backlog of 3600 adds 1 task/s over the hour: 9 busy slots / 2.8 → 4
    assert instances_needed(10, 0.8, 4, 0.7, backlog=3600) == 4
    assert instances_needed(0, 0.8, 4, 0.7) == 0


def sample(ts: float, **kw: float) -> PoolSample:
    base = dict(pool="cto.default", agent_type="cto", instances=2, draining=0, capacity=8,
                active=1, processed=0, failed=0, cpu_percent=20.0, mem_percent=30.0,
                rss_bytes=10**8, latency_ms=800.0, backlog=0)  # fmt: skip
    base.update(kw)
    return PoolSample(ts=ts, **base)  # type: ignore[arg-type]


def test_rates_count_restarts_as_zero() -> None:
    s = [sample(0, processed=100), sample(10, processed=150, backlog=20), sample(20, processed=5)]
    assert rates(s) == [(10, 5.0, 7.0), (20, 0.0, 0.0)]


def test_memory_rising_four_points_an_hour_reaches_ninety_in_three_hours() -> None:
    # 78 % now, +4 %/h over the last hour (a point a minute)
    samples = [sample(60 * i, mem_percent=74 + 4 * i / 60) for i in range(61)]
    plan = plan_pool(samples, ScalingPolicy(min=1, max=4, memory_high=90), concurrency=4)
    assert plan.memory.direction is Direction.INCREASING
    assert plan.hours_to_memory == pytest.approx(3.0)
    assert "cto: memory rising 4 %/h, reaches 90 % in ~3 h; raise max or investigate" in (
        plan.advice
    )
    assert plan.hours_to_cpu is None  # CPU is flat


def test_growing_load_needs_more_than_max() -> None:
    # processed +10/s and backlog +2/s: 12 tasks/s arriving, 0.8 s each, 4 slots at 70 %
    samples = [sample(10 * i, processed=100 * i, backlog=20 * i) for i in range(30)]
    plan = plan_pool(samples, ScalingPolicy(min=1, max=3), concurrency=4)
    assert plan.arrival_per_s == pytest.approx(12.0)
    assert plan.throughput_per_s == pytest.approx(10.0)
    assert plan.needed_next_hour is not None and plan.needed_next_hour > 3
    assert any("above max 3; raise max" in line for line in plan.advice)
    # backlog limit: 8 slots / 0.8 s × 5 s target latency = 50 messages, passed already
    assert plan.backlog_limit == pytest.approx(50.0)
    assert plan.hours_to_backlog == 0
    assert any("backlog" in line for line in plan.advice)


def test_quiet_pool_has_no_advice() -> None:
    samples = [sample(60 * i) for i in range(20)]
    plan = plan_pool(samples, ScalingPolicy(min=1, max=4), concurrency=4)
    assert plan.advice == []
    assert plan.needed_next_hour == 1  # never below min
