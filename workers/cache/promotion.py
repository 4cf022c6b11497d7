"""One run of tier promotion: bound the Redis tiers, then move keys between tiers.

Steps, each safe to repeat: (1) replay the access log through the capacity policy and demote
its victims to cold; (2) read the decayed statistics and plan the tiers (``tier_plan``);
(3) publish the new hot set so every worker's in-process tier follows; (4) cool idle warm keys
to cold, evict cold keys past their TTL and forget statistics of keys that are gone. Moves are
atomic per key (Lua), so a run killed half-way leaves every key in exactly one tier.
"""

from __future__ import annotations

from importlib import resources
from typing import Any

import redis

from workers import keys as cache_keys
from workers.cache.access_stats import decayed, epoch_of, parse_counter
from workers.cache.capacity import replay, save
from workers.cache.client import binary_client
from workers.cache.cold import ColdTier, Demoter
from workers.cache.config import CacheConfig
from workers.cache.invalidation import publish_hot_set
from workers.cache.metrics import Metric, Tier, field
from workers.cache.tier_plan import KeyStat, plan_tiers

#: Source of the Lua script, read once at import.
FORGET_LUA = resources.files("workers.cache").joinpath("forget.lua").read_text("utf-8")

#: Keys checked per pipeline when looking for which ones are still in the warm tier.
EXISTS_BATCH = 1000
#: Origin name on hot-set messages.
ORIGIN = "promotion"


def promote_tiers(client: redis.Redis, config: CacheConfig, now: float) -> dict[str, Any]:
    """Run every step once; returns counts of what moved."""
    client = binary_client(client)
    cold = ColdTier(config.cold_ttl_s)
    demoter = Demoter(client, cold)
    replayed, capacity_evicted = _bound_capacity(client, config, demoter, now)
    raw = {_text(k): v for k, v in client.hscan_iter(cache_keys.CACHE_FREQ, count=1000)}
    stats = _stats(raw, now, config)
    hot_now = {_text(k) for k in client.smembers(cache_keys.CACHE_HOT_SET)}
    in_warm = _in_warm(client, sorted(stats.keys() | hot_now))
    index = client.zrange(cache_keys.CACHE_COLD_INDEX, 0, -1, withscores=True)
    cold_since = {_text(k): since for k, since in index}
    plan = plan_tiers(stats, hot_now, in_warm, cold_since, now, config)
    if set(plan.hot) != hot_now:
        _publish_hot(client, plan.hot)
    cooled = sum(demoter.demote(k, now) for k in plan.cool)
    pipe = client.pipeline(transaction=False)
    for key in plan.evict:
        cold.remove(pipe, key)
    pipe.execute()
    forgotten = _forget(client, {k: raw[k] for k in plan.forget})
    _count(
        client,
        now,
        {
            field(Tier.HOT, Metric.PROMOTIONS): len(plan.promote),
            field(Tier.WARM, Metric.DEMOTIONS): len(plan.unpin),
            field(Tier.WARM, Metric.EVICTIONS): capacity_evicted,
            field(Tier.COLD, Metric.DEMOTIONS): cooled,
            field(Tier.COLD, Metric.EVICTIONS): len(plan.evict),
        },
    )
    return {
        "replayed": replayed,
        "capacity_evicted": capacity_evicted,
        "hot": len(plan.hot),
        "promoted": len(plan.promote),
        "demoted_to_warm": len(plan.unpin),
        "cooled_to_cold": cooled,
        "evicted": len(plan.evict),
        "forgotten": forgotten,
        "keys": len(stats),
    }


def _bound_capacity(
    client: redis.Redis, config: CacheConfig, demoter: Demoter, now: float
) -> tuple[int, int]:
    """Replay the access log; the policy's victims go to cold. (accesses, keys demoted)."""
    if config.capacity is None:
        return 0, 0
    run = replay(client, config.policy, config.capacity)
    moved = sum(demoter.demote(k, now) for k in run.evicted)
    save(client, config.policy, run)
    return run.accesses, moved


def _publish_hot(client: redis.Redis, hot: list[str]) -> None:
    pipe = client.pipeline(transaction=True)
    pipe.delete(cache_keys.CACHE_HOT_SET)
    if hot:
        pipe.sadd(cache_keys.CACHE_HOT_SET, *hot)
    pipe.hincrby(cache_keys.CACHE_META, "hot_version", 1)
    publish_hot_set(pipe, ORIGIN)
    pipe.execute()


def _count(client: redis.Redis, now: float, counts: dict[str, int]) -> None:
    pipe = client.pipeline(transaction=False)
    for name, n in counts.items():
        if n:
            pipe.hincrby(cache_keys.CACHE_METRICS, name, n)
    pipe.hset(cache_keys.CACHE_META, "last_run", now)
    pipe.execute()


def _stats(raw: dict[str, Any], now: float, config: CacheConfig) -> dict[str, KeyStat]:
    now_epoch = epoch_of(now, config.decay_period_s)
    stats = {}
    for key, value in raw.items():
        count, stored = parse_counter(value)
        stats[key] = KeyStat(decayed(count, stored, now_epoch), fresh=stored >= now_epoch)
    return stats


def _in_warm(client: redis.Redis, keys: list[str]) -> set[str]:
    present: set[str] = set()
    for start in range(0, len(keys), EXISTS_BATCH):
        chunk = keys[start : start + EXISTS_BATCH]
        pipe = client.pipeline(transaction=False)
        for key in chunk:
            pipe.exists(cache_keys.cache_warm(key))
        present.update(k for k, found in zip(chunk, pipe.execute(), strict=True) if found)
    return present


def _forget(client: redis.Redis, rows: dict[str, Any]) -> int:
    if not rows:
        return 0
    script = client.register_script(FORGET_LUA)
    args: list[Any] = []
    for key, value in rows.items():
        args += [key, value]
    return int(script(keys=[cache_keys.CACHE_FREQ], args=args))


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
