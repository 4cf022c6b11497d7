"""The costs, budgets and resources commands through typer's runner, on a real Redis."""

from __future__ import annotations

import json
import time
from decimal import Decimal
from pathlib import Path

import pytest
import redis
from typer.testing import CliRunner

from scheduler.costs.cli import app as costs_app
from scheduler.costs.config import CostConfig
from scheduler.costs.job import run_job
from scheduler.resources.cli import app as resources_app
from workers import keys
from workers.budget_guard import record_spend
from workers.events import TaskEvent, TaskStatus, emit
from workers.settings import Settings, load_settings

runner = CliRunner(env={"COLUMNS": "200"})


@pytest.fixture(scope="module")
def settings() -> Settings:
    return load_settings(redis_url=None, mongo_url=None)


def rolled_up(client: redis.Redis, settings: Settings) -> None:
    now = time.time()
    for i in range(6):
        agent = ("cto", "research")[i % 2]
        emit(client, TaskEvent(
            task_id=f"c{i}", agent_type=agent, pool="default", instance="x", provider="simulated",
            model="gpt-4o", status=TaskStatus.SUCCEEDED, prompt_tokens=100, completion_tokens=10,
            llm_cost_usd="0.125", compute_cost_usd="0.000001", run_ms=250.0,
            tenant="acme" if i < 2 else "", finished_at=now,
        ), maxlen=10_000)  # fmt: skip
    run_job(client, settings, config=CostConfig(claim_idle_ms=0))


def test_costs_json_per_agent(redis_client: redis.Redis, settings: Settings) -> None:
    rolled_up(redis_client, settings)
    obj = {"redis": redis_client, "settings": settings}
    result = runner.invoke(costs_app, ["costs", "--json"], obj=obj)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    lines = {line["key"]: line for line in report["lines"]}
    assert lines["cto"]["requests"] == 3
    assert Decimal(lines["cto"]["total_usd"]) == Decimal("0.375003")
    assert Decimal(report["total"]["total_usd"]) == Decimal("0.750006")
    assert Decimal(report["month_to_date_usd"]) == Decimal("0.750006")
    assert report["by"] == "agent" and report["period"] == "day"


def test_costs_by_tenant_for_the_month_and_as_a_table(
    redis_client: redis.Redis, settings: Settings
) -> None:
    rolled_up(redis_client, settings)
    obj = {"redis": redis_client, "settings": settings}
    result = runner.invoke(costs_app, ["costs", "--by", "tenant", "--period", "month", "--json"],
                           obj=obj)  # fmt: skip
    keys_ = {line["key"]: line["requests"] for line in json.loads(result.stdout)["lines"]}
    assert keys_ == {"acme": 2, "(none)": 4}
    table = runner.invoke(costs_app, ["costs", "--by", "pool"], obj=obj)
    assert table.exit_code == 0 and "cto.default" in table.stdout and "projection" in table.stdout


def test_bad_option_exits_2(redis_client: redis.Redis, settings: Settings) -> None:
    obj = {"redis": redis_client, "settings": settings}
    assert runner.invoke(costs_app, ["costs", "--by", "planet"], obj=obj).exit_code == 2


def test_no_redis_is_one_clear_line(tmp_path: Path) -> None:
    settings = load_settings(redis_url=None, mongo_url=None, state_dir=tmp_path)
    result = runner.invoke(costs_app, ["budgets"], obj={"settings": settings})
    assert result.exit_code == 3
    assert result.stderr.startswith("error: no Redis") and "Traceback" not in result.output


def test_budgets_json(redis_client: redis.Redis, settings: Settings) -> None:
    record_spend(redis_client, "cto", "", Decimal(200))
    result = runner.invoke(costs_app, ["budgets", "--json"],
                           obj={"redis": redis_client, "settings": settings})  # fmt: skip
    rows = {r["budget"]: r for r in json.loads(result.stdout)}
    assert rows["agent:cto"]["used_pct"] == 50.0 and rows["agent:cto"]["state"] == "warning"
    table = runner.invoke(costs_app, ["budgets"], obj={"redis": redis_client, "settings": settings})
    assert "agent:cto" in table.stdout


def test_resources_takes_a_snapshot_when_none_is_recent(
    redis_client: redis.Redis, settings: Settings
) -> None:
    name = "cto.default.1@h1"
    redis_client.hset(keys.heartbeat(name), mapping={
        "agent_type": "cto", "pool": "default", "host": "h1", "concurrency": "4",
        "cpu_percent": "12", "mem_percent": "3", "rss_bytes": "1000000", "updated_at": "1",
    })  # fmt: skip
    redis_client.zadd(keys.INSTANCES, {name: 1})
    obj = {"redis": redis_client, "settings": settings}
    result = runner.invoke(resources_app, ["resources", "--json"], obj=obj)
    assert result.exit_code == 0, result.output
    pools = {p["pool"]: p for p in json.loads(result.stdout)["pools"]}
    assert pools["cto.default"]["instances"] == 1
    table = runner.invoke(resources_app, ["resources"], obj=obj)
    assert table.exit_code == 0 and "cto.default" in table.stdout and "h1" in table.stdout
