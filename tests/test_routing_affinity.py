"""Affinity: consistent hashing with bounded loads, in real Redis with the real Lua."""

from __future__ import annotations

import math
import random
from collections import Counter, deque

import redis

from workers import keys
from workers.routing import keyspace
from workers.routing.decision import AffinityOutcome, decide
from workers.routing.keyspace import Level
from workers.routing.targets import on_task_done, register_target, unregister_target

GROUP = keyspace.group("cto", Level.INSTANCE)
QUEUES = [f"agent.cto.default.{n}@h" for n in range(4)]
FALLBACK = "agent.cto.default"
FACTOR = 1.25


def keyed(client: redis.Redis, key: str, strategy: str = "least_connections") -> str:
    d = decide(client, GROUP, strategy, FALLBACK, affinity_key=key, affinity_factor=FACTOR)
    return d.queue


def first_instances(client: redis.Redis, n: int) -> dict[str, str]:
    """Each key's instance when nothing else is in flight (one request at a time)."""
    first = {}
    for k in range(n):
        key = f"key-{k}"
        first[key] = keyed(client, key)
        on_task_done(client, "cto", first[key], 10.0, True)
    return first


def test_keys_stay_on_their_instance_while_loads_stay_bounded(redis_client: redis.Redis) -> None:
    for queue in QUEUES:
        register_target(redis_client, "cto", queue, capacity=4)
    first = first_instances(redis_client, 1000)
    assert min(Counter(first.values()).values()) > 150  # the ring spreads the keys

    rng = random.Random(7)
    window: deque[str] = deque()
    same = total = 0
    for _ in range(3):  # every key three more times, 100 tasks in flight
        order = list(first)
        rng.shuffle(order)
        for key in order:
            queue = keyed(redis_client, key)
            same += queue == first[key]
            total += 1
            window.append(queue)
            loads = [int(v or 0) for v in redis_client.hmget(keys.INFLIGHT, QUEUES)]
            assert max(loads) <= math.ceil(FACTOR * sum(loads) / len(QUEUES))
            if len(window) > 100:
                on_task_done(redis_client, "cto", window.popleft(), 10.0, True)
    assert same / total >= 0.95


def test_over_the_bound_the_strategy_decides(redis_client: redis.Redis) -> None:
    for queue in QUEUES:
        register_target(redis_client, "cto", queue)
    owner = keyed(redis_client, "hot")
    d = decide(redis_client, GROUP, "least_connections", FALLBACK, affinity_key="hot")
    assert d.affinity is AffinityOutcome.SPILL
    assert d.queue != owner
    assert redis_client.hget(f"{GROUP}:stats", "affinity:spill") == "1"


def test_a_gone_instance_only_moves_its_own_keys(redis_client: redis.Redis) -> None:
    for queue in QUEUES:
        register_target(redis_client, "cto", queue)
    first = first_instances(redis_client, 400)
    gone = QUEUES[1]
    unregister_target(redis_client, "cto", gone)
    after = first_instances(redis_client, 400)
    assert gone not in after.values()
    kept = [k for k in first if first[k] != gone]
    assert all(after[k] == first[k] for k in kept)


def test_affinity_without_live_targets_falls_back(redis_client: redis.Redis) -> None:
    d = decide(redis_client, GROUP, "round_robin", FALLBACK, affinity_key="k")
    assert d.fallback and d.queue == FALLBACK
    assert d.affinity is AffinityOutcome.NO_TARGET
