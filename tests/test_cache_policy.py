"""Pure policy tests: LRU and the optimum by hand, W-TinyLFU behaviour, the simulator."""

from __future__ import annotations

import random

import pytest

from workers.cache.config import CacheConfig
from workers.cache.lru import LruPolicy
from workers.cache.optimal import NEVER, next_uses, optimal_hits
from workers.cache.policy import make_policy, policy_names, restore_policy
from workers.cache.simulate import replay, simulate
from workers.cache.window_tuner import sample_rate
from workers.cache.wtinylfu import WTinyLfuPolicy
from workers.errors import InvalidInput, UnknownName

#: Positions 0-9. Hit counts worked out by hand in the tests below.
TRACE = list("ABCABDABCD")


def test_lru_hand_computed() -> None:
    # capacity 2: every reuse comes after two other keys, so nothing hits.
    assert replay(TRACE, LruPolicy(2)) == 0
    # capacity 3: A B C miss, A B hit, D miss (evicts C), A B hit, C miss (evicts D), D miss.
    assert replay(TRACE, LruPolicy(3)) == 4


def test_next_uses() -> None:
    assert next_uses(list("ABAB")) == [2, 3, NEVER, NEVER]


def test_optimal_hand_computed() -> None:
    # capacity 2 (evict the resident used furthest ahead): A B miss; C miss, A@3 vs B@4 ->
    # evict B; A hit; B miss, A@6 vs C@8 -> evict C; D miss, A@6 vs B@7 -> evict B; A hit;
    # B miss, A never again -> evict A; C miss, B never again -> evict B; D hit. 3 hits.
    assert optimal_hits(TRACE, 2) == 3
    # capacity 3: A B C m; A B hit; D m (A@6, B@7, C@8 -> evict C); A B hit; C m (A, B never
    # again -> evict one of them); D hit. Hits = 5.
    assert optimal_hits(TRACE, 3) == 5


def test_simulator_reports_the_hand_computed_ratios() -> None:
    result = simulate(TRACE, 3)
    assert result.requests == 10
    assert result.distinct == 4
    assert result.hit_ratio["lru"] == pytest.approx(0.4)
    assert result.hit_ratio["optimal"] == pytest.approx(0.5)
    assert 0 <= result.hit_ratio["infra-mind"] <= result.hit_ratio["optimal"]
    assert set(result.to_json()) >= {"capacity", "requests", "hit_ratio"}


def test_optimal_bounds_every_policy() -> None:
    rng = random.Random(7)
    keys = [int(rng.paretovariate(1.2)) for _ in range(5000)]
    for capacity in (5, 20, 80):
        best = optimal_hits(keys, capacity)
        assert replay(keys, LruPolicy(capacity)) <= best
        assert replay(keys, WTinyLfuPolicy(capacity)) <= best


def test_wtinylfu_never_exceeds_capacity_and_reports_evictions() -> None:
    policy = WTinyLfuPolicy(50)
    resident: set[int] = set()
    rng = random.Random(1)
    for _ in range(20_000):
        key = rng.randrange(500)
        if key in policy:
            policy.touch(key)
        else:
            policy.record_miss(key)
            dropped = policy.add(key)
            resident.add(key)
            resident.difference_update(dropped)
        assert len(policy) <= 50
    assert resident == set(policy)


def test_frequency_admission_keeps_popular_keys_through_a_scan() -> None:
    policy = WTinyLfuPolicy(100)
    popular = list(range(50))
    for _ in range(20):
        for key in popular:
            policy.access(key)
    for key in range(1000, 5000):  # a one-off scan, four times the cache
        policy.access(key)
    kept = sum(1 for key in popular if key in policy)
    lru = LruPolicy(100)
    for _ in range(20):
        for key in popular:
            lru.access(key)
    for key in range(1000, 5000):
        lru.access(key)
    assert kept >= 45
    assert not any(key in lru for key in popular)


def test_window_grows_on_a_recency_workload() -> None:
    """Keys are hot for a short while, then never again: only recency helps."""
    policy = WTinyLfuPolicy(400)
    rng = random.Random(3)
    for phase in range(300):
        block = range(phase * 300, phase * 300 + 300)
        for _ in range(3000):
            policy.access(rng.choice(block))
    assert policy.window_max > 0.5 * policy.capacity


def test_state_round_trip_continues_identically() -> None:
    rng = random.Random(5)
    keys = [f"k{int(rng.paretovariate(1.0))}" for _ in range(30_000)]
    original = WTinyLfuPolicy(300)
    for key in keys[:15_000]:
        original.access(key)
    copy = restore_policy("wtinylfu", original.to_state())
    assert [original.access(k) for k in keys[15_000:]] == [copy.access(k) for k in keys[15_000:]]
    lru = LruPolicy(3)
    for key in "abcd":
        lru.access(key)
    assert list(restore_policy("lru", lru.to_state())) == ["b", "c", "d"]


def test_registry_and_bad_capacity() -> None:
    assert policy_names() == ["lru", "wtinylfu"]
    with pytest.raises(UnknownName, match="known: lru, wtinylfu"):
        make_policy("arc", 10)
    with pytest.raises(InvalidInput, match="capacity"):
        make_policy("wtinylfu", 0)
    with pytest.raises(InvalidInput, match="capacity"):
        simulate(TRACE, 0, config=CacheConfig())


def test_sample_rate_keeps_shadows_large_enough() -> None:
    assert sample_rate(100) == 1
    assert sample_rate(1024) == 4
    assert all(c // sample_rate(c) >= 256 for c in (512, 1000, 7634, 100_000))
