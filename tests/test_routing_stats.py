"""Stats as a Python call and through ``infra-mind lb stats``."""

from __future__ import annotations

import json

import redis
from typer.testing import CliRunner

from workers.routing.cli import app
from workers.routing.decision import decide
from workers.routing.stats import stats
from workers.routing.targets import on_task_done, register_target
from workers.settings import AgentType, load_settings

Q = ["agent.cto.default.0@h", "agent.cto.default.1@h"]


def populate(client: redis.Redis) -> None:
    for queue in Q:
        register_target(client, "cto", queue, capacity=2)
    d = decide(client, "im:lb:cto:instance", "least_connections", "agent.cto.default", count=3)
    decide(client, "im:lb:cto:instance", "round_robin", "agent.cto.default")
    on_task_done(client, "cto", d.picks[0], 250.0, True)


def test_stats_per_target_and_strategy(redis_client: redis.Redis) -> None:
    populate(redis_client)
    settings = load_settings(agents={"cto": AgentType(name="cto", dispatch="instance")})
    data = stats(redis_client, settings)
    (group,) = data["agents"]["cto"]["groups"]
    assert group["routed"] and group["level"] == "instance" and group["live_targets"] == 2
    rows = {t["queue"]: t for t in group["targets"]}
    assert [rows[q]["decisions"] for q in Q] == [3, 1]
    assert [rows[q]["in_flight"] for q in Q] == [2, 1]
    assert 240.0 < rows[Q[0]]["ewma_latency_ms"] <= 250.0
    assert rows[Q[1]]["ewma_latency_ms"] is None
    assert rows[Q[0]]["last_pick_at"] is not None
    assert group["strategies"]["least_connections"]["decisions"] == 3
    assert group["strategies"]["round_robin"]["last_target"] in Q


def test_cli_stats_json(redis_url: str, redis_client: redis.Redis) -> None:
    populate(redis_client)
    env = {"REDIS_URL": redis_url.rsplit("/", 1)[0] + "/1"}
    result = CliRunner().invoke(app, ["stats", "--json"], env=env)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    groups = {g["level"]: g for g in data["agents"]["cto"]["groups"]}
    assert groups["pool"]["routed"] and groups["pool"]["targets"] == []
    assert len(groups["instance"]["targets"]) == 2
    assert set(data["agents"]) >= {"cto", "research"}


def test_cli_stats_table(redis_url: str, redis_client: redis.Redis) -> None:
    populate(redis_client)
    env = {"REDIS_URL": redis_url.rsplit("/", 1)[0] + "/1", "COLUMNS": "200"}
    result = CliRunner().invoke(app, ["stats"], env=env)
    assert result.exit_code == 0, result.output
    assert "agent.cto.default.0@h" in result.stdout
    assert "least_connections" in result.stdout


def test_cli_without_redis_exits_3(redis_client: redis.Redis) -> None:
    result = CliRunner().invoke(app, ["stats"], env={"REDIS_URL": "redis://127.0.0.1:1/0"})
    assert result.exit_code == 3
    assert result.stderr.startswith("error: Redis at")
    assert "Traceback" not in result.output
