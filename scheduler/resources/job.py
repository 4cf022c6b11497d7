"""The ``snapshot_resources`` job: heartbeats -> samples, history, trends, capacity advice.

Recent history stays in Redis (a sorted set per pool and host, bounded by age and count); the
full history goes to MongoDB ``resource_snapshots`` (TTL) when configured. A snapshot lost to
a MongoDB outage is only a missing point, so it is logged, not retried. Provisioned time
(instance-seconds and slot-seconds per pool) is counted here for the utilization efficiency
of the cost report.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import redis
from pymongo.database import Database

from scheduler.resources.capacity import PoolPlan, plan_pool
from scheduler.resources.samples import (
    HostSample,
    InstanceSample,
    PoolSample,
    host_samples,
    parse_heartbeat,
    pool_samples,
)
from workers import keys
from workers.errors import BackendUnavailable
from workers.keys import (
    RESOURCE_ACCOUNTED,
    RESOURCE_LATEST,
    resource_history,
    resource_provisioned,
)
from workers.settings import Settings
from workers.stores.indexes import RESOURCE_SNAPSHOTS
from workers.stores.mongo import with_retry

log = logging.getLogger(__name__)

_ACCOUNT = Path(__file__).with_name("account_provisioned.lua").read_text("utf-8")

#: Redis keeps two hours of samples: twice the trend window, so a restart of the job still
#: has a full window behind it.
HISTORY_S = 2 * 3600
#: ... and at most this many per pool/host (two hours at the default 15 s interval).
HISTORY_POINTS = 480
#: Trends and capacity look back one hour: long enough to see a slope, short enough to react.
TREND_WINDOW_S = 3600
#: Provisioned time is counted for gaps up to this many snapshot intervals; a longer gap
#: means the job or the instance was away and is not billed as provisioned.
MAX_GAP_INTERVALS = 3
PROVISIONED_TTL_S = {"hour": 3 * 86_400, "day": 62 * 86_400}


def read_instances(client: redis.Redis) -> list[InstanceSample]:
    """Every registered instance whose heartbeat hash still exists."""
    names = [
        n.decode() if isinstance(n, bytes) else n for n in client.zrange(keys.INSTANCES, 0, -1)
    ]
    with client.pipeline(transaction=False) as pipe:
        for name in names:
            pipe.hgetall(keys.heartbeat(name))
        raws = pipe.execute()
    out = []
    for name, raw in zip(names, raws, strict=True):
        decoded = {_s(k): _s(v) for k, v in raw.items()}
        sample = parse_heartbeat(name, decoded) if decoded else None
        if sample is not None:
            out.append(sample)
    return out


def _s(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def read_backlogs(client: redis.Redis, pools: list[tuple[str, str]]) -> dict[str, int]:
    """Messages waiting per pool queue, priority sub-lists included."""
    with client.pipeline(transaction=False) as pipe:
        for agent_type, pool in pools:
            for key in keys.priority_queue_keys(keys.pool_queue(agent_type, pool)):
                pipe.llen(key)
        lengths = iter(pipe.execute())
    steps = len(keys.priority_queue_keys("q"))
    return {f"{a}.{p}": sum(next(lengths) for _ in range(steps)) for a, p in pools}


def _store_history(
    client: redis.Redis, pools: list[PoolSample], hosts: list[HostSample], now: float
) -> None:
    with client.pipeline(transaction=False) as pipe:
        for kind, name, data in [("pool", p.pool, p.to_dict()) for p in pools] + [
            ("host", h.host, h.to_dict()) for h in hosts
        ]:
            key = resource_history(kind, name)
            pipe.zadd(key, {json.dumps(data, sort_keys=True): now})
            pipe.zremrangebyscore(key, "-inf", now - HISTORY_S)
            pipe.zremrangebyrank(key, 0, -HISTORY_POINTS - 1)
            pipe.expire(key, HISTORY_S)
        pipe.execute()


def pool_history(client: redis.Redis, pool_id: str, since: float) -> list[PoolSample]:
    raw = client.zrangebyscore(resource_history("pool", pool_id), since, "+inf")
    return [PoolSample.from_dict(json.loads(_s(item))) for item in raw]


def _account(client: redis.Redis, instances: list[InstanceSample], settings: Settings,
             now: float) -> None:  # fmt: skip
    hour = time.strftime("%Y-%m-%dT%H", time.gmtime(now))
    day = hour[:10]
    args: list[Any] = [
        repr(now), settings.snapshot_interval_s * MAX_GAP_INTERVALS,
        PROVISIONED_TTL_S["hour"], PROVISIONED_TTL_S["day"],
    ]  # fmt: skip
    for inst in instances:
        args.extend((inst.name, inst.pool_id, inst.concurrency))
    keys_ = [RESOURCE_ACCOUNTED, resource_provisioned(hour), resource_provisioned(day)]
    client.register_script(_ACCOUNT)(keys=keys_, args=args)
    live = {i.name for i in instances}
    gone = [n for n in (_s(k) for k in client.hkeys(RESOURCE_ACCOUNTED)) if n not in live]
    if gone:
        client.hdel(RESOURCE_ACCOUNTED, *gone)


def _archive(
    db: Database, instances: list[InstanceSample], pools: list[PoolSample],
    hosts: list[HostSample], now: float,
) -> None:  # fmt: skip
    ts = datetime.fromtimestamp(now, UTC)
    docs = (
        [{"kind": "instance", "name": i.name, "ts": ts, **vars(i)} for i in instances]
        + [{"kind": "pool", "name": p.pool, **p.to_dict(), "ts": ts} for p in pools]
        + [{"kind": "host", "name": h.host, **h.to_dict(), "ts": ts} for h in hosts]
    )
    if docs:
        coll = db[RESOURCE_SNAPSHOTS]
        with_retry(lambda: coll.insert_many(docs, ordered=False), "archiving resources")


def plan_report(plans: list[PoolPlan]) -> list[dict[str, Any]]:
    out = []
    for p in plans:
        out.append({
            "pool": p.pool, "instances": p.instances,
            "cpu": {"trend": p.cpu.direction, "per_h": round(p.cpu.slope_per_h, 2),
                    "last": p.cpu.last, "hours_to_limit": _r(p.hours_to_cpu)},
            "memory": {"trend": p.memory.direction, "per_h": round(p.memory.slope_per_h, 2),
                       "last": p.memory.last, "hours_to_limit": _r(p.hours_to_memory)},
            "backlog": {"trend": p.backlog.direction, "per_h": round(p.backlog.slope_per_h, 2),
                        "last": p.backlog.last, "limit": _r(p.backlog_limit),
                        "hours_to_limit": _r(p.hours_to_backlog)},
            "throughput_per_s": round(p.throughput_per_s, 3),
            "arrival_per_s": round(p.arrival_per_s, 3),
            "needed_next_hour": p.needed_next_hour,
            "advice": p.advice,
        })  # fmt: skip
    return out


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def run_job(
    redis_client: redis.Redis,
    settings: Settings,
    mongo_db: Database | None = None,
    *,
    now: float | None = None,
) -> dict[str, Any]:
    """Take one snapshot; returns (and stores for the CLI) the resource report."""
    now = time.time() if now is None else now
    pools_cfg = [(a.name, p) for a, p in settings.pools()]
    instances = read_instances(redis_client)
    pools = pool_samples(instances, pools_cfg, read_backlogs(redis_client, pools_cfg), now)
    hosts = host_samples(instances, now)
    _store_history(redis_client, pools, hosts, now)
    _account(redis_client, instances, settings, now)
    plans = []
    for agent, pool in settings.pools():
        history = pool_history(redis_client, f"{agent.name}.{pool}", now - TREND_WINDOW_S)
        plans.append(plan_pool(history, agent.policy(pool), agent.pools[pool].concurrency))
    mongo = "off"
    if mongo_db is not None:
        try:
            _archive(mongo_db, instances, pools, hosts, now)
            mongo = "ok"
        except BackendUnavailable as exc:
            mongo = "unavailable"
            log.warning("resource snapshot not archived: %s", exc)
    report = {
        "ts": now,
        "mongo": mongo,
        "instances": [vars(i) for i in instances],
        "pools": [p.to_dict() for p in pools],
        "hosts": [h.to_dict() for h in hosts],
        "plans": plan_report(plans),
        "advice": [line for p in plans for line in p.advice],
    }
    ttl = max(60, int(settings.snapshot_interval_s * 10))
    redis_client.set(RESOURCE_LATEST, json.dumps(report, default=str), ex=ttl)
    for line in report["advice"]:
        log.warning("capacity: %s", line)
    return report
