"""The Celery router end to end: real Celery publishes into real Redis queues."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from celery import Celery

from workers import keys
from workers.errors import InvalidInput, UnknownAgent, UnknownName
from workers.routing import keyspace
from workers.routing.config import RoutingConfig
from workers.routing.decision import Status, decide
from workers.routing.keyspace import Level
from workers.routing.router import AGENT_TASK, Router, make_router
from workers.routing.targets import on_task_done, register_target
from workers.settings import AgentType, PoolConfig, Settings, load_settings

DIRECT = [f"agent.cto.default.{n}@h" for n in range(4)]


def settings_for(**agent: Any) -> Settings:
    spec = {"name": "cto", **agent}
    return load_settings(agents={"cto": AgentType(**spec), "mlops": AgentType(name="mlops")})


@pytest.fixture
def db_url(redis_url: str, redis_client: redis.Redis) -> str:
    return redis_url.rsplit("/", 1)[0] + "/1"


#: Routers made by the running test: closed after it, so a reservation one of them still
#: holds is handed back before the next test starts on a flushed database, not during it.
_ROUTERS: list[Router] = []


@pytest.fixture(autouse=True)
def _close_routers() -> Iterator[None]:
    yield
    while _ROUTERS:
        _ROUTERS.pop().close()


def router_for(settings: Settings, db_url: str, **config: Any) -> Router:
    router = make_router(
        settings,
        lambda: redis.Redis.from_url(db_url, decode_responses=True),
        RoutingConfig.from_settings(settings, **config),
    )
    _ROUTERS.append(router)
    return router


@pytest.fixture
def celery_app(db_url: str) -> Iterator[Celery]:
    app = Celery("routing-test", broker=db_url, set_as_current=False)
    app.conf.update(
        task_serializer="json",
        accept_content=["json"],
        task_create_missing_queues=True,
        task_default_queue=keys.MAINTENANCE_QUEUE,
        broker_transport_options={"queue_order_strategy": "priority"},
    )
    yield app
    app.close()


def use(app: Celery, router: Router) -> None:
    app.conf.task_routes = (router,)
    app.amqp._rtable = None
    app.amqp.router = app.amqp.Router()


def publish(app: Celery, agent_type: str = "cto", **options: Any) -> None:
    app.send_task(AGENT_TASK, kwargs={"agent_type": agent_type, "prompt": "p", "options": options})


def queued(client: redis.Redis, queue: str) -> int:
    return sum(client.llen(k) for k in keys.priority_queue_keys(queue))


def agent_queues(client: redis.Redis) -> list[str]:
    return sorted(k for k in client.keys("agent.*"))


def test_single_pool_needs_no_decision(
    celery_app: Celery, db_url: str, redis_client: redis.Redis
) -> None:
    router = router_for(settings_for(), db_url)
    use(celery_app, router)
    for _ in range(5):
        publish(celery_app)
    assert queued(redis_client, "agent.cto.default") == 5
    router.close()
    assert redis_client.hget(keys.INFLIGHT, "agent.cto.default") == "5"
    stats = redis_client.hgetall(f"{keyspace.group('cto', Level.POOL)}:stats")
    assert stats["single_target:decisions"] == "5"
    assert not any(k.endswith(":decisions") and not k.startswith("single") for k in stats)


def test_instance_dispatch_spreads_by_strategy(
    celery_app: Celery, db_url: str, redis_client: redis.Redis
) -> None:
    for queue in DIRECT[:3]:
        register_target(redis_client, "cto", queue)
    router = router_for(settings_for(dispatch="instance", strategy="round_robin"), db_url)
    use(celery_app, router)
    for _ in range(9):
        publish(celery_app)
    assert [queued(redis_client, q) for q in DIRECT[:3]] == [3, 3, 3]
    assert router.last_decision() is not None
    assert router.last_decision().strategy == "round_robin"


def test_per_call_strategy_and_affinity(
    celery_app: Celery, db_url: str, redis_client: redis.Redis
) -> None:
    for queue in DIRECT[:3]:
        register_target(redis_client, "cto", queue)
    router = router_for(settings_for(dispatch="instance"), db_url)
    use(celery_app, router)
    publish(celery_app, strategy="least_connections", affinity_key="session-42")
    first = router.last_decision()
    assert first is not None and first.affinity == "hit"
    for _ in range(3):
        on_task_done(redis_client, "cto", first.queue, 10.0, True)  # one request at a time
        publish(celery_app, affinity_key="session-42")
        assert router.last_decision().queue == first.queue
    assert queued(redis_client, first.queue) == 4
    group = keyspace.group("cto", Level.INSTANCE)
    assert redis_client.hget(f"{group}:stats", "least_connections:decisions") == "1"


def test_pool_dispatch_over_several_pools(
    celery_app: Celery, db_url: str, redis_client: redis.Redis
) -> None:
    pools = {"fast": PoolConfig(weight=3), "slow": PoolConfig(weight=1)}
    settings = settings_for(pools=pools, strategy="weighted_round_robin")
    router = router_for(settings, db_url)
    register_target(redis_client, "cto", "agent.cto.fast", capacity=4, pool="fast")
    register_target(redis_client, "cto", "agent.cto.slow", capacity=4, pool="slow")
    use(celery_app, router)
    for _ in range(8):
        publish(celery_app)
    fast, slow = queued(redis_client, "agent.cto.fast"), queued(redis_client, "agent.cto.slow")
    assert (fast, slow) == (6, 2)


def test_no_live_target_goes_to_the_pool_queue_and_says_so(
    celery_app: Celery, db_url: str, redis_client: redis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    router = router_for(settings_for(dispatch="instance", strategy="p2c"), db_url)
    use(celery_app, router)
    with caplog.at_level(logging.WARNING, logger="workers.routing.router"):
        publish(celery_app)
        publish(celery_app)
    decision = router.last_decision()
    assert decision is not None and decision.status is Status.FALLBACK
    assert queued(redis_client, "agent.cto.default") == 2
    warnings = [r.getMessage() for r in caplog.records]
    assert warnings == [
        "no live instance target for agent type cto: tasks wait in agent.cto.default "
        "until an instance starts"
    ]


def test_maintenance_and_other_tasks(celery_app: Celery, db_url: str) -> None:
    router = router_for(settings_for(), db_url)
    assert router("scheduler.autoscale", (), {}, {}) == {
        "queue": keys.MAINTENANCE_QUEUE,
        "routing_key": keys.MAINTENANCE_QUEUE,
    }
    assert router("some.other.task", (), {}, {}) is None


def test_explicit_queue_is_kept_and_counted(
    celery_app: Celery, db_url: str, redis_client: redis.Redis
) -> None:
    register_target(redis_client, "cto", DIRECT[0])
    router = router_for(settings_for(dispatch="instance"), db_url)
    use(celery_app, router)
    celery_app.send_task(
        AGENT_TASK, kwargs={"agent_type": "cto", "prompt": "p"}, queue="agent.cto.default"
    )
    assert queued(redis_client, "agent.cto.default") == 1
    assert redis_client.hget(keys.INFLIGHT, "agent.cto.default") == "1"
    assert redis_client.hget(keys.INFLIGHT, DIRECT[0]) is None


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"strategy": "fastest"}, UnknownName, "known: least_connections, p2c, resource"),
        ({"strategy": 3}, InvalidInput, "strategy"),
        ({"affinity_key": "k" * 257}, InvalidInput, "257 bytes; the limit is 256"),
        ({"affinity_key": "é" * 129}, InvalidInput, "258 bytes"),
        ({"affinity_key": 12}, InvalidInput, "affinity key must be text"),
    ],
)
def test_bad_options_publish_nothing(
    celery_app: Celery,
    db_url: str,
    redis_client: redis.Redis,
    options: dict[str, Any],
    error: type[Exception],
    message: str,
) -> None:
    register_target(redis_client, "cto", DIRECT[0])
    router = router_for(settings_for(dispatch="instance"), db_url)
    use(celery_app, router)
    with pytest.raises(error, match=message):
        publish(celery_app, **options)
    assert agent_queues(redis_client) == []
    assert redis_client.hget(keys.INFLIGHT, DIRECT[0]) is None


def test_unknown_agent_type_publishes_nothing(
    celery_app: Celery, db_url: str, redis_client: redis.Redis
) -> None:
    use(celery_app, router_for(settings_for(), db_url))
    with pytest.raises(UnknownAgent):
        publish(celery_app, agent_type="nobody")
    assert agent_queues(redis_client) == []


def test_affinity_key_of_exactly_256_bytes_is_fine(db_url: str, redis_client: redis.Redis) -> None:
    register_target(redis_client, "cto", DIRECT[0])
    router = router_for(settings_for(dispatch="instance"), db_url)
    decision = router.route_agent({"agent_type": "cto", "options": {"affinity_key": "k" * 256}})
    assert decision.queue == DIRECT[0]


def test_bad_settings_are_refused_at_start(db_url: str) -> None:
    with pytest.raises(UnknownName, match="unknown routing strategy 'fastest'"):
        router_for(settings_for(strategy="fastest"), db_url)
    bad = settings_for(pools={"a": PoolConfig.model_construct(weight=0.0, concurrency=1)})
    with pytest.raises(InvalidInput, match=r"weight of pool cto\.a must be > 0"):
        router_for(bad, db_url)


def test_unused_reservations_are_handed_back(db_url: str, redis_client: redis.Redis) -> None:
    for queue in DIRECT:
        register_target(redis_client, "cto", queue)
    router = router_for(
        settings_for(dispatch="instance", strategy="least_connections"),
        db_url,
        batch_max_age_s=0.05,
    )
    for _ in range(10):
        router.route_agent({"agent_type": "cto"})
    held = sum(int(v) for v in redis_client.hvals(keys.INFLIGHT))
    assert held >= 10  # a batch may still be reserved
    deadline = time.monotonic() + 2
    while held != 10 and time.monotonic() < deadline:
        time.sleep(0.02)
        held = sum(int(v) for v in redis_client.hvals(keys.INFLIGHT))
    assert held == 10
    assert redis_client.hget(f"{keyspace.group('cto', Level.INSTANCE)}:stats",
                             "least_connections:decisions") == "10"  # fmt: skip


def _spread(client: redis.Redis) -> int:
    loads = [int(v or 0) for v in client.hmget(keys.INFLIGHT, DIRECT)]
    return max(loads) - min(loads)


def _run_producers(pick: Any, client: redis.Redis) -> list[int]:
    stop = threading.Event()
    spreads: list[int] = []

    def monitor() -> None:
        while not stop.is_set():
            spreads.append(_spread(client))

    def producer() -> None:
        for _ in range(500):
            pick()

    watcher = threading.Thread(target=monitor)
    watcher.start()
    threads = [threading.Thread(target=producer) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stop.set()
    watcher.join()
    spreads.append(_spread(client))
    return spreads


def test_concurrent_producers_keep_least_connections_balanced(redis_client: redis.Redis) -> None:
    for queue in DIRECT:
        register_target(redis_client, "cto", queue)
    group = keyspace.group("cto", Level.INSTANCE)
    spreads = _run_producers(
        lambda: decide(redis_client, group, "least_connections", "agent.cto.default"),
        redis_client,
    )
    assert len(spreads) > 10 and max(spreads) <= 2
    assert [int(v) for v in redis_client.hmget(keys.INFLIGHT, DIRECT)] == [1000] * 4


def test_concurrent_producers_through_the_router(db_url: str, redis_client: redis.Redis) -> None:
    for queue in DIRECT:
        register_target(redis_client, "cto", queue)
    router = router_for(settings_for(dispatch="instance", strategy="least_connections"), db_url)
    spreads = _run_producers(lambda: router.route_agent({"agent_type": "cto"}), redis_client)
    router.close()
    assert max(spreads) <= 2
    assert [int(v) for v in redis_client.hmget(keys.INFLIGHT, DIRECT)] == [1000] * 4
