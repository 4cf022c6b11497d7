"""``scale show | set | history`` through typer's runner on a real Redis."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
import redis
from typer.testing import CliRunner

from scheduler.autoscale.actuators.local import LocalActuator
from scheduler.autoscale.cli import app
from scheduler.autoscale.job import run_job
from workers import keys
from workers.settings import Settings, load_settings

runner = CliRunner()


@pytest.fixture
def obj(redis_client: redis.Redis) -> dict[str, Any]:
    settings: Settings = load_settings(redis_url="redis://unused")
    return {"settings": settings, "redis": redis_client}


def test_show_explains_a_growing_pool(obj: dict[str, Any]) -> None:
    client: redis.Redis = obj["redis"]
    now = time.time()
    client.set(keys.desired_instances("cto", "default"), "1")
    message = json.dumps({"body": "", "headers": {"im_sent_at": now - 12}})
    client.lpush(keys.pool_queue("cto", "default"), *[message] * 20)
    run_job(client, obj["settings"], now=now, actuator=LocalActuator(client))
    result = runner.invoke(app, ["show", "--json", "--pool", "cto.default"], obj=obj)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)["pools"][0]
    assert report["pool"] == "cto.default"
    assert report["signals"]["queue_depth"] == 20
    assert report["desired"] == 4
    assert report["decisions"][0]["direction"] == "up"
    assert (
        "waited" in report["decisions"][0]["reason"]
        or "backlog" in report["decisions"][0]["reason"]
    )
    assert "capped at the maximum of 4" in report["now"]["reason"]
    # show reads without recording a rate sample
    assert client.llen(keys.scale_samples("cto", "default")) == 1
    table = runner.invoke(app, ["show"], obj=obj)
    assert table.exit_code == 0
    assert "cto.default" in table.stdout and "Last decisions" in table.stdout


def test_set_validates_and_stores(obj: dict[str, Any]) -> None:
    result = runner.invoke(
        app, ["set", "cto.default", "--max", "6", "--min", "2", "--json"], obj=obj
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["policy"]["max"] == 6
    shown = json.loads(runner.invoke(app, ["show", "--json"], obj=obj).stdout)
    cto = next(p for p in shown["pools"] if p["pool"] == "cto.default")
    assert cto["overrides"] == {"max": 6, "min": 2}
    assert cto["policy"]["min"] == 2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["set", "cto.default", "--min", "9"], "error: policy: min (9) is greater than max (4)"),
        (["set", "cto.default", "--min", "0"], "min = 0 needs scale_to_zero = true"),
        (["set", "cto.default"], "error: nothing to set"),
        (["set", "cto.gpu", "--max", "3"], "error: unknown pool 'cto.gpu'; known: cto.default"),
        (["set", "cto", "--max", "3"], "expected <type>.<pool>"),
        (["show", "--pool", "ghost.default"], "error: unknown agent type 'ghost'"),
    ],
)
def test_bad_input_exits_2_with_one_line(
    obj: dict[str, Any], args: list[str], message: str
) -> None:
    result = runner.invoke(app, args, obj=obj)
    assert result.exit_code == 2
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert obj["redis"].keys("im:scale:policy:*") == []


def test_reset_drops_the_override(obj: dict[str, Any]) -> None:
    runner.invoke(app, ["set", "cto.default", "--max", "6"], obj=obj)
    result = runner.invoke(app, ["set", "cto.default", "--reset"], obj=obj)
    assert result.exit_code == 0
    assert "max=4" in result.stdout


def test_history_lists_changes(obj: dict[str, Any]) -> None:
    client: redis.Redis = obj["redis"]
    assert "no decisions" in runner.invoke(app, ["history"], obj=obj).stdout
    now = time.time()
    run_job(client, obj["settings"], now=now, actuator=LocalActuator(client))
    run_job(client, obj["settings"], now=now + 5, actuator=LocalActuator(client))
    everything = json.loads(
        runner.invoke(app, ["history", "--json", "--limit", "50"], obj=obj).stdout
    )
    assert len(everything) == 12
    changes = json.loads(runner.invoke(app, ["history", "--json", "--changes"], obj=obj).stdout)
    assert {d["direction"] for d in changes} == {"up"} and len(changes) == 6
    assert "below the minimum" in runner.invoke(app, ["history"], obj=obj).stdout


def test_connects_from_the_environment(
    redis_url: str, redis_client: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REDIS_URL", redis_url.rsplit("/", 1)[0] + "/1")
    result = runner.invoke(app, ["history", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == []
