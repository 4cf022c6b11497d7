"""TieredCache against a real Redis: tiers, corrupt values, single-flight, prefetch, SWR."""

from __future__ import annotations

import pickle
import threading
import time
from collections.abc import Iterator

import pytest
import redis

from workers import keys as cache_keys
from workers.cache.co_access import CoAccessModel
from workers.cache.config import CacheConfig
from workers.cache.envelope import CorruptValue, decode, encode
from workers.cache.serializers import get_serializer
from workers.cache.tiered import TieredCache
from workers.errors import InvalidInput


class Clock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def raw(redis_client: redis.Redis, redis_url: str) -> Iterator[redis.Redis]:
    """A bytes client on the test database (flushed by ``redis_client``)."""
    client = redis.Redis.from_url(redis_url.rsplit("/", 1)[0] + "/1")
    yield client
    client.close()


@pytest.fixture
def cache(raw: redis.Redis) -> Iterator[TieredCache]:
    with TieredCache(raw, CacheConfig(prefetch=False)) as tiered:
        yield tiered


def test_get_set_delete_and_loader(cache: TieredCache, raw: redis.Redis) -> None:
    assert cache.get("a") is None
    assert cache.get("a", lambda key: {"v": key}) == {"v": "a"}
    assert decode(raw.get(cache_keys.cache_warm("a"))) == {"v": "a"}
    cache.set("b", [1, "two", b"3"])
    cache.l1.clear()
    assert cache.get("b") == [1, "two", b"3"]
    cache.delete("b")
    assert cache.get("b") is None
    assert raw.exists(cache_keys.cache_warm("b")) == 0


def test_loader_errors_propagate_and_cache_nothing(cache: TieredCache) -> None:
    def boom(key: str) -> str:
        raise RuntimeError("provider down")

    with pytest.raises(RuntimeError, match="provider down"):
        cache.get("x", boom)
    assert cache.get("x") is None


def test_bad_keys_and_values_are_refused(cache: TieredCache, raw: redis.Redis) -> None:
    with pytest.raises(InvalidInput, match="invalid cache key"):
        cache.get("has space")
    with pytest.raises(InvalidInput, match="cannot be cached"):
        cache.set("k", object())
    assert raw.exists(cache_keys.cache_warm("k")) == 0


def test_json_serializer_round_trip(raw: redis.Redis) -> None:
    with TieredCache(raw, CacheConfig(serializer="json", prefetch=False)) as tiered:
        tiered.set("j", {"a": [1, 2.5, None]})
        tiered.l1.clear()
        assert tiered.get("j") == {"a": [1, 2.5, None]}
        assert raw.get(cache_keys.cache_warm("j"))[3] == get_serializer("json").ident


FOREIGN = {
    "plain text": b"hello",
    "pickle": pickle.dumps({"x": 1}),
    "empty": b"",
    "bad msgpack": b"im\x01M\x00\xc1",
    "unknown serializer": b"im\x01Z\x00\x90",
    "unknown version": b"im\x09M\x00\x90",
    "bad zlib": b"im\x01M\x01notzlib",
    "bad json": b"im\x01J\x00{nope",
}


@pytest.mark.parametrize("name", sorted(FOREIGN))
def test_corrupt_or_foreign_values_are_misses(
    cache: TieredCache, raw: redis.Redis, name: str
) -> None:
    raw.set(cache_keys.cache_warm("k"), FOREIGN[name])
    assert cache.get("k") is None
    assert cache.get("k", lambda key: "fresh") == "fresh"
    cache.l1.clear()
    assert cache.get("k") == "fresh"
    assert cache.metrics.snapshot()["warm.corrupt"] >= 1


def test_value_of_another_redis_type_is_a_miss(cache: TieredCache, raw: redis.Redis) -> None:
    raw.hset(cache_keys.cache_warm("h"), "field", "value")
    raw.rpush(cache_keys.cache_cold("h"), "x")
    assert cache.get("h") is None
    assert cache.get("h", lambda key: 7) == 7


def test_envelope_rejects_what_it_did_not_write() -> None:
    for blob in FOREIGN.values():
        with pytest.raises(CorruptValue):
            decode(blob)
    assert decode(encode(1, get_serializer("msgpack"), compress=True)) == 1


def test_cold_hit_moves_back_to_warm(cache: TieredCache, raw: redis.Redis) -> None:
    blob = encode({"big": "x" * 1000}, get_serializer("msgpack"), compress=True)
    raw.set(cache_keys.cache_cold("c"), blob)
    raw.zadd(cache_keys.CACHE_COLD_INDEX, {"c": 1.0})
    assert len(blob) < 100
    assert cache.get("c") == {"big": "x" * 1000}
    assert raw.exists(cache_keys.cache_cold("c")) == 0
    assert raw.zscore(cache_keys.CACHE_COLD_INDEX, "c") is None
    assert decode(raw.get(cache_keys.cache_warm("c"))) == {"big": "x" * 1000}
    assert cache.metrics.snapshot()["cold.hits"] == 1


