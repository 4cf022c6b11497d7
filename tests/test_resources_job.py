"""The snapshot_resources job on a real Redis, with heartbeats written as workers write them."""

from __future__ import annotations

import json

import mongomock
import pytest
import redis

from scheduler.resources.job import HISTORY_POINTS, HISTORY_S, pool_history, run_job
from workers import keys
from workers.keys import RESOURCE_LATEST, resource_provisioned
from workers.settings import Settings, load_settings
from workers.stores.indexes import RESOURCE_SNAPSHOTS

T0 = 1_741_564_800.0  # 2025-03-10T00:00Z


@pytest.fixture(scope="module")
def settings() -> Settings:
    return load_settings(redis_url=None, mongo_url=None, snapshot_interval_s=15)


def beat(client: redis.Redis, name: str, now: float, **fields: object) -> None:
    agent, pool, _ = keys.parse_instance(name) or ("", "", 0)
    data = {
        "instance": name, "pid": 1234, "host": name.split("@")[1], "agent_type": agent,
        "pool": pool, "queue": keys.pool_queue(agent, pool), "concurrency": 4, "active": 1,
        "processed": 0, "failed": 0, "cpu_percent": 10.0, "rss_bytes": 50_000_000,
        "mem_percent": 20.0, "open_files": 12, "threads": 8, "load_avg": 0.5,
        "ewma_latency_ms": 500.0, "state": "active", "started_at": T0 - 600, "updated_at": now,
    }  # fmt: skip
    data.update(fields)
    client.hset(keys.heartbeat(name), mapping={k: str(v) for k, v in data.items()})
    client.zadd(keys.INSTANCES, {name: now})


def test_snapshot_aggregates_pools_and_hosts(redis_client: redis.Redis, settings: Settings) -> None:
    beat(redis_client, "cto.default.1@h1", T0, cpu_percent=30, mem_percent=10, processed=5)
    beat(redis_client, "cto.default.2@h2", T0, cpu_percent=50, mem_percent=25, processed=7)
    beat(redis_client, "research.default.1@h1", T0, state="draining")
    redis_client.zadd(keys.INSTANCES, {"cto.default.3@gone": T0})  # registry entry, no hash
    redis_client.rpush(keys.pool_queue("cto", "default"), "m1", "m2")
    redis_client.rpush(keys.priority_queue_keys(keys.pool_queue("cto", "default"))[1], "m3")
    report = run_job(redis_client, settings, now=T0)
    pools = {p["pool"]: p for p in report["pools"]}
    cto = pools["cto.default"]
    assert (cto["instances"], cto["capacity"], cto["processed"], cto["backlog"]) == (2, 8, 12, 3)
    assert cto["cpu_percent"] == 40 and cto["mem_percent"] == 25
    assert pools["research.default"]["draining"] == 1
    assert pools["compliance.default"]["instances"] == 0  # configured pool, no instance
    hosts = {h["host"]: h for h in report["hosts"]}
    assert hosts["h1"]["instances"] == 2 and hosts["h2"]["cpu_percent"] == 50
    assert report["mongo"] == "off"
    assert json.loads(redis_client.get(RESOURCE_LATEST))["ts"] == T0


def test_history_is_bounded_and_trends_come_from_it(
    redis_client: redis.Redis, settings: Settings
) -> None:
    # memory +4 %/h for three hours, a snapshot every 5 minutes; 78 % at the end
    for i in range(37):
        now = T0 + 300 * i
        beat(redis_client, "cto.default.1@h1", now, mem_percent=66 + 4 * i * 300 / 3600)
        report = run_job(redis_client, settings, now=now)
    plan = next(p for p in report["plans"] if p["pool"] == "cto.default")
    assert plan["memory"]["trend"] == "increasing"
    assert plan["memory"]["hours_to_limit"] == pytest.approx(3.0, abs=0.05)
    assert any(line.startswith("cto: memory rising 4 %/h") for line in report["advice"])
    history = pool_history(redis_client, "cto.default", 0)
    assert len(history) <= HISTORY_POINTS
    assert min(s.ts for s in history) > now - HISTORY_S  # older samples were dropped
    assert len(history) == HISTORY_S // 300


def test_provisioned_time_is_counted_once(redis_client: redis.Redis, settings: Settings) -> None:
    beat(redis_client, "cto.default.1@h1", T0)
    run_job(redis_client, settings, now=T0)
    run_job(redis_client, settings, now=T0 + 15)
    run_job(redis_client, settings, now=T0 + 15)  # the same moment again adds nothing
    run_job(redis_client, settings, now=T0 + 1000)  # a long gap counts 3 intervals at most
    hour = redis_client.hgetall(resource_provisioned("2025-03-10T00"))
    assert hour["cto.default|instance_ms"] == str(15_000 + 45_000)
    assert hour["cto.default|slot_ms"] == str(4 * 60_000)
    assert redis_client.hgetall(resource_provisioned("2025-03-10")) == hour


def test_snapshots_are_archived(redis_client: redis.Redis, settings: Settings) -> None:
    db = mongomock.MongoClient().get_database("infra_mind_test")
    beat(redis_client, "cto.default.1@h1", T0)
    report = run_job(redis_client, settings, db, now=T0)
    assert report["mongo"] == "ok"
    kinds = {d["kind"] for d in db[RESOURCE_SNAPSHOTS].find()}
    assert kinds == {"instance", "pool", "host"}
