"""Budget status and threshold alerts (50/80/100 % by default), each once per month.

Spend is the budget guard's (``workers.budget_guard.usage``: settled calls or rolled-up
events, whichever is ahead); the month-end projection adds the run rate of the daily rollups.
An alert is an entry on the ``im:budget:alerts`` stream, a log line and, when configured, a
webhook POST.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from decimal import Decimal
from enum import StrEnum

import httpx
import redis

from scheduler.costs.figures import project_month_end, run_rate_per_day, window_days
from scheduler.costs.redis_sink import read_buckets
from scheduler.costs.rollup import Dim, Period
from workers.budget_guard import Budget, BudgetMode, Scope, all_budgets, month_of, usage
from workers.keys import BUDGET_ALERTS, budget_alerted
from workers.pricing import pico_to_usd, usd_to_pico
from workers.settings import Settings

log = logging.getLogger(__name__)

#: Alerts kept on the stream (approximate trim): years of alerts for a normal deployment.
ALERTS_MAXLEN = 10_000
#: A webhook that does not answer in this time is skipped; the alert is still on the stream.
WEBHOOK_TIMEOUT_S = 5.0
#: Budget alert marks are kept a bit over a month so each threshold fires once per month.
ALERTED_TTL_S = 40 * 86_400


class BudgetState(StrEnum):
    OK = "ok"
    WARNING = "warning"  # past the first alert threshold
    EXCEEDED = "exceeded"


@dataclass(frozen=True)
class BudgetStatus:
    budget: Budget
    spent_usd: Decimal
    reserved_usd: Decimal
    used_pct: float | None
    projected_usd: Decimal
    state: BudgetState


@dataclass(frozen=True)
class Alert:
    budget: str
    mode: str
    threshold: int
    month: str
    spent_usd: str
    limit_usd: str
    message: str


def crossed(spent_pico: int, limit_usd: Decimal, thresholds: Sequence[int]) -> list[int]:
    """Thresholds (percent) that ``spent`` has reached; a zero budget is crossed by any spend."""
    limit = usd_to_pico(limit_usd)
    if limit <= 0:
        return list(thresholds) if spent_pico > 0 else []
    return [t for t in thresholds if spent_pico * 100 >= limit * t]


def alert_message(budget: Budget, threshold: int, spent_usd: Decimal, month: str) -> str:
    effect = (
        "new tasks are refused"
        if budget.mode is BudgetMode.HARD and threshold >= 100
        else f"{budget.mode} budget"
    )
    return (
        f"budget {budget.id} reached {threshold} % of ${budget.limit_usd:.2f} for {month} "
        f"(${spent_usd:.2f} spent); {effect}"
    )


def state_of(used_pct: float | None, thresholds: Sequence[int]) -> BudgetState:
    if used_pct is None:
        return BudgetState.OK
    if used_pct >= 100:
        return BudgetState.EXCEEDED
    return BudgetState.WARNING if thresholds and used_pct >= min(thresholds) else BudgetState.OK


def _daily_cost(client: redis.Redis, now: float, days: int) -> dict[str, dict[str, int]]:
    """scope -> day label -> pico-dollars, from the daily rollups."""
    labels = window_days(now, days)
    out: dict[str, dict[str, int]] = {}
    for scope, dim in ((Scope.AGENT, Dim.AGENT), (Scope.TENANT, Dim.TENANT)):
        for lab, rows in read_buckets(client, Period.DAY, labels, dim).items():
            for key, row in rows.items():
                cost = row["llm_pico"] + row["compute_pico"]
                out.setdefault(f"{scope}:{key}", {})[lab] = cost
    return out


def statuses(
    client: redis.Redis,
    settings: Settings,
    *,
    now: float | None = None,
    run_rate_days: int = 7,
    thresholds: Sequence[int] = (50, 80, 100),
) -> list[BudgetStatus]:
    """Every budget with spend, reservations, share used and month-end projection."""
    now = time.time() if now is None else now
    budgets = all_budgets(settings)
    used = usage(client, [b.id for b in budgets], now)
    daily = _daily_cost(client, now, run_rate_days)
    out = []
    for b in budgets:
        spent, reserved = used[b.id]
        spent_usd = pico_to_usd(spent)
        pct = float(spent_usd / b.limit_usd * 100) if b.limit_usd > 0 else None
        rate = run_rate_per_day(daily.get(b.id, {}), now, run_rate_days)
        out.append(
            BudgetStatus(
                budget=b,
                spent_usd=spent_usd,
                reserved_usd=pico_to_usd(reserved),
                used_pct=pct,
                projected_usd=project_month_end(spent_usd, rate, now),
                state=state_of(pct, thresholds),
            )
        )
    return out


def _notify(alert: Alert, webhook_url: str | None, http: httpx.Client | None) -> None:
    log.warning("%s", alert.message)
    if not webhook_url:
        return
    try:
        if http is not None:
            http.post(webhook_url, json=asdict(alert), timeout=WEBHOOK_TIMEOUT_S)
        else:
            httpx.post(webhook_url, json=asdict(alert), timeout=WEBHOOK_TIMEOUT_S)
    except httpx.HTTPError as exc:
        log.warning("budget webhook %s failed: %s", webhook_url, exc)


def fire_alerts(
    client: redis.Redis,
    settings: Settings,
    *,
    now: float | None = None,
    thresholds: Sequence[int] = (50, 80, 100),
    webhook_url: str | None = None,
    http: httpx.Client | None = None,
) -> list[Alert]:
    """Fire every threshold alert reached this month that has not fired yet."""
    now = time.time() if now is None else now
    month = month_of(now)
    budgets = all_budgets(settings)
    used = usage(client, [b.id for b in budgets], now)
    marks = budget_alerted(month)
    fired = []
    for b in budgets:
        spent = used[b.id][0]
        for threshold in crossed(spent, b.limit_usd, thresholds):
            if not client.hsetnx(marks, f"{b.id}:{threshold}", repr(now)):
                continue  # this threshold already fired this month
            client.expire(marks, ALERTED_TTL_S)
            spent_usd = pico_to_usd(spent)
            alert = Alert(
                budget=b.id, mode=str(b.mode), threshold=threshold, month=month,
                spent_usd=str(spent_usd), limit_usd=str(b.limit_usd),
                message=alert_message(b, threshold, spent_usd, month),
            )  # fmt: skip
            client.xadd(BUDGET_ALERTS, asdict(alert), maxlen=ALERTS_MAXLEN, approximate=True)
            _notify(alert, webhook_url, http)
            fired.append(alert)
    return fired
