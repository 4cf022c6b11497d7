"""Derived cost figures (pure): per-request cost, efficiency, savings, month-end projection."""

from __future__ import annotations

import calendar
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from scheduler.costs.rollup import Period, label, pico_usd
from workers.pricing import quantize_usd

DAY_S = 86_400
#: Shortest history a run rate is extrapolated from; less would turn one burst into a month.
MIN_RUN_RATE_S = 3_600


@dataclass(frozen=True)
class CostLine:
    """One row of a cost report (an agent type, pool, model or tenant in one bucket)."""

    key: str
    requests: int
    failed: int
    unpriced: int
    llm_usd: Decimal
    compute_usd: Decimal
    total_usd: Decimal
    per_request_usd: Decimal | None
    savings_usd: Decimal
    cache_hit_rate: float | None
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int
    busy_s: float


def cost_line(key: str, row: Mapping[str, int]) -> CostLine:
    llm, compute = row.get("llm_pico", 0), row.get("compute_pico", 0)
    requests = row.get("requests", 0)
    total = pico_usd(llm + compute)
    return CostLine(
        key=key,
        requests=requests,
        failed=row.get("failed", 0),
        unpriced=row.get("unpriced", 0),
        llm_usd=pico_usd(llm),
        compute_usd=pico_usd(compute),
        total_usd=total,
        per_request_usd=quantize_usd(total / requests) if requests else None,
        savings_usd=pico_usd(row.get("savings_pico", 0)),
        cache_hit_rate=row.get("cache_hits", 0) / requests if requests else None,
        prompt_tokens=row.get("prompt_tokens", 0),
        completion_tokens=row.get("completion_tokens", 0),
        cached_tokens=row.get("cached_tokens", 0),
        busy_s=row.get("run_us", 0) / 1e6,
    )


def efficiency(busy_s: float, provisioned_slot_s: float) -> float | None:
    """Busy ÷ provisioned slot-seconds (instance-seconds × concurrency); None if none."""
    if provisioned_slot_s <= 0:
        return None
    return busy_s / provisioned_slot_s


def month_end(now: float) -> float:
    """Epoch seconds of the end (exclusive) of the UTC month containing ``now``."""
    t = time.gmtime(now)
    days = calendar.monthrange(t.tm_year, t.tm_mon)[1]
    start = datetime(t.tm_year, t.tm_mon, 1, tzinfo=UTC).timestamp()
    return start + days * DAY_S


def window_days(now: float, days: int) -> list[str]:
    """Day labels of the run-rate window, oldest first, ending with today."""
    return [label(Period.DAY, now - k * DAY_S) for k in range(days - 1, -1, -1)]


def run_rate_per_day(daily_pico: Mapping[str, int], now: float, days: int) -> Decimal:
    """USD per day over the last ``days`` days (today partial); starts at the first day with
    data when the history is shorter, and never extrapolates from less than an hour."""
    labels = window_days(now, days)
    used = [lab for lab in labels if daily_pico.get(lab)]
    if not used:
        return Decimal(0)
    start = datetime.strptime(used[0], "%Y-%m-%d").replace(tzinfo=UTC).timestamp()
    elapsed = max(now - start, MIN_RUN_RATE_S)
    total = sum(daily_pico.get(lab, 0) for lab in labels)
    return quantize_usd(pico_usd(total) * DAY_S / Decimal(repr(elapsed)))


def project_month_end(mtd_usd: Decimal, rate_per_day: Decimal, now: float) -> Decimal:
    """Month-to-date plus the run rate over the rest of the month."""
    remaining_days = Decimal(repr(max(0.0, month_end(now) - now))) / DAY_S
    return quantize_usd(mtd_usd + rate_per_day * remaining_days)
