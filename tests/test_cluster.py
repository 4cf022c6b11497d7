"""End to end with real worker processes: tasks, results, events, heartbeats, status."""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from celery import Celery
from typer.testing import CliRunner

from tests.cluster import cluster_settings, start_cluster, wait_for_instances
from workers import keys
from workers.app import create_app
from workers.cli import app as cli
from workers.events import TaskEvent, TaskStatus
from workers.settings import Settings
from workers.submit import submit
from workers.supervisor import Supervisor

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cluster(
    redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Settings, Supervisor, Celery]]:
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    settings = cluster_settings(redis_url, tmp_path_factory.mktemp("state"))
    sup = start_cluster(settings)
    app = create_app(settings)
    try:
        wait_for_instances(client, settings, 3)
        yield settings, sup, app
    finally:
        app.close()
        sup.stop_all()
        client.close()


@pytest.fixture
def db(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    yield client
    client.close()


def test_sixty_tasks_across_three_types_complete_with_one_event_each(
    cluster: tuple[Settings, Supervisor, Celery], db: redis.Redis
) -> None:
    settings, _, app = cluster
    start_id = (db.xinfo_stream(keys.EVENTS_STREAM)["last-generated-id"]
                if db.exists(keys.EVENTS_STREAM) else "0-0")  # fmt: skip
    types = ["cto", "research", "compliance"]
    handles = [submit(types[i % 3], f"task number {i}", app=app, tenant="acme") for i in range(60)]
    results = {h.id: h.get(timeout=60) for h in handles}
    for handle in handles:
        result = results[handle.id]
        model = settings.agent(handle.agent_type).model
        assert result["agent_type"] == handle.agent_type
        assert result["model"] == model
        assert result["text"].startswith(f"[{model}] ")
        assert result["prompt_tokens"] > 0 and result["completion_tokens"] > 0
        assert result["instance"].startswith(f"{handle.agent_type}.default.1@")
        assert result["llm_cost_usd"] is not None
    # The same prompt again is answered from the response cache, at no LLM cost.
    again = submit("cto", "task number 0", app=app).get(timeout=30)
    assert again["text"] == results[handles[0].id]["text"]
    assert again["cache_hit"] is True and again["price_source"] == "cache"
    entries = db.xrange(keys.EVENTS_STREAM, f"({start_id}", "+")
    events = [TaskEvent.from_fields(fields) for _, fields in entries]
    by_task = {}
    for event in events:
        assert event.task_id not in by_task, "two events for one task"
        by_task[event.task_id] = event
    assert set(results) <= set(by_task)
    for handle in handles:
        event = by_task[handle.id]
        assert event.status is TaskStatus.SUCCEEDED
        assert event.agent_type == handle.agent_type and event.pool == "default"
        assert event.tenant == "acme"
        assert event.prompt_tokens == results[handle.id]["prompt_tokens"]
        assert event.llm_cost_usd == results[handle.id]["llm_cost_usd"]
        assert event.priced and event.price_source.startswith("genai-prices")
        assert event.queue_wait_ms >= 0 and event.run_ms > 0


def test_heartbeats_carry_instance_state(
    cluster: tuple[Settings, Supervisor, Celery], db: redis.Redis
) -> None:
    names = db.zrange(keys.INSTANCES, 0, -1)
    assert {n.split("@")[0] for n in names} >= {
        "cto.default.1",
        "research.default.1",
        "compliance.default.1",
    }
    hb = db.hgetall(keys.heartbeat(next(n for n in names if n.startswith("cto."))))
    for field in ("pid", "host", "pool", "concurrency", "active", "processed", "cpu_percent",
                  "rss_bytes", "ewma_latency_ms", "run_ms_total", "state"):  # fmt: skip
        assert field in hb, field
    assert hb["state"] == "active" and hb["agent_type"] == "cto"
    if int(hb["processed"]):  # the first test ran tasks here: their run time is summed
        assert float(hb["run_ms_total"]) > 0
    assert int(hb["rss_bytes"]) > 10_000_000
    ttl = db.pttl(keys.heartbeat(names[0]))
    assert 0 < ttl <= 2000


def test_status_cli_reports_every_pool(
    cluster: tuple[Settings, Supervisor, Celery], redis_url: str
) -> None:
    settings, _, _ = cluster
    env = {"REDIS_URL": redis_url, "INFRA_MIND_AGENTS_FILE": str(settings.agents_file)}
    result = CliRunner().invoke(cli, ["status", "--json"], env=env)
    assert result.exit_code == 0, result.output
    pools = {p["pool"]: p for p in json.loads(result.stdout)["pools"]}
    assert set(pools) == {"cto.default", "research.default", "compliance.default"}
    assert all(p["healthy"] == 1 for p in pools.values())
    table = CliRunner().invoke(cli, ["status"], env=env)
    assert table.exit_code == 0 and "cto.default" in table.stdout


def test_heartbeat_expires_after_the_worker_is_killed(
    cluster: tuple[Settings, Supervisor, Celery], db: redis.Redis
) -> None:
    settings, sup, _ = cluster
    agent = settings.agent("compliance")
    extra = sup.agent_spec(agent, "default", 7)
    sup.spawn(extra)
    name = f"compliance.default.7@{os.uname().nodename}"
    deadline = time.monotonic() + 60
    while not db.exists(keys.heartbeat(name)):
        assert time.monotonic() < deadline, "no heartbeat from the new instance"
        time.sleep(0.1)
    assert extra.proc is not None
    extra.proc.send_signal(signal.SIGKILL)
    extra.proc.wait()
    del sup.managed[extra.name]
    killed_at = time.monotonic()
    while db.exists(keys.heartbeat(name)):
        assert time.monotonic() - killed_at < 5, "heartbeat outlived its TTL"
        time.sleep(0.1)
    assert time.monotonic() - killed_at <= settings.heartbeat_ttl_s + 0.5


def test_graceful_stop_removes_the_heartbeat_at_once(
    cluster: tuple[Settings, Supervisor, Celery], db: redis.Redis
) -> None:
    settings, sup, _ = cluster
    extra = sup.agent_spec(settings.agent("research"), "default", 8)
    sup.spawn(extra)
    name = f"research.default.8@{os.uname().nodename}"
    deadline = time.monotonic() + 60
    while not db.exists(keys.heartbeat(name)):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    sup.begin_stop(extra)
    assert extra.proc is not None
    extra.proc.wait(20)
    assert not db.exists(keys.heartbeat(name))
    assert db.zscore(keys.INSTANCES, name) is None
    del sup.managed[extra.name]


def test_reaper_forgets_instances_without_heartbeat(db: redis.Redis, tmp_path: Path) -> None:
    from scheduler.reaper import run_job

    settings = cluster_settings("redis://unused", tmp_path)
    db.zadd(keys.INSTANCES, {"ghost.default.1@h": time.time() - 60})
    out = run_job(db, settings)
    assert "ghost.default.1@h" in out["reaped"]
    assert db.zscore(keys.INSTANCES, "ghost.default.1@h") is None
