"""Prometheus gauges of the bill: month-to-date cost, requests and tokens per agent type
from the rollups, and every budget's share used. Read from Redis at scrape time."""

from __future__ import annotations

import time
from collections.abc import Iterator

import redis
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from scheduler.costs.budgets import statuses
from scheduler.costs.config import CostConfig
from scheduler.costs.redis_sink import read_bucket
from scheduler.costs.rollup import Dim, Period, label, pico_usd
from workers.settings import Settings


class CostCollector(Collector):
    """Gauges per agent type for the current UTC month, and per budget."""

    def __init__(self, client: redis.Redis, settings: Settings) -> None:
        self.client = client
        self.settings = settings

    def collect(self) -> Iterator[Metric]:
        now = time.time()
        rows = read_bucket(self.client, Period.MONTH, label(Period.MONTH, now), Dim.AGENT)
        cost = GaugeMetricFamily(
            "infra_mind_cost_month_usd", "Cost this UTC month", labels=["agent_type", "kind"]
        )
        requests = GaugeMetricFamily(
            "infra_mind_requests_month", "Tasks rolled up this UTC month", labels=["agent_type"]
        )
        tokens = GaugeMetricFamily(
            "infra_mind_tokens_month", "LLM tokens this UTC month", labels=["agent_type", "kind"]
        )
        for agent, row in sorted(rows.items()):
            cost.add_metric([agent, "llm"], float(pico_usd(row.get("llm_pico", 0))))
            cost.add_metric([agent, "compute"], float(pico_usd(row.get("compute_pico", 0))))
            requests.add_metric([agent], row.get("requests", 0))
            tokens.add_metric([agent, "prompt"], row.get("prompt_tokens", 0))
            tokens.add_metric([agent, "completion"], row.get("completion_tokens", 0))
        cfg = CostConfig.from_settings(self.settings)
        used = GaugeMetricFamily(
            "infra_mind_budget_used_ratio", "Share of the monthly budget spent or reserved",
            labels=["budget", "mode"],
        )  # fmt: skip
        limit = GaugeMetricFamily(
            "infra_mind_budget_limit_usd", "Monthly budget", labels=["budget", "mode"]
        )
        for s in statuses(
            self.client, self.settings, run_rate_days=cfg.run_rate_days, thresholds=cfg.thresholds
        ):
            labels = [s.budget.id, str(s.budget.mode)]
            limit.add_metric(labels, float(s.budget.limit_usd))
            if s.used_pct is not None:
                used.add_metric(labels, s.used_pct / 100)
        yield from (cost, requests, tokens, used, limit)
