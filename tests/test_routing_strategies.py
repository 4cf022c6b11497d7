"""Each strategy's pick on fixed target states, in real Redis with the real Lua."""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import redis

from workers.routing import keyspace, strategies
from workers.routing.decision import Status, decide
from workers.routing.keyspace import Level
from workers.routing.scripts import script
from workers.routing.targets import on_task_done, register_target

TYPE = "cto"
GROUP = keyspace.group(TYPE, Level.INSTANCE)
FALLBACK = "agent.cto.default"
NOW = 1_000_000.0


def q(name: str) -> str:
    """Direct queue of instance ``name`` (a, b, c, ... -> index 0, 1, 2, ...)."""
    return f"agent.cto.default.{ord(name) - ord('a')}@h"


def setup(client: redis.Redis, targets: dict[str, dict[str, Any]]) -> None:
    """Register targets by hand; ``latency`` is a first sample, ``load`` the in-flight count."""
    for name, spec in targets.items():
        register_target(
            client,
            TYPE,
            q(name),
            capacity=spec.get("cap", 1),
            weight=spec.get("weight"),
            cpu_percent=spec.get("cpu", 0.0),
            mem_percent=spec.get("mem", 0.0),
            now_ms=NOW,
        )
        if "latency" in spec:
            on_task_done(client, TYPE, q(name), spec["latency"], True, now_ms=spec.get("at", NOW))
    loads = [x for name, spec in targets.items() for x in (q(name), spec.get("load", 0))]
    script("repair")(client, (), [repr(NOW), *loads])


def picks(client: redis.Redis, strategy: str, n: int = 1, **kw: Any) -> list[str]:
    out = []
    for _ in range(n):
        d = decide(client, GROUP, strategy, FALLBACK, now_ms=kw.pop("now_ms", NOW), **kw)
        out.append("abcdefgh"[int(d.queue.split(".")[3].split("@")[0])])
    return out


CASES = [
    # (strategy, targets, expected first pick)
    ("least_connections", {"a": {"load": 1}, "b": {"load": 0}, "c": {"load": 2}}, "b"),
    ("least_connections", {"a": {"load": 0}, "b": {"load": 0}, "c": {"load": 0}}, "a"),
    (
        "least_connections",
        {"a": {"cap": 1, "load": 1}, "b": {"cap": 2, "load": 1}, "c": {"cap": 4, "load": 1}},
        "c",
    ),
    (
        "least_connections",
        {"a": {"cap": 1, "load": 2}, "b": {"cap": 2, "load": 4}, "c": {"cap": 4, "load": 8}},
        "a",
    ),
    ("round_robin", {"a": {"load": 5}, "b": {}, "c": {}}, "a"),
    ("weighted_round_robin", {"a": {"weight": 1}, "b": {"weight": 3}}, "b"),
    ("weighted_round_robin", {"a": {"weight": 2}, "b": {"weight": 2}}, "a"),
    ("resource", {"a": {"cpu": 80}, "b": {"cpu": 20, "mem": 30}, "c": {"cpu": 25, "mem": 5}}, "c"),
    (
        "resource",
        {"a": {"cpu": 90}, "b": {"cpu": 21, "load": 2}, "c": {"cpu": 29, "load": 1}},
        "c",
    ),
    ("resource", {"a": {"cpu": 5}, "b": {"cpu": 5}}, "a"),
    ("resource", {"a": {"mem": 70}, "b": {"cpu": 60}}, "b"),
    (
        "response_time",
        {"a": {"latency": 100}, "b": {"latency": 50}, "c": {"latency": 200}},
        "b",
    ),
    (
        "response_time",
        {"a": {"latency": 100}, "b": {"latency": 50, "load": 2}, "c": {"latency": 200}},
        "a",
    ),
    (
        "response_time",
        {"a": {"latency": 100, "cap": 4, "load": 2}, "b": {"latency": 140}},
        "b",
    ),
    (
        "response_time",  # a's slow sample 30 s ago has decayed (tau 10 s) below b's fresh one
        {"a": {"latency": 1000, "at": NOW - 30_000}, "b": {"latency": 100}},
        "a",
    ),
    ("response_time", {"a": {"latency": 100}, "b": {"latency": 100}}, "a"),
    ("p2c", {"a": {"load": 1}, "b": {"load": 0}}, "b"),
    ("p2c", {"a": {"cap": 4, "load": 2}, "b": {"cap": 1, "load": 1}}, "a"),
]


@pytest.mark.parametrize(("strategy", "targets", "expected"), CASES)
def test_pick_on_fixed_state(
    redis_client: redis.Redis, strategy: str, targets: dict[str, Any], expected: str
) -> None:
    setup(redis_client, targets)
    assert picks(redis_client, strategy) == [expected]


def test_pick_counts_the_target_in_flight(redis_client: redis.Redis) -> None:
    setup(redis_client, {"a": {}, "b": {"load": 3}})
    decide(redis_client, GROUP, "least_connections", FALLBACK, now_ms=NOW)
    assert redis_client.hget("im:inflight", q("a")) == "1"
    assert redis_client.hget("im:inflight", q("b")) == "3"


