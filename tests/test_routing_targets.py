"""Targets from heartbeats: registration, expiry, drain, pool aggregation, manual targets."""

from __future__ import annotations

import time

import pytest
import redis

from workers import keys
from workers.errors import InvalidInput
from workers.routing import keyspace
from workers.routing.decision import Status, decide
from workers.routing.keyspace import Level, instance_queue
from workers.routing.targets import (
    mark_draining,
    on_heartbeat,
    on_task_done,
    register_target,
    unregister_target,
)

NOW = 5_000_000.0
IGROUP = keyspace.group("cto", Level.INSTANCE)
PGROUP = keyspace.group("cto", Level.POOL)


def beat(
    client: redis.Redis,
    n: int,
    pool: str = "default",
    *,
    now_ms: float = NOW,
    state: str = "active",
    pid: int = 100,
    concurrency: int = 4,
    cpu: float = 10.0,
) -> str:
    instance = keys.instance_name("cto", pool, n, "h")
    hb = {
        "instance": instance,
        "pid": str(pid + n),
        "host": "h",
        "agent_type": "cto",
        "pool": pool,
        "concurrency": str(concurrency),
        "cpu_percent": str(cpu),
        "mem_percent": "1.5",
        "state": state,
    }
    on_heartbeat(client, hb, now_ms=now_ms)
    return instance


def alive(client: redis.Redis, group: str) -> list[str]:
    return client.zrange(f"{group}:alive", 0, -1)


def test_instance_queue_names() -> None:
    assert instance_queue("cto.default.3@host-1") == "agent.cto.default.3@host-1"
    with pytest.raises(InvalidInput, match="instance name"):
        instance_queue("maintenance@host")


def test_first_heartbeat_registers_instance_and_pool_targets(redis_client: redis.Redis) -> None:
    beat(redis_client, 0)
    beat(redis_client, 1)
    assert alive(redis_client, IGROUP) == ["agent.cto.default.0@h", "agent.cto.default.1@h"]
    assert alive(redis_client, PGROUP) == ["agent.cto.default"]
    pool = redis_client.hgetall(keyspace.target("agent.cto.default"))
    assert (pool["cap"], pool["instances"]) == ("8", "2")
    assert redis_client.hget(f"{PGROUP}:meta", "sum_cap") == "8"


def test_heartbeat_is_idempotent(redis_client: redis.Redis) -> None:
    for _ in range(3):
        beat(redis_client, 0)
    assert redis_client.zcard(f"{IGROUP}:ring") == 256
    assert redis_client.hget(f"{IGROUP}:meta", "sum_cap") == "4"
    assert redis_client.zrange(f"{IGROUP}:wrrw", 0, -1, withscores=True) == [("4", 1.0)]


def test_non_agent_workers_are_ignored(redis_client: redis.Redis) -> None:
    on_heartbeat(redis_client, {"instance": "maintenance@h", "concurrency": "1"})
    assert redis_client.keys("im:lb:*") == []


def test_expired_heartbeat_is_excluded(redis_client: redis.Redis) -> None:
    beat(redis_client, 0, now_ms=NOW)
    beat(redis_client, 1, now_ms=NOW + 5_000)
    # no heartbeat hash: the default TTL (6 s) applies; instance 0 expired at NOW + 6 s
    d = decide(
        redis_client, IGROUP, "round_robin", "agent.cto.default", count=4, now_ms=NOW + 7_000
    )
    assert set(d.picks) == {"agent.cto.default.1@h"}
    assert redis_client.hget(keyspace.target("agent.cto.default.0@h"), "state") == "expired"
    assert redis_client.zcard(f"{IGROUP}:ring") == 256


def test_expiry_follows_the_real_heartbeat_ttl(redis_client: redis.Redis) -> None:
    instance = keys.instance_name("cto", "default", 0, "h")
    redis_client.hset(keys.heartbeat(instance), "state", "active")
    redis_client.pexpire(keys.heartbeat(instance), 300)
    on_heartbeat(redis_client, {"instance": instance, "concurrency": "2"})
    register_target(redis_client, "cto", "agent.cto.default.1@h")
    first = decide(redis_client, IGROUP, "least_connections", "agent.cto.default")
    assert first.queue == "agent.cto.default.0@h"
    time.sleep(0.4)
    later = decide(redis_client, IGROUP, "least_connections", "agent.cto.default", count=3)
    assert set(later.picks) == {"agent.cto.default.1@h"}


def test_returning_heartbeat_rejoins(redis_client: redis.Redis) -> None:
    beat(redis_client, 0, now_ms=NOW)
    d = decide(redis_client, IGROUP, "round_robin", "agent.cto.default", now_ms=NOW + 10_000)
    assert d.status is Status.FALLBACK
    beat(redis_client, 0, now_ms=NOW + 11_000)
    d = decide(redis_client, IGROUP, "round_robin", "agent.cto.default", now_ms=NOW + 11_000)
    assert d.queue == "agent.cto.default.0@h"


def test_draining_heartbeat_is_excluded(redis_client: redis.Redis) -> None:
    beat(redis_client, 0)
    beat(redis_client, 1, state="draining")
    d = decide(redis_client, IGROUP, "round_robin", "agent.cto.default", count=4, now_ms=NOW)
    assert set(d.picks) == {"agent.cto.default.0@h"}
    assert redis_client.hget(keyspace.target("agent.cto.default"), "cap") == "4"


def test_mark_draining_sticks_until_a_new_process(redis_client: redis.Redis) -> None:
    beat(redis_client, 0)
    beat(redis_client, 1)
    mark_draining(redis_client, "cto.default.1@h", now_ms=NOW)
    assert alive(redis_client, IGROUP) == ["agent.cto.default.0@h"]
    beat(redis_client, 1, now_ms=NOW + 1)  # the old process has not noticed yet
    assert alive(redis_client, IGROUP) == ["agent.cto.default.0@h"]
    assert redis_client.hget(keyspace.target("agent.cto.default"), "instances") == "1"
    beat(redis_client, 1, now_ms=NOW + 2, pid=999)  # a restarted instance with that name
    assert len(alive(redis_client, IGROUP)) == 2


def test_draining_every_instance_leaves_the_pool_target(redis_client: redis.Redis) -> None:
    beat(redis_client, 0)
    mark_draining(redis_client, "cto.default.0@h", now_ms=NOW)
    assert alive(redis_client, PGROUP) == []
    d = decide(redis_client, PGROUP, "least_connections", "agent.cto.default", now_ms=NOW)
    assert d.status is Status.FALLBACK


def test_pool_targets_aggregate_their_instances(redis_client: redis.Redis) -> None:
    beat(redis_client, 0, "fast", concurrency=4, cpu=10)
    beat(redis_client, 1, "fast", concurrency=4, cpu=30)
    beat(redis_client, 0, "slow", concurrency=2)
    fast = redis_client.hgetall(keyspace.target("agent.cto.fast"))
    assert (fast["cap"], float(fast["cpu"])) == ("8", 20.0)
    d = decide(redis_client, PGROUP, "least_connections", "agent.cto.fast", count=10, now_ms=NOW)
    # spread in proportion to capacity: 8/8 and 2/2
    assert (d.picks.count("agent.cto.fast"), d.picks.count("agent.cto.slow")) == (8, 2)


def test_completion_decrements_and_never_goes_negative(redis_client: redis.Redis) -> None:
    beat(redis_client, 0)
    d = decide(redis_client, IGROUP, "least_connections", "agent.cto.default", count=2, now_ms=NOW)
    assert on_task_done(redis_client, "cto", d.queue, 120.0, True, now_ms=NOW) == 1
    assert on_task_done(redis_client, "cto", d.queue, 120.0, True, now_ms=NOW) == 0
    assert on_task_done(redis_client, "cto", d.queue, 120.0, True, now_ms=NOW) == 0
    assert redis_client.hget(f"{IGROUP}:meta", "sum_p") == "0"
    assert redis_client.zscore(f"{IGROUP}:lc", d.queue) == 0


def test_manual_targets(redis_client: redis.Redis) -> None:
    register_target(redis_client, "cto", "agent.cto.default.0@remote", capacity=2, weight=3)
    register_target(redis_client, "cto", "agent.cto.default.1@remote", ttl_s=1, now_ms=NOW)
    d = decide(redis_client, IGROUP, "round_robin", "agent.cto.default", count=2, now_ms=NOW)
    assert set(d.picks) == {"agent.cto.default.0@remote", "agent.cto.default.1@remote"}
    d = decide(redis_client, IGROUP, "round_robin", "agent.cto.default", count=2, now_ms=NOW + 2000)
    assert set(d.picks) == {"agent.cto.default.0@remote"}
    assert unregister_target(redis_client, "cto", "agent.cto.default.0@remote")
    assert not unregister_target(redis_client, "cto", "agent.cto.other.0@remote")
    d = decide(redis_client, IGROUP, "round_robin", "agent.cto.default", now_ms=NOW + 2000)
    assert d.status is Status.FALLBACK
    assert redis_client.zcard(f"{IGROUP}:ring") == 0
    assert redis_client.zcard(f"{IGROUP}:wrrw") == 0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"weight": 0}, "weight"),
        ({"weight": -2.5}, "weight"),
        ({"capacity": 0}, "capacity"),
        ({"ttl_s": 0}, "ttl_s"),
    ],
)
def test_manual_target_bad_input(redis_client: redis.Redis, kwargs: dict, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        register_target(redis_client, "cto", "agent.cto.default.0@remote", **kwargs)
    assert redis_client.keys("im:lb:*") == []


def test_manual_target_bad_names(redis_client: redis.Redis) -> None:
    with pytest.raises(InvalidInput, match="queue"):
        register_target(redis_client, "cto", "has space")
    with pytest.raises(InvalidInput, match="agent type"):
        register_target(redis_client, "Bad*Type", "agent.x.y")