def test_single_flight_fifty_concurrent_misses_load_once(cache: TieredCache) -> None:
    calls = 0
    lock = threading.Lock()

    def slow_loader(key: str) -> str:
        nonlocal calls
        with lock:
            calls += 1
        time.sleep(0.2)
        return f"value of {key}"

    barrier = threading.Barrier(50)
    results: list[object] = []

    def reader() -> None:
        barrier.wait()
        results.append(cache.get("same", slow_loader))

    threads = [threading.Thread(target=reader) for _ in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert calls == 1
    assert results == ["value of same"] * 50


def test_single_flight_across_processes_uses_the_redis_lock(raw: redis.Redis) -> None:
    """Two caches (as two worker processes would have) share one load through Redis."""
    calls = 0
    lock = threading.Lock()

    def slow_loader(key: str) -> str:
        nonlocal calls
        with lock:
            calls += 1
        time.sleep(0.3)
        return "shared"

    config = CacheConfig(prefetch=False, lock_poll_s=0.01)
    with TieredCache(raw, config) as first, TieredCache(raw, config) as second:
        barrier = threading.Barrier(20)
        results: list[object] = []

        def reader(tiered: TieredCache) -> None:
            barrier.wait()
            results.append(tiered.get("k", slow_loader))

        threads = [threading.Thread(target=reader, args=(c,)) for c in [first, second] * 10]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)
    assert calls == 1
    assert results == ["shared"] * 20


def test_co_access_model_learns_conditional_probability() -> None:
    model = CoAccessModel(window_s=1.0)
    now = 0.0
    for i in range(8):
        model.observe("a", now)
        model.observe("b", now + 0.1)
        if i % 4 == 0:
            model.observe("c", now + 0.2)  # P(c | a) = 1/4
        now += 10  # far apart: no co-access across rounds
    assert model.predict("a", threshold=0.5, support=3, limit=8) == ["b"]
    assert model.predict("b", threshold=0.5, support=3, limit=8) == []
    assert model.predict("a", threshold=0.2, support=3, limit=8) == ["b", "c"]


def test_prefetch_learns_a_fixed_sequence(raw: redis.Redis) -> None:
    clock = Clock()
    config = CacheConfig(prefetch=True, co_access_window_s=2.0)
    with TieredCache(raw, config, clock=clock) as tiered:
        for key in ("s1", "s2", "s3", "s4"):
            tiered.set(key, key.upper())
        for _ in range(4):
            for key in ("s1", "s2", "s3", "s4"):
                tiered.get(key)
                clock.now += 0.1
            clock.now += 60
        tiered.drain()
        tiered.l1.clear()
        tiered.get("s1")
        tiered.drain()
        assert {"s2", "s3", "s4"} <= {k for k in ("s2", "s3", "s4") if k in tiered.l1}
        assert tiered.get("s2") == "S2"
        counts = tiered.metrics.snapshot()
        assert counts["hot.prefetch_hits"] == 1


def test_explicit_relations_are_prefetched(raw: redis.Redis) -> None:
    with TieredCache(raw, CacheConfig(prefetch=True)) as tiered:
        tiered.set("aws:ec2", {"price": 1})
        tiered.set("aws:ebs", {"price": 2})
        tiered.related("aws:ec2", ["aws:ebs"])
        tiered.l1.clear()
        tiered.get("aws:ec2")
        tiered.drain()
        assert "aws:ebs" in tiered.l1


def test_warm_loads_only_missing_keys(cache: TieredCache) -> None:
    cache.set("w1", 1)
    loaded: list[str] = []

    def loader(key: str) -> str:
        loaded.append(key)
        return key

    assert cache.warm(["w1", "w2", "w3"], loader) == 2
    assert loaded == ["w2", "w3"]
    assert cache.warm(["w1", "w2", "w3"], loader) == 0


def test_hot_key_is_served_stale_while_it_revalidates(raw: redis.Redis) -> None:
    clock = Clock()
    config = CacheConfig(prefetch=False, refresh_after_s=5, l1_ttl_s=60)
    with TieredCache(raw, config, clock=clock) as tiered:
        tiered.set("hot", "v1")
        raw.sadd(cache_keys.CACHE_HOT_SET, "hot")
        tiered.refresh_hot_set()
        assert "hot" in tiered.l1.pinned()
        # another writer replaced the value without an invalidation reaching us
        raw.set(cache_keys.cache_warm("hot"), encode("v2", get_serializer("msgpack")))
        clock.now += 10
        assert tiered.get("hot") == "v1"  # stale, served at once
        tiered.drain()
        assert tiered.get("hot") == "v2"
        assert tiered.metrics.snapshot()["hot.stale_served"] == 1


def test_flush_writes_decayed_counters_and_metrics(cache: TieredCache, raw: redis.Redis) -> None:
    cache.set("f", 1)
    for _ in range(3):
        cache.get("f")
    cache.flush()
    count, _ = raw.hget(cache_keys.CACHE_FREQ, "f").decode().split(":")
    assert int(count) == 3
    assert int(raw.hget(cache_keys.CACHE_METRICS, "hot.hits")) == 3
    assert raw.xlen(cache_keys.CACHE_ACCESS_LOG) == 1
