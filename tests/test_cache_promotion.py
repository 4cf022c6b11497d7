"""Tier promotion on a controlled access pattern, the capacity replay and the job shell."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import redis

from scheduler.cache_promotion import run_job
from workers import keys as cache_keys
from workers.cache.config import CacheConfig
from workers.cache.promotion import promote_tiers
from workers.cache.tier_plan import KeyStat, plan_tiers
from workers.cache.tiered import TieredCache
from workers.lock import RedisLock
from workers.settings import Settings

START = 1_000_000.0  # a whole number of decay periods (100 s), so epochs are easy to follow


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


CONFIG = CacheConfig(
    prefetch=False,
    capacity=None,
    decay_period_s=100,
    hot_threshold=4,
    hot_keep=2,
    cold_below=1,
    cold_ttl_s=50,
)


@pytest.fixture
def raw(redis_client: redis.Redis, redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url.rsplit("/", 1)[0] + "/1")
    yield client
    client.close()


def wait_for(condition, timeout: float = 5.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return False


def test_plan_is_pure_and_has_hysteresis() -> None:
    stats = {
        "a": KeyStat(10, fresh=True),
        "b": KeyStat(3, fresh=False),  # below the threshold, but hot already: kept
        "c": KeyStat(3, fresh=False),  # below the threshold and not hot
        "d": KeyStat(0, fresh=False),  # idle: cools
        "e": KeyStat(0, fresh=True),  # just written: not cooled yet
        "f": KeyStat(0, fresh=False),  # gone from every tier: forgotten
    }
    plan = plan_tiers(
        stats, {"b"}, {"a", "b", "c", "d", "e"}, {"old": 0.0, "new": 90.0}, 100.0, CONFIG
    )
    assert plan.hot == ["a", "b"]
    assert plan.promote == ["a"]
    assert plan.unpin == []
    assert plan.cool == ["d"]
    assert plan.evict == ["old"]
    assert plan.forget == ["f"]


def test_promotion_and_demotion_on_a_controlled_pattern(raw: redis.Redis) -> None:
    clock = Clock(START)
    with TieredCache(raw, CONFIG, clock=clock) as cache:
        for key in ("a", "b", "c"):
            cache.set(key, key.upper())
        for _ in range(6):
            cache.get("a")
        cache.get("b")
        cache.flush()

        first = promote_tiers(raw, CONFIG, START + 1)
        assert first["promoted"] == 1 and first["cooled_to_cold"] == 0
        assert raw.smembers(cache_keys.CACHE_HOT_SET) == {b"a"}
        assert wait_for(lambda: cache.hot == {"a"})  # the worker followed the published set
        assert "a" in cache.l1.pinned()

        # Two decay periods later: a has 6 >> 2 = 1 read, under hot_keep -> hot to warm (still
        # read, so it stays warm); b (1 >> 2 = 0) and c (never read) are idle -> warm to cold.
        later = START + 210
        second = promote_tiers(raw, CONFIG, later)
        assert second["demoted_to_warm"] == 1
        assert second["cooled_to_cold"] == 2
        assert raw.smembers(cache_keys.CACHE_HOT_SET) == set()
        assert wait_for(lambda: cache.hot == frozenset())
        assert "a" not in cache.l1.pinned()
        assert raw.exists(cache_keys.cache_warm("a")) == 1
        for key in ("b", "c"):
            assert raw.exists(cache_keys.cache_warm(key)) == 0
            assert raw.exists(cache_keys.cache_cold(key)) == 1

        # A read brings a cold key back to warm; the other is evicted past the cold TTL.
        cache.l1.clear()
        clock.now = later + 10
        assert cache.get("b") == "B"
        cache.flush()
        assert raw.exists(cache_keys.cache_warm("b")) == 1
        third = promote_tiers(raw, CONFIG, later + 60)
        assert third["evicted"] == 1
        assert raw.exists(cache_keys.cache_cold("c")) == 0
        assert raw.zrange(cache_keys.CACHE_COLD_INDEX, 0, -1) == []
        assert set(raw.hkeys(cache_keys.CACHE_FREQ)) == {b"a", b"b"}  # stats of c forgotten

        again = promote_tiers(raw, CONFIG, later + 60)  # safe to run twice: nothing moves
        assert again["promoted"] == again["cooled_to_cold"] == again["evicted"] == 0
        metrics = raw.hgetall(cache_keys.CACHE_METRICS)
        assert int(metrics[b"hot.promotions"]) == 1
        assert int(metrics[b"warm.demotions"]) == 1
        assert int(metrics[b"cold.demotions"]) == 2
        assert int(metrics[b"cold.evictions"]) == 1


def test_capacity_replay_bounds_the_warm_tier(raw: redis.Redis) -> None:
    config = CONFIG.model_copy(update={"capacity": 3, "policy": "lru"})
    with TieredCache(raw, config) as cache:
        for key in ("k1", "k2", "k3", "k4", "k5"):
            cache.set(key, key)
        cache.get("k1")  # k1 becomes the most recent: k2 and k3 are the LRU victims
        cache.flush()
    summary = promote_tiers(raw, config, START)
    assert summary["replayed"] == 6
    assert summary["capacity_evicted"] == 2
    warm = {k for k in ("k1", "k2", "k3", "k4", "k5") if raw.exists(cache_keys.cache_warm(k))}
    assert warm == {"k1", "k4", "k5"}
    assert raw.exists(cache_keys.cache_cold("k2"), cache_keys.cache_cold("k3")) == 2
    # the policy state and the log position were saved: a second run replays nothing
    assert promote_tiers(raw, config, START)["replayed"] == 0


def test_capacity_replay_with_the_default_policy(raw: redis.Redis) -> None:
    config = CONFIG.model_copy(update={"capacity": 20})
    with TieredCache(raw, config) as cache:
        for i in range(60):
            cache.set(f"k{i}", i)
            for _ in range(i % 3):
                cache.get(f"k{i}")
        cache.flush()
    promote_tiers(raw, config, START)
    warm = [k for k in raw.scan_iter(match=cache_keys.cache_warm("*"))]
    assert len(warm) <= 20


def test_job_shell_takes_the_lock_and_accepts_a_text_client(
    redis_client: redis.Redis, raw: redis.Redis
) -> None:
    settings = Settings()
    result = run_job(redis_client, settings, None, now=START)
    assert "hot" in result
    with RedisLock(raw, cache_keys.CACHE_PROMOTION_LOCK, 10_000) as lock:
        assert lock.acquired
        assert run_job(redis_client, settings, now=START) == {
            "skipped": "another promotion run holds the lock"
        }
    assert "hot" in run_job(redis_client, settings, now=START)