def test_smooth_weighted_round_robin_order(redis_client: redis.Redis) -> None:
    setup(redis_client, {"a": {"weight": 5}, "b": {"weight": 1}, "c": {"weight": 1}})
    assert picks(redis_client, "weighted_round_robin", 14) == list("aabacaa" * 2)


def test_weighted_round_robin_defaults_to_capacity(redis_client: redis.Redis) -> None:
    setup(redis_client, {"a": {"cap": 3}, "b": {"cap": 1}})
    assert picks(redis_client, "weighted_round_robin", 8) == list("aaba" * 2)


def test_weighted_round_robin_batch_equals_single_picks(redis_client: redis.Redis) -> None:
    setup(redis_client, {"a": {"weight": 5}, "b": {"weight": 1}, "c": {"weight": 1}})
    d = decide(redis_client, GROUP, "weighted_round_robin", FALLBACK, count=7, now_ms=NOW)
    assert [p.split(".")[3][0] for p in d.picks] == ["0", "0", "1", "0", "2", "0", "0"]


def test_round_robin_cycles_and_takes_newcomers_in_turn(redis_client: redis.Redis) -> None:
    setup(redis_client, {"a": {}, "b": {}, "c": {}})
    assert picks(redis_client, "round_robin", 6) == list("abcabc")
    setup(redis_client, {"d": {}})
    assert sorted(picks(redis_client, "round_robin", 4)) == list("abcd")


def test_least_connections_batch_spreads_like_single_picks(redis_client: redis.Redis) -> None:
    setup(redis_client, {"a": {"load": 2}, "b": {}, "c": {"cap": 2}})
    d = decide(redis_client, GROUP, "least_connections", FALLBACK, count=6, now_ms=NOW)
    final = {k: int(v) for k, v in redis_client.hgetall("im:inflight").items()}
    assert final == {q("a"): 2, q("b"): 2, q("c"): 4}
    assert len(d.picks) == 6


def test_p2c_never_picks_the_most_loaded_and_spreads_ties(redis_client: redis.Redis) -> None:
    setup(redis_client, {"a": {"load": 50}, "b": {}, "c": {}, "d": {}})
    chosen = Counter(
        "abcd"[int(decide(redis_client, GROUP, "p2c", FALLBACK, seed=s, now_ms=NOW).queue[18])]
        for s in range(60)
    )
    assert chosen["a"] == 0
    assert min(chosen[x] for x in "bcd") >= 10


def test_p2c_is_reproducible_with_a_seed(redis_client: redis.Redis) -> None:
    setup(redis_client, {x: {} for x in "abcdef"})
    first = decide(redis_client, GROUP, "p2c", FALLBACK, seed=7, now_ms=NOW).queue
    script("repair")(redis_client, (), [repr(NOW), first, -1])
    assert decide(redis_client, GROUP, "p2c", FALLBACK, seed=7, now_ms=NOW).queue == first


def test_response_time_peak_then_decay(redis_client: redis.Redis) -> None:
    setup(redis_client, {"a": {"latency": 100}, "b": {"latency": 100}})
    on_task_done(redis_client, TYPE, q("a"), 900, True, now_ms=NOW)  # a spike counts at once
    assert picks(redis_client, "response_time") == ["b"]
    on_task_done(redis_client, TYPE, q("b"), 100, True, now_ms=NOW)
    # 40 s later a's estimate has decayed far below b's 100 ms refreshed at the same time
    on_task_done(redis_client, TYPE, q("b"), 100, True, now_ms=NOW + 40_000)
    assert picks(redis_client, "response_time", now_ms=NOW + 40_000) == ["a"]


def test_response_time_failures_do_not_look_fast(redis_client: redis.Redis) -> None:
    setup(redis_client, {"a": {"latency": 100}, "b": {"latency": 150}})
    for _ in range(3):
        on_task_done(redis_client, TYPE, q("a"), 1, False, now_ms=NOW)
    assert picks(redis_client, "response_time") == ["b"]


def test_no_live_target_goes_to_the_pool_queue(redis_client: redis.Redis) -> None:
    d = decide(redis_client, GROUP, "least_connections", FALLBACK, count=3, now_ms=NOW)
    assert d.status is Status.FALLBACK
    assert d.picks == (FALLBACK,) * 3
    assert redis_client.hget("im:inflight", FALLBACK) == "3"
    assert redis_client.hget(f"{GROUP}:stats", "fallback") == "3"


def test_handing_back_reservations_restores_counters(redis_client: redis.Redis) -> None:
    setup(redis_client, {"a": {}, "b": {}})
    d = decide(redis_client, GROUP, "round_robin", FALLBACK, count=4, now_ms=NOW)
    decide(redis_client, GROUP, "round_robin", FALLBACK, count=0, returns=d.picks[1:], now_ms=NOW)
    assert {k: int(v) for k, v in redis_client.hgetall("im:inflight").items()} == {q("a"): 1}
    assert redis_client.hget(f"{GROUP}:stats", "round_robin:decisions") == "1"
    assert redis_client.hget(keyspace.target(q("b")), "decisions") == "0"


