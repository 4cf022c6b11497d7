"""The cost report and recommendations, assembled from the recent rollups in Redis.

Reads only Redis (hourly buckets for two days, daily for two months, monthly for a year), so
it works the same in Redis-only mode and with the archive.
"""

from __future__ import annotations

import time
from dataclasses import asdict
from decimal import Decimal
from typing import Any

import redis

from scheduler.costs.budgets import statuses
from scheduler.costs.config import CostConfig
from scheduler.costs.figures import (
    CostLine,
    cost_line,
    efficiency,
    project_month_end,
    run_rate_per_day,
    window_days,
)
from scheduler.costs.recommendations import (
    Recommendation,
    budget_risk,
    cache_gains,
    cheaper_model,
    idle_capacity,
)
from scheduler.costs.redis_sink import read_bucket, read_buckets
from scheduler.costs.rollup import Dim, Period, label, pico_usd, sum_rows
from workers.keys import resource_provisioned
from workers.settings import Settings


def provisioned(client: redis.Redis, day_labels: list[str]) -> dict[str, dict[str, float]]:
    """pool id -> {"instance_s", "slot_s"} provisioned over the given days."""
    with client.pipeline(transaction=False) as pipe:
        for lab in day_labels:
            pipe.hgetall(resource_provisioned(lab))
        raws = pipe.execute()
    out: dict[str, dict[str, float]] = {}
    for raw in raws:
        for field, value in raw.items():
            f = field.decode() if isinstance(field, bytes) else field
            pool, _, kind = f.rpartition("|")
            name = "instance_s" if kind == "instance_ms" else "slot_s"
            row = out.setdefault(pool, {"instance_s": 0.0, "slot_s": 0.0})
            row[name] += int(value) / 1000
    return out


def _days_of(period: Period, now: float) -> list[str]:
    if period is Period.DAY:
        return [label(Period.DAY, now)]
    month = label(Period.MONTH, now)
    return [d for d in window_days(now, 31) if d.startswith(month)]


def _efficiency(
    by: Dim, key: str, line: CostLine, prov: dict[str, dict[str, float]]
) -> float | None:
    if by is Dim.POOL:
        slots = prov.get(key, {}).get("slot_s", 0.0)
    elif by is Dim.AGENT:
        slots = sum(v["slot_s"] for p, v in prov.items() if p.split(".", 1)[0] == key)
    else:
        return None
    return efficiency(line.busy_s, slots)


def cost_report(
    client: redis.Redis,
    settings: Settings,
    *,
    by: Dim = Dim.AGENT,
    period: Period = Period.DAY,
    now: float | None = None,
    run_rate_days: int = 7,
) -> dict[str, Any]:
    """Costs of the current day or month per ``by``, with totals and the month-end projection."""
    now = time.time() if now is None else now
    lab = label(period, now)
    rows = read_bucket(client, period, lab, by)
    prov = provisioned(client, _days_of(period, now))
    lines = sorted((cost_line(k, r) for k, r in rows.items()), key=lambda x: -x.total_usd)
    month_rows = read_bucket(client, Period.MONTH, label(Period.MONTH, now), Dim.AGENT)
    mtd = pico_usd(sum(r["llm_pico"] + r["compute_pico"] for r in month_rows.values()))
    daily = {
        d: sum(r["llm_pico"] + r["compute_pico"] for r in day_rows.values())
        for d, day_rows in read_buckets(
            client, Period.DAY, window_days(now, run_rate_days), Dim.AGENT
        ).items()
    }
    rate = run_rate_per_day(daily, now, run_rate_days)
    total = cost_line("total", sum_rows(rows.values()))
    return {
        "period": str(period),
        "bucket": lab,
        "by": str(by),
        "lines": [
            {**_jsonable(asdict(line)), "efficiency": _round(_efficiency(by, line.key, line, prov))}
            for line in lines
        ],
        "total": _jsonable(asdict(total)),
        "month_to_date_usd": str(mtd),
        "run_rate_per_day_usd": str(rate),
        "run_rate_days": run_rate_days,
        "month_end_projection_usd": str(project_month_end(mtd, rate, now)),
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def _jsonable(data: dict[str, Any]) -> dict[str, Any]:
    return {k: format(v, "f") if isinstance(v, Decimal) else v for k, v in data.items()}


def recommendations(
    client: redis.Redis,
    settings: Settings,
    *,
    now: float | None = None,
    config: CostConfig | None = None,
) -> list[Recommendation]:
    """Every recommendation for this month so far."""
    now = time.time() if now is None else now
    cfg = config or CostConfig.from_settings(settings)
    month = label(Period.MONTH, now)
    agents = read_bucket(client, Period.MONTH, month, Dim.AGENT)
    pools = read_bucket(client, Period.MONTH, month, Dim.POOL)
    prov = provisioned(client, _days_of(Period.MONTH, now))
    out: list[Recommendation] = []
    for agent, pool in settings.pools():
        pid = f"{agent.name}.{pool}"
        used = prov.get(pid, {"instance_s": 0.0, "slot_s": 0.0})
        busy_s = pools.get(pid, {}).get("run_us", 0) / 1e6
        found = idle_capacity(pid, busy_s, used["slot_s"], used["instance_s"],
                              agent.hourly_rate_usd, cfg.idle_efficiency)  # fmt: skip
        if found:
            out.append(found)
    for agent in settings.agents.values():
        row = agents.get(agent.name)
        if not row:
            continue
        quality = str(getattr(agent, "quality", "balanced"))
        found = cheaper_model(agent.name, agent.model, quality, row, cfg.price_overrides)
        if found:
            out.append(found)
        out.extend(
            cache_gains(agent.name, agent.model, agent.cache_responses, row, cfg.price_overrides)
        )
    for status in statuses(client, settings, now=now, run_rate_days=cfg.run_rate_days):
        risk = budget_risk(status)
        if risk:
            out.append(risk)
    return out
