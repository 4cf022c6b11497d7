"""What ``costs`` and ``budgets`` show, as JSON-ready data: one source for the CLI and the
HTTP API."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import redis

from scheduler.costs.budgets import statuses
from scheduler.costs.config import CostConfig
from scheduler.costs.report import cost_report, recommendations
from scheduler.costs.rollup import Dim, Period
from workers.settings import Settings


def costs_view(client: redis.Redis, settings: Settings, by: Dim, period: Period) -> dict[str, Any]:
    """Priced totals grouped by ``by`` over the current ``period``, plus recommendations."""
    cfg = CostConfig.from_settings(settings)
    report = cost_report(client, settings, by=by, period=period, run_rate_days=cfg.run_rate_days)
    advice = recommendations(client, settings, config=cfg)
    report["recommendations"] = [asdict(r) for r in advice]
    return report


def budgets_view(client: redis.Redis, settings: Settings) -> list[dict[str, Any]]:
    """Every monthly budget: limit, spent, reserved, share used, projection and state."""
    cfg = CostConfig.from_settings(settings)
    rows = statuses(client, settings, run_rate_days=cfg.run_rate_days, thresholds=cfg.thresholds)
    return [
        {
            "budget": s.budget.id, "mode": str(s.budget.mode),
            "limit_usd": str(s.budget.limit_usd), "spent_usd": str(s.spent_usd),
            "reserved_usd": str(s.reserved_usd), "used_pct": s.used_pct,
            "projected_usd": str(s.projected_usd), "state": str(s.state),
        }
        for s in rows
    ]  # fmt: skip