def _random_targets(rng: random.Random) -> dict[str, dict[str, Any]]:
    targets: dict[str, dict[str, Any]] = {}
    for name in "abcdefghij"[: rng.randint(1, 10)]:
        targets[name] = {
            "cap": rng.choice((1, 2, 4)),
            "weight": rng.choice((None, 1, 2, 5)),
            "cpu": rng.choice((5.0, 15.0, 45.0)),
            "load": rng.randint(0, 4),
            "latency": rng.choice((50.0, 100.0, 400.0)),
            "at": NOW - rng.choice((0, 5_000, 20_000)),
        }
    return targets


def _setup_as(client: redis.Redis, agent_type: str, targets: dict[str, dict[str, Any]]) -> str:
    for name, spec in targets.items():
        queue = f"agent.{agent_type}.default.{ord(name) - ord('a')}@h"
        register_target(
            client, agent_type, queue, capacity=spec["cap"], weight=spec["weight"],
            cpu_percent=spec["cpu"], now_ms=NOW,
        )  # fmt: skip
        on_task_done(client, agent_type, queue, spec["latency"], True, now_ms=spec["at"])
        script("repair")(client, (), [repr(NOW), queue, spec["load"]])
    return keyspace.group(agent_type, Level.INSTANCE)


def _state(client: redis.Redis, group: str, agent_type: str) -> dict[str, Any]:
    strip = f"agent.{agent_type}."
    state: dict[str, Any] = {}
    for index in ("lc", "rt", "res", "rr"):
        state[index] = [
            (q.removeprefix(strip), round(s, 9))
            for q, s in client.zrange(f"{group}:{index}", 0, -1, withscores=True)
        ]
    inflight = client.hgetall("im:inflight")
    state["inflight"] = {k.removeprefix(strip): v for k, v in inflight.items() if strip in k}
    meta = client.hgetall(f"{group}:meta")
    state["meta"] = {k: meta.get(k) for k in ("rr", "round", "sum_p")}
    return state


@pytest.mark.parametrize(
    "strategy",
    ["round_robin", "weighted_round_robin", "least_connections", "resource", "response_time"],
)
def test_a_batch_equals_the_same_number_of_single_picks(
    redis_client: redis.Redis, strategy: str
) -> None:
    rng = random.Random(strategy)
    for _ in range(25):
        redis_client.flushdb()
        targets = _random_targets(rng)
        gx, gy = _setup_as(redis_client, "x", targets), _setup_as(redis_client, "y", targets)
        for _ in range(3):  # batches in a row, from the state the previous one left
            count = rng.randint(2, 30)
            batch = decide(redis_client, gx, strategy, "agent.x.default", count=count, now_ms=NOW)
            singles = [
                decide(redis_client, gy, strategy, "agent.y.default", now_ms=NOW).queue
                for _ in range(count)
            ]
            assert [q.removeprefix("agent.x.") for q in batch.picks] == [
                q.removeprefix("agent.y.") for q in singles
            ]
            assert _state(redis_client, gx, "x") == _state(redis_client, gy, "y")


def test_p2c_batches_balance_like_single_picks(redis_client: redis.Redis) -> None:
    setup(redis_client, {x: {"cap": 2} for x in "abcdef"})
    for seed in range(20):
        decide(redis_client, GROUP, "p2c", FALLBACK, count=30, seed=seed, now_ms=NOW)
    loads = [int(v) for v in redis_client.hmget("im:inflight", [q(x) for x in "abcdef"])]
    assert sum(loads) == 600 and max(loads) - min(loads) <= 2


PLUGIN = """
local NAME = 'last_alive'
local INDEX = nil
local RANDOM = false

local function pick(g, now)
  return redis.call('ZRANGE', g .. ':alive', -1, -1)[1]
end

local function pick_many(g, now, count)
  local out = {}
  for k = 1, count do out[k] = pick(g, now) end
  return out
end
"""


def test_a_strategy_plugin_is_one_lua_file(
    redis_client: redis.Redis, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(strategies, "_REGISTRY", dict(strategies._REGISTRY))
    lua_file = tmp_path / "last_alive.lua"
    lua_file.write_text(PLUGIN)
    strategies.register_strategy("last_alive", lua_file, "the live target seen last")
    assert "last_alive" in strategies.known_strategies()
    register_target(redis_client, TYPE, q("a"), ttl_s=10, now_ms=NOW)
    register_target(redis_client, TYPE, q("b"), ttl_s=20, now_ms=NOW)
    assert picks(redis_client, "last_alive", 2) == ["b", "b"]
    d = decide(redis_client, GROUP, "last_alive", FALLBACK, count=3, now_ms=NOW)
    assert d.picks == (q("b"),) * 3
