"""Budgets: hard refusal, atomic reservations, reconciliation, threshold alerts once each."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest
import redis
from pydantic import Field

from scheduler.costs.budgets import BudgetState, crossed, fire_alerts, statuses
from workers.budget_guard import (
    check_budget,
    estimate_call_cost,
    hard_budget_block,
    reconcile,
    record_spend,
    reserve,
)
from workers.errors import BudgetExceeded
from workers.keys import BUDGET_ALERTS
from workers.settings import AgentType, Settings, load_settings

T0 = 1_741_564_800.0  # 2025-03-10T00:00Z


class TenantSettings(Settings):
    """Settings with the per-tenant budget table the budgets read when it exists."""

    tenant_budgets: dict[str, dict[str, Any]] = Field(default_factory=dict)


def make_settings(mode: str = "hard", limit: str = "1", **tenants: dict[str, Any]) -> Settings:
    base = load_settings(redis_url=None, mongo_url=None)
    agents = dict(base.agents)
    agents["cto"] = AgentType(name="cto", model="gpt-4o", monthly_budget_usd=Decimal(limit),
                              budget_mode=mode)  # type: ignore[arg-type]  # fmt: skip
    return TenantSettings(agents=agents, tenant_budgets=tenants)


def test_hard_budget_blocks_with_a_clear_error(redis_client: redis.Redis) -> None:
    settings = make_settings()
    check_budget(redis_client, settings, "cto", now=T0)  # nothing spent: fine
    record_spend(redis_client, "cto", "", Decimal("1.00"), now=T0)
    with pytest.raises(BudgetExceeded) as err:
        check_budget(redis_client, settings, "cto", now=T0)
    msg = str(err.value)
    assert "hard budget agent:cto (2025-03)" in msg and "$1.00 of $1.00" in msg
    assert err.value.exit_code == 4
    assert "agent:cto" in (hard_budget_block(redis_client, settings, "cto", now=T0) or "")
    check_budget(redis_client, settings, "research", now=T0)  # other types are not affected
    check_budget(redis_client, settings, "cto", now=T0 + 31 * 86_400)  # a new month


def test_soft_budget_never_refuses(redis_client: redis.Redis) -> None:
    settings = make_settings(mode="soft")
    record_spend(redis_client, "cto", "", Decimal(5), now=T0)
    check_budget(redis_client, settings, "cto", now=T0)
    reserve(redis_client, settings, "cto", "", Decimal(1), now=T0)


def test_reservations_cannot_overshoot_and_reconcile_once(redis_client: redis.Redis) -> None:
    settings = make_settings(limit="1")
    held = [reserve(redis_client, settings, "cto", "", Decimal("0.3"), now=T0) for _ in range(3)]
    with pytest.raises(BudgetExceeded, match=r"estimate \$0\.3000 would exceed"):
        reserve(redis_client, settings, "cto", "", Decimal("0.3"), now=T0)
    for r in held:
        assert reconcile(redis_client, r, Decimal("0.25"), now=T0) is True
    assert reconcile(redis_client, held[0], Decimal("0.25"), now=T0) is False  # settled once
    reserve(redis_client, settings, "cto", "", Decimal("0.25"), now=T0)  # 0.75 + 0.25 = 1.00
    with pytest.raises(BudgetExceeded, match="used up"):
        reserve(redis_client, settings, "cto", "", None, now=T0)  # even an unpriced call


def test_parallel_workers_cannot_overspend(redis_client: redis.Redis, redis_url: str) -> None:
    settings = make_settings(limit="1")
    url = redis_url.rsplit("/", 1)[0] + "/1"
    granted: list[bool] = []

    def worker() -> None:
        client = redis.Redis.from_url(url)
        for _ in range(5):
            try:
                reserve(client, settings, "cto", "", Decimal("0.04"), now=T0)
                granted.append(True)
            except BudgetExceeded:
                granted.append(False)
        client.close()

    threads = [threading.Thread(target=worker) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert granted.count(True) == 25  # 25 × $0.04 = $1.00 exactly, not one more


def test_a_dead_workers_reservation_is_released(redis_client: redis.Redis) -> None:
    settings = make_settings(limit="1")
    reserve(redis_client, settings, "cto", "", Decimal("0.9"), now=T0)
    with pytest.raises(BudgetExceeded):
        reserve(redis_client, settings, "cto", "", Decimal("0.2"), now=T0)
    later = T0 + settings.task_time_limit_s + 120  # past the reservation's expiry
    reserve(redis_client, settings, "cto", "", Decimal("0.2"), now=later)


def test_tenant_budget_refuses_by_name(redis_client: redis.Redis) -> None:
    settings = make_settings(
        mode="soft", limit="100", acme={"monthly_budget_usd": "2", "budget_mode": "hard"}
    )
    record_spend(redis_client, "cto", "acme", Decimal(2), now=T0)
    with pytest.raises(BudgetExceeded, match="tenant:acme"):
        check_budget(redis_client, settings, "cto", "acme", now=T0)
    check_budget(redis_client, settings, "cto", "globex", now=T0)


def test_estimate_covers_max_tokens() -> None:
    agent = AgentType(name="cto", model="gpt-4o", max_tokens=500, hourly_rate_usd=Decimal(0))
    # 1000 prompt × $2.50 + 500 out × $10 per MTok = $0.0075
    assert estimate_call_cost(agent, 1000) == Decimal("0.0075")
    assert estimate_call_cost(agent.model_copy(update={"model": "mystery-9"}), 10) is None


def test_thresholds_are_crossed_by_exact_shares() -> None:
    assert crossed(499_999_999_999, Decimal(1), (50, 80, 100)) == []
    assert crossed(500_000_000_000, Decimal(1), (50, 80, 100)) == [50]
    assert crossed(10**12, Decimal(1), (50, 80, 100)) == [50, 80, 100]
    assert crossed(1, Decimal(0), (50,)) == [50]


@pytest.fixture
def webhook() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    received: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append(json.loads(body))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/hook", received
    server.shutdown()


def test_each_threshold_fires_once_per_month(
    redis_client: redis.Redis, webhook: tuple[str, list[dict[str, Any]]]
) -> None:
    url, received = webhook
    settings = make_settings(mode="soft", limit="10")

    def fire(now: float = T0) -> list[int]:
        alerts = fire_alerts(redis_client, settings, now=now, webhook_url=url)
        return [a.threshold for a in alerts if a.budget == "agent:cto"]

    record_spend(redis_client, "cto", "", Decimal("5.5"), now=T0)
    assert fire() == [50]
    assert fire() == []  # not again
    record_spend(redis_client, "cto", "", Decimal("4.5"), now=T0)  # 10.0: 80 and 100 at once
    assert fire() == [80, 100]
    assert fire() == []
    next_month = T0 + 31 * 86_400
    record_spend(redis_client, "cto", "", Decimal(6), now=next_month)
    assert fire(next_month) == [50]  # a new month alerts again
    assert redis_client.xlen(BUDGET_ALERTS) == 4
    assert [r["threshold"] for r in received] == [50, 80, 100, 50]
    assert received[0]["message"].startswith("budget agent:cto reached 50 % of $10.00 for 2025-03")


def test_status_shows_share_and_projection(redis_client: redis.Redis) -> None:
    settings = make_settings(mode="hard", limit="10")
    record_spend(redis_client, "cto", "", Decimal(8), now=T0)
    status = next(s for s in statuses(redis_client, settings, now=T0) if s.budget.id == "agent:cto")
    assert status.used_pct == 80.0 and status.state is BudgetState.WARNING
    assert status.spent_usd == Decimal(8)
    assert status.projected_usd == Decimal(8)  # no rollup history yet: no run rate


def test_rolled_up_spend_counts_without_reconciliation(redis_client: redis.Redis) -> None:
    """Spend the rollup has counted blocks a hard budget even if no call was reconciled."""
    from scheduler.costs.config import CostConfig
    from scheduler.costs.job import run_job
    from workers.events import TaskEvent, TaskStatus, emit

    settings = make_settings(limit="1")
    for i in range(2):
        emit(redis_client, TaskEvent(
            task_id=f"b{i}", agent_type="cto", pool="default", instance="x", provider="p",
            model="gpt-4o", status=TaskStatus.SUCCEEDED, llm_cost_usd="0.5", finished_at=T0,
        ), maxlen=1000)  # fmt: skip
    run_job(redis_client, settings, now=T0, config=CostConfig(claim_idle_ms=0))
    with pytest.raises(BudgetExceeded, match=r"agent:cto \(2025-03\): \$1\.00 of \$1\.00"):
        check_budget(redis_client, settings, "cto", now=T0)
    with pytest.raises(BudgetExceeded, match="agent:cto"):
        reserve(redis_client, settings, "cto", "", Decimal("0.01"), now=T0)
