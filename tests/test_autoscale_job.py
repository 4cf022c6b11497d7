"""The autoscale job under its lock, with the local actuator on a real Redis."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import mongomock
import pytest
import redis

from scheduler.autoscale import history
from scheduler.autoscale.actuators.local import LocalActuator
from scheduler.autoscale.job import run_job
from scheduler.autoscale.policy import boot_time, set_override
from workers import keys
from workers.budget_guard import month_of
from workers.errors import BackendUnavailable, ConfigError
from workers.keys import budget_spent
from workers.lock import RedisLock
from workers.pricing import usd_to_pico
from workers.settings import Settings, load_settings

NOW = float(int(time.time()))
POOLS = ["cto", "cloud_engineer", "research", "compliance", "mlops", "report_generator"]


@pytest.fixture
def settings() -> Settings:
    return load_settings(redis_url="redis://unused")


def push_backlog(client: redis.Redis, agent_type: str, count: int, sent_at: float) -> None:
    queue = keys.pool_queue(agent_type, "default")
    message = json.dumps({"body": "", "headers": {"im_sent_at": sent_at}, "properties": {}})
    client.lpush(queue, *[message] * count)


def beat(
    client: redis.Redis,
    instance: str,
    updated_at: float,
    active: int = 0,
    started_at: float | None = None,
) -> None:
    started = updated_at - 60 if started_at is None else started_at
    fields = {"concurrency": "4", "active": str(active), "state": "active"}
    fields |= {"updated_at": repr(updated_at), "started_at": repr(started)}
    client.hset(keys.heartbeat(instance), mapping=fields)
    client.zadd(keys.INSTANCES, {instance: updated_at})


def test_the_lock_is_released_only_by_its_holder(redis_client: redis.Redis) -> None:
    first = RedisLock(redis_client, "im:test:lock", ttl_ms=50)
    assert first.acquire()
    assert not RedisLock(redis_client, "im:test:lock", ttl_ms=1000).acquire()
    time.sleep(0.1)  # the first holder outlived its lock
    second = RedisLock(redis_client, "im:test:lock", ttl_ms=10_000)
    assert second.acquire()
    assert first.release() is False
    assert redis_client.get("im:test:lock") == second.token
    with RedisLock(redis_client, "im:test:lock", ttl_ms=1000) as third:
        assert not third.acquired
    assert second.release() is True
    assert redis_client.get("im:test:lock") is None


def test_two_concurrent_runs_produce_one_decision(
    redis_client: redis.Redis, redis_url: str, settings: Settings
) -> None:
    url = redis_url.rsplit("/", 1)[0] + "/1"
    clients = [redis.Redis.from_url(url, decode_responses=True) for _ in range(4)]
    barrier = threading.Barrier(len(clients))
    results: list[dict[str, Any]] = []

    def run(client: redis.Redis) -> None:
        barrier.wait()
        results.append(run_job(client, settings, now=NOW, actuator=LocalActuator(client)))

    threads = [threading.Thread(target=run, args=(c,)) for c in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    for client in clients:
        client.close()
    decided = [r for r in results if r["skipped"] is None]
    assert len(results) == 4 and len(decided) == 1
    assert len(decided[0]["decisions"]) == len(POOLS)
    for agent_type in POOLS:
        assert redis_client.llen(keys.scale_decisions(agent_type, "default")) == 1
    assert redis_client.get(keys.SCALE_LOCK) is None


def test_a_duplicate_beat_within_the_interval_skips(
    redis_client: redis.Redis, settings: Settings
) -> None:
    actuator = LocalActuator(redis_client)
    assert run_job(redis_client, settings, now=NOW, actuator=actuator)["skipped"] is None
    again = run_job(redis_client, settings, now=NOW + 1, actuator=actuator)
    assert again["skipped"] == "already decided 1.0 s ago"
    later = run_job(redis_client, settings, now=NOW + 5, actuator=actuator)
    assert later["skipped"] is None
    assert redis_client.llen(keys.scale_decisions("cto", "default")) == 2


def test_a_backlog_grows_the_pool_and_the_reason_says_why(
    redis_client: redis.Redis, settings: Settings
) -> None:
    actuator = LocalActuator(redis_client)
    beat(redis_client, "cto.default.1@host", NOW - 1, active=4)
    actuator.apply("cto", "default", 1)
    push_backlog(redis_client, "cto", 30, NOW - 12)
    result = run_job(redis_client, settings, now=NOW, actuator=actuator)
    cto = next(d for d in result["decisions"] if d["pool"] == "cto.default")
    assert (cto["current"], cto["desired"], cto["direction"]) == (1, 4, "up")
    assert cto["applied"] and "backlog 34" in cto["reason"]
    assert redis_client.get(keys.desired_instances("cto", "default")) == "4"
    # Every other pool had no size yet: it is set to its minimum.
    assert redis_client.get(keys.desired_instances("research", "default")) == "1"
    stored = history.recent(redis_client, "cto", "default")[0]
    assert stored.applied and stored.inputs["signals"]["queue_depth"] == 30


def test_a_budget_block_and_a_failing_actuator_are_recorded(
    redis_client: redis.Redis, settings: Settings
) -> None:
    class FailingForResearch(LocalActuator):
        def apply(self, agent_type: str, pool: str, desired: int) -> None:
            if agent_type == "research":
                raise BackendUnavailable("cluster API unreachable")
            super().apply(agent_type, pool, desired)

    actuator = FailingForResearch(redis_client)
    for agent_type in ("cto", "research"):
        redis_client.set(keys.desired_instances(agent_type, "default"), "1")
        push_backlog(redis_client, agent_type, 30, NOW - 12)
    result = run_job(
        redis_client,
        settings,
        now=NOW,
        actuator=actuator,
        budget_blocked=lambda agent_type: agent_type == "cto",
    )
    by_pool = {d["pool"]: d for d in result["decisions"]}
    assert by_pool["cto.default"]["direction"] == "hold"
    assert "budget exhausted" in by_pool["cto.default"]["reason"]
    assert by_pool["research.default"]["error"] == "cluster API unreachable"
    assert not by_pool["research.default"]["applied"]
    assert len(by_pool) == len(POOLS)


def test_decisions_are_archived_when_a_database_is_given(
    redis_client: redis.Redis, settings: Settings
) -> None:
    db = mongomock.MongoClient()["infra_mind"]
    run_job(redis_client, settings, db, now=NOW, actuator=LocalActuator(redis_client))
    assert db[history.COLLECTION].count_documents({}) == len(POOLS)


def test_a_used_up_hard_budget_blocks_growth_by_default(
    redis_client: redis.Redis, settings: Settings
) -> None:
    cto = settings.agents["cto"]
    settings.agents["cto"] = cto.model_copy(update={"budget_mode": "hard"})
    spent = usd_to_pico(cto.monthly_budget_usd)
    redis_client.hset(budget_spent(month_of(NOW)), "agent:cto", str(spent))
    for agent_type in ("cto", "research"):
        redis_client.set(keys.desired_instances(agent_type, "default"), "1")
        push_backlog(redis_client, agent_type, 30, NOW - 12)
    result = run_job(redis_client, settings, now=NOW, actuator=LocalActuator(redis_client))
    by_pool = {d["pool"]: d for d in result["decisions"]}
    assert "budget exhausted" in by_pool["cto.default"]["reason"]
    assert by_pool["research.default"]["direction"] == "up"


def test_boot_time_is_measured_from_the_scale_up_to_the_first_heartbeat(
    redis_client: redis.Redis, settings: Settings
) -> None:
    actuator = LocalActuator(redis_client)
    beat(redis_client, "cto.default.1@host", NOW - 1, active=4)
    actuator.apply("cto", "default", 1)
    push_backlog(redis_client, "cto", 30, NOW - 12)
    run_job(redis_client, settings, now=NOW, actuator=actuator)
    beat(redis_client, "cto.default.1@host", NOW + 5, active=4)
    beat(redis_client, "cto.default.2@host", NOW + 5, started_at=NOW + 3.5)
    beat(redis_client, "cto.default.3@host", NOW + 5, started_at=NOW + 4.5)
    run_job(redis_client, settings, now=NOW + 6, actuator=actuator)
    assert boot_time(redis_client, "cto", "default") == 4.0
    with pytest.raises(ConfigError, match="boot time"):
        set_override(redis_client, settings, "cto", "default", {"cooldown_up_s": 2})
