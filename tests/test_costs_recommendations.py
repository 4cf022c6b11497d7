"""Cost recommendations: pure rules, and the report that gathers them from Redis."""

from __future__ import annotations

import time
from decimal import Decimal

import redis

from scheduler.costs.budgets import BudgetState, BudgetStatus
from scheduler.costs.config import CostConfig
from scheduler.costs.job import run_job
from scheduler.costs.recommendations import (
    Kind,
    budget_risk,
    cache_gains,
    cheaper_model,
    idle_capacity,
)
from scheduler.costs.report import recommendations
from workers.budget_guard import Budget, BudgetMode, Scope
from workers.events import TaskEvent, TaskStatus, emit
from workers.keys import resource_provisioned
from workers.settings import load_settings


def test_idle_capacity_below_threshold() -> None:
    # 10 instance-hours of 4 slots, busy 4 slot-hours: 10 % busy at $0.10/h → ~$0.90 idle
    rec = idle_capacity("cto.default", 4 * 3600, 40 * 3600, 10 * 3600, Decimal("0.10"), 0.3)
    assert rec is not None and rec.kind is Kind.IDLE_CAPACITY
    assert rec.savings_usd == Decimal("0.9")
    assert "busy 10% of the provisioned time" in rec.message
    assert idle_capacity("p", 20 * 3600, 40 * 3600, 10 * 3600, Decimal("0.1"), 0.3) is None
    assert idle_capacity("p", 0, 100, 60, Decimal("0.1"), 0.3) is None  # under an hour


def test_cheaper_model_in_the_family_with_the_saving() -> None:
    row = {"requests": 1000, "prompt_tokens": 1_000_000, "completion_tokens": 100_000}
    rec = cheaper_model("cto", "gpt-4o", "balanced", row)
    # gpt-4o: 1M × $2.50 + 0.1M × $10 = $3.50; gpt-4o-mini: $0.15 + $0.06 = $0.21
    assert rec is not None and rec.savings_usd == Decimal("3.29")
    assert "gpt-4o-mini instead of gpt-4o would cost $0.2100 instead of $3.50" in rec.message
    assert cheaper_model("cto", "gpt-4o", "best", row) is None
    assert cheaper_model("cto", "gpt-4o-mini", "balanced", row) is None  # no cheaper sibling


def test_cache_gains() -> None:
    row = {"requests": 500, "prompt_tokens": 4_000_000, "cached_tokens": 200_000}
    recs = cache_gains("research", "gpt-4.1", False, row)
    assert [r.kind for r in recs] == [Kind.CACHE, Kind.CACHE]
    assert "response cache is off" in recs[0].message
    # from 5 % to 50 % cached: 1.8M more tokens at $2.00 − $0.50 per MTok = $2.70
    assert recs[1].savings_usd == Decimal("2.7")
    assert cache_gains("research", "gpt-4.1", True, {"requests": 5, "prompt_tokens": 10}) == []


def test_budget_risk() -> None:
    budget = Budget(Scope.AGENT, "cto", Decimal(400), BudgetMode.HARD)
    status = BudgetStatus(budget, Decimal(300), Decimal(0), 75.0, Decimal(520), BudgetState.WARNING)
    rec = budget_risk(status)
    assert rec is not None and rec.message == (
        "agent:cto: month-end projection $520.00 exceeds the $400.00 budget (130%); "
        "new tasks will be refused once it is used up"
    )
    fine = BudgetStatus(budget, Decimal(1), Decimal(0), 0.25, Decimal(30), BudgetState.OK)
    assert budget_risk(fine) is None


def test_report_gathers_recommendations(redis_client: redis.Redis) -> None:
    settings = load_settings(redis_url=None, mongo_url=None)
    now = time.time()
    for i in range(3):
        emit(redis_client, TaskEvent(
            task_id=f"r{i}", agent_type="cto", pool="default", instance="x", provider="simulated",
            model="gpt-4o", status=TaskStatus.SUCCEEDED, prompt_tokens=400_000,
            completion_tokens=50_000, llm_cost_usd="1.5", run_ms=1000.0, finished_at=now,
        ), maxlen=1000)  # fmt: skip
    run_job(redis_client, settings, now=now, config=CostConfig(claim_idle_ms=0))
    day = time.strftime("%Y-%m-%d", time.gmtime(now))
    # 5 instance-hours of 4 slots provisioned, 3 s busy
    redis_client.hset(resource_provisioned(day), mapping={
        "cto.default|instance_ms": 5 * 3600_000, "cto.default|slot_ms": 20 * 3600_000,
    })  # fmt: skip
    kinds = {(r.kind, r.subject) for r in recommendations(redis_client, settings, now=now)}
    assert (Kind.IDLE_CAPACITY, "cto.default") in kinds
    assert (Kind.CHEAPER_MODEL, "cto") in kinds
