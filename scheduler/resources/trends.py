"""Trend of a metric: least-squares slope over a window, read as increasing/decreasing/stable."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

#: Fewer points than this say nothing about a direction.
MIN_POINTS = 3
HOUR_S = 3600.0


class Direction(StrEnum):
    INCREASING = "increasing"
    DECREASING = "decreasing"
    STABLE = "stable"
    UNKNOWN = "unknown"  # too few points


@dataclass(frozen=True)
class Trend:
    direction: Direction
    slope_per_h: float  # metric units per hour
    points: int
    last: float | None  # latest value


def slope_per_s(points: Sequence[tuple[float, float]]) -> float | None:
    """Least-squares slope of (time s, value) points; None with < 2 distinct times."""
    n = len(points)
    if n < 2:
        return None
    mean_t = sum(t for t, _ in points) / n
    mean_v = sum(v for _, v in points) / n
    var_t = sum((t - mean_t) ** 2 for t, _ in points)
    if var_t == 0:
        return None
    cov = sum((t - mean_t) * (v - mean_v) for t, v in points)
    return cov / var_t


def trend(points: Sequence[tuple[float, float]], threshold_per_h: float) -> Trend:
    """Direction of ``points`` (sorted by time); |slope| <= ``threshold_per_h`` is stable."""
    ordered = sorted(points)
    last = ordered[-1][1] if ordered else None
    s = slope_per_s(ordered) if len(ordered) >= MIN_POINTS else None
    if s is None:
        return Trend(Direction.UNKNOWN, 0.0, len(ordered), last)
    per_h = s * HOUR_S
    if abs(per_h) <= threshold_per_h:
        direction = Direction.STABLE
    else:
        direction = Direction.INCREASING if per_h > 0 else Direction.DECREASING
    return Trend(direction, per_h, len(ordered), last)
