"""Trace-driven simulation: the cache's own policy against LRU and the offline optimum.

The trace is replayed through the same policy object the cache uses (admission and eviction)
and, every ``promotion_every`` requests, through the same tier plan the promotion job runs,
so the hot-tier share is the one the live cache would get. LRU and Bélády's optimum run at
the same capacity in the same call. ``simulate_redis`` replays through a real ``TieredCache``
and promotion runs against a Redis server instead (slow: a few round trips per request).
"""

from __future__ import annotations

import time
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

import redis

from workers import keys as cache_keys
from workers.cache.config import CacheConfig
from workers.cache.optimal import next_uses, optimal_hits
from workers.cache.policy import EvictionPolicy, make_policy
from workers.cache.promotion import promote_tiers
from workers.cache.tier_plan import KeyStat, plan_tiers
from workers.cache.tiered import TieredCache
from workers.errors import InvalidInput

#: Name of our policy in results.
OURS = "infra-mind"
#: Requests between two simulated promotion runs, per cache entry (at least ``_MIN``).
PROMOTION_EVERY_FACTOR = 1
PROMOTION_EVERY_MIN = 1000
#: Promotion runs per simulated decay period (the live defaults: 60 s runs, 300 s decay).
RUNS_PER_DECAY = 5


@dataclass
class SimulationResult:
    capacity: int
    requests: int
    distinct: int
    hit_ratio: dict[str, float]
    seconds: dict[str, float] = field(default_factory=dict)
    #: Share of all requests served by each of our tiers (hot = pinned hot set).
    tier_share: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "capacity": self.capacity,
            "requests": self.requests,
            "distinct": self.distinct,
            "hit_ratio": {k: round(v, 6) for k, v in self.hit_ratio.items()},
            "tier_share": {k: round(v, 6) for k, v in self.tier_share.items()},
            "seconds": {k: round(v, 3) for k, v in self.seconds.items()},
        }


def replay(keys: Sequence[Hashable], policy: EvictionPolicy) -> int:
    """Hits of ``policy`` over the trace."""
    access = policy.access
    return sum(1 for key in keys if access(key))


def replay_tiered(
    keys: Sequence[Hashable], policy: EvictionPolicy, config: CacheConfig
) -> tuple[int, int]:
    """(hits, hits on the hot set) with the promotion plan run periodically."""
    every = max(PROMOTION_EVERY_MIN, PROMOTION_EVERY_FACTOR * policy.capacity)
    counts: dict[Hashable, int] = {}
    hot: set[Any] = set()
    hits = hot_hits = 0
    access = policy.access
    for start in range(0, len(keys), every):
        for key in keys[start : start + every]:
            counts[key] = counts.get(key, 0) + 1
            if access(key):
                hits += 1
                if key in hot:
                    hot_hits += 1
        if (start // every + 1) % RUNS_PER_DECAY == 0:
            counts = {k: n >> 1 for k, n in counts.items() if n > 1}
        # Only keys read often enough can be hot; the plan's other moves do not change hits.
        keep = min(config.hot_keep, config.hot_threshold)
        stats = {}
        for key in policy:
            reads = counts.get(key, 0)
            if reads >= keep:
                stats[key] = KeyStat(reads, fresh=True)
        plan = plan_tiers(stats, hot, set(stats), {}, float(start), config)  # type: ignore[arg-type]
        hot = set(plan.hot)
    return hits, hot_hits


def simulate(
    keys: Sequence[Hashable],
    capacity: int,
    *,
    config: CacheConfig | None = None,
    nexts: list[int] | None = None,
) -> SimulationResult:
    """Hit ratios of our policy, LRU and the optimum at ``capacity`` on one trace."""
    if capacity < 1:
        raise InvalidInput(f"--capacity must be at least 1, got {capacity}")
    if not keys:
        raise InvalidInput("the trace holds no requests")
    config = config or CacheConfig()
    config = config.model_copy(update={"hot_max": min(config.hot_max, max(1, capacity // 10))})
    n = len(keys)
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    hits, hot_hits = replay_tiered(keys, make_policy(config.policy, capacity), config)
    seconds[OURS] = time.perf_counter() - started
    started = time.perf_counter()
    lru_hits = replay(keys, make_policy("lru", capacity))
    seconds["lru"] = time.perf_counter() - started
    started = time.perf_counter()
    best = optimal_hits(keys, capacity, nexts if nexts is not None else next_uses(keys))
    seconds["optimal"] = time.perf_counter() - started
    return SimulationResult(
        capacity=capacity,
        requests=n,
        distinct=len(set(keys)),
        hit_ratio={OURS: hits / n, "lru": lru_hits / n, "optimal": best / n},
        seconds=seconds,
        tier_share={"hot": hot_hits / n, "warm": (hits - hot_hits) / n},
    )


def simulate_redis(
    keys: Sequence[Hashable], capacity: int, client: redis.Redis, config: CacheConfig | None = None
) -> dict[str, float]:
    """Replay through a real ``TieredCache`` and promotion runs on ``client``'s database.

    The database must hold no cache keys (the replay writes and finally deletes them).
    Returns hit ratios: ``redis`` (hot + warm, comparable with the policy's) and
    ``redis+cold`` (also counting values rescued from the compressed victim tier).
    """
    if any(True for _ in client.scan_iter(match=f"{cache_keys.CACHE_PREFIX}:*", count=1000)):
        raise InvalidInput("--redis needs a database without cache keys (im:cache:*)")
    config = (config or CacheConfig()).model_copy(
        update={"capacity": capacity, "l1_capacity": max(1, capacity // 10), "prefetch": False}
    )
    every = max(PROMOTION_EVERY_MIN, PROMOTION_EVERY_FACTOR * capacity)
    cache = TieredCache(client, config)
    hits = 0
    try:
        for start in range(0, len(keys), every):
            for key in keys[start : start + every]:
                if cache.get(str(key)) is None:
                    cache.set(str(key), 1)
                else:
                    hits += 1
            cache.flush()
            promote_tiers(client, config, time.time())
        cold_hits = cache.metrics.snapshot().get("cold.hits", 0)
    finally:
        cache.close()
        for found in client.scan_iter(match=f"{cache_keys.CACHE_PREFIX}:*", count=1000):
            client.delete(found)
    n = len(keys)
    return {"redis": (hits - cold_hits) / n, "redis+cold": hits / n}
