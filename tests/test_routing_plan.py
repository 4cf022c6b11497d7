"""Pure routing logic: plans from settings and options, reservation books, config."""

from __future__ import annotations

import pytest

from workers.errors import InvalidInput, UnknownAgent, UnknownName
from workers.routing.config import RoutingConfig
from workers.routing.keyspace import Level, level_of
from workers.routing.plan import call_options, check_affinity_key, make_plan
from workers.routing.reservations import Book, Leftovers
from workers.routing.strategies import known_strategies, resolve_strategy
from workers.settings import AgentType, PoolConfig, load_settings


def settings(**agent: object):  # type: ignore[no-untyped-def]
    return load_settings(agents={"cto": AgentType(name="cto", **agent)})


def test_single_pool_plan_has_nothing_to_choose() -> None:
    plan = make_plan(settings(), "cto")
    assert plan.single_queue == plan.fallback_queue == "agent.cto.default"
    assert (plan.level, plan.group, plan.strategy) == (Level.POOL, "im:lb:cto:pool", "round_robin")


def test_several_pools_and_instance_dispatch_choose() -> None:
    pools = {"fast": PoolConfig(), "slow": PoolConfig()}
    plan = make_plan(settings(pools=pools, strategy="p2c"), "cto")
    assert plan.single_queue is None and plan.fallback_queue == "agent.cto.fast"
    plan = make_plan(settings(dispatch="instance"), "cto", "response_time")
    assert (plan.level, plan.strategy, plan.single_queue) == (Level.INSTANCE, "response_time", None)


def test_plan_errors() -> None:
    with pytest.raises(UnknownAgent):
        make_plan(settings(), "nobody")
    with pytest.raises(UnknownName, match="known: least_connections, p2c, resource"):
        make_plan(settings(), "cto", "fastest")


def test_call_options() -> None:
    kwargs = {"agent_type": "cto", "options": {"strategy": "p2c", "affinity_key": "s-1"}}
    assert call_options(kwargs) == ("cto", "p2c", "s-1")
    assert call_options({"agent_type": "cto"}) == ("cto", None, None)
    with pytest.raises(InvalidInput, match="options must be a mapping"):
        call_options({"agent_type": "cto", "options": ["x"]})


def test_affinity_key_limits() -> None:
    assert check_affinity_key("") is None
    assert check_affinity_key("k" * 256) == "k" * 256
    with pytest.raises(InvalidInput, match="257 bytes"):
        check_affinity_key("k" * 257)


def test_registry_lists_every_strategy() -> None:
    assert known_strategies() == [
        "least_connections", "p2c", "resource", "response_time", "round_robin",
        "weighted_round_robin",
    ]  # fmt: skip
    with pytest.raises(UnknownName, match="known: "):
        resolve_strategy(None)


def test_level_of_queue_names() -> None:
    assert level_of("agent.cto.default") is Level.POOL
    assert level_of("agent.cto.default.1@host") is Level.INSTANCE


def _publish(book: Book, now: float, sizes: list[int]) -> Leftovers:
    """One publish through the book, as the router does it."""
    if book.take(now) is not None:
        return Leftovers()
    left, size = book.next_batch(now)
    sizes.append(size)
    assert book.fill(tuple(f"q{i}" for i in range(size)), False, now) == "q0"
    return left


def test_book_batches_follow_the_publish_rate() -> None:
    book = Book(max_size=64, max_age_s=0.1)
    sizes: list[int] = []
    for i in range(400):  # 1,000 publishes/s: about 100 within max age, capped at 64
        assert not _publish(book, i * 0.001, sizes)
    assert sizes[0] == 1 and sizes[-1] == 64
    assert len(sizes) < 20
    slow: list[int] = []
    for i in range(400):  # 100/s: settles at about 10 per batch, used before going stale
        left = _publish(book, 1.0 + i * 0.01, slow)
        assert not left or i < 50  # while the rate estimate catches up
    assert slow[-1] == 10


def test_book_keeps_a_burst_rate_across_pauses_but_not_for_long() -> None:
    book = Book(max_size=64, max_age_s=0.1)
    sizes: list[int] = []
    now = 0.0
    for _ in range(200):  # a burst at 1,000/s
        now += 0.001
        _publish(book, now, sizes)
    now += 1.0  # pause, then the next burst starts with a large batch
    _publish(book, now, sizes)
    assert sizes[-1] >= 32
    lone: list[int] = []
    for _ in range(10):  # from now on one publish a second
        now += 1.0
        _publish(book, now, lone)
    assert lone[-3:] == [1, 1, 1]


def test_book_reserves_one_at_a_time_for_lone_publishes() -> None:
    book = Book(max_size=64, max_age_s=0.1)
    sizes: list[int] = []
    for i in range(5):
        assert not _publish(book, i * 1.0, sizes)
        assert book.remaining == 0
    assert sizes == [1] * 5


def test_book_hands_back_stale_picks() -> None:
    book = Book(max_size=64, max_age_s=0.1)
    assert book.fill(("a", "b", "c", "d"), False, 0.0) == "a"
    assert book.settle(0.05) == Leftovers()  # still fresh
    assert book.settle(0.2).queues == ("d", "c", "b")  # the background sweep
    assert book.remaining == 0


def test_book_hands_back_stale_picks_at_the_next_publish() -> None:
    book = Book(max_size=64, max_age_s=0.1)
    assert book.fill(("a", "b", "c"), False, 0.0) == "a"
    assert book.take(1.0) is None
    left, size = book.next_batch(1.0)
    assert (left.queues, size) == (("c", "b"), 1)


def test_book_fallback_picks_are_handed_back_by_count() -> None:
    book = Book(max_size=4, max_age_s=0.05)
    book.fill(("pool",) * 4, True, 0.0)
    assert book.settle(0.0, force=True) == Leftovers(fallback=3)


def test_config_from_settings_and_validation() -> None:
    config = RoutingConfig.from_settings(settings(), decay_s=3.0)
    assert config.decay_s == 3.0 and config.default_ttl_s == 6.0
    with pytest.raises(InvalidInput, match="decay_s"):
        RoutingConfig(decay_s=0)
    with pytest.raises(InvalidInput, match="affinity_factor"):
        RoutingConfig(affinity_factor=0.5)
