"""Reconcile: expired targets, leftovers of vanished direct queues, in-flight repair."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator

import pytest
import redis
from celery import Celery
from kombu import Connection, Consumer, Queue

from workers import keys
from workers.routing import keyspace
from workers.routing.decision import decide
from workers.routing.keyspace import Level
from workers.routing.reconcile import Observation, plan_repairs, reconcile
from workers.routing.router import AGENT_TASK
from workers.routing.scripts import script
from workers.routing.targets import on_heartbeat, register_target, unregister_target
from workers.settings import load_settings

DIRECT = "agent.cto.default.0@h"
POOL = "agent.cto.default"
IGROUP = keyspace.group("cto", Level.INSTANCE)


@pytest.fixture
def db_url(redis_url: str, redis_client: redis.Redis) -> str:
    return redis_url.rsplit("/", 1)[0] + "/1"


@pytest.fixture
def celery_app(db_url: str) -> Iterator[Celery]:
    app = Celery("reconcile-test", broker=db_url, set_as_current=False)
    app.conf.update(
        task_create_missing_queues=True,
        broker_transport_options={"queue_order_strategy": "priority"},
    )
    yield app
    app.close()


def settings():  # type: ignore[no-untyped-def]
    return load_settings()


def set_in_flight(client: redis.Redis, queue: str, delta: int) -> None:
    script("repair")(client, (), ["", queue, delta])


def queued(client: redis.Redis, queue: str) -> int:
    return sum(client.llen(k) for k in keys.priority_queue_keys(queue))


def fill_direct_queue(app: Celery, client: redis.Redis) -> list[str]:
    """Three real Celery messages (two priorities) in the direct queue, counted in flight."""
    ids = []
    for n, priority in enumerate((9, 9, 0)):  # Redis transport: 0 is served first
        result = app.send_task(
            AGENT_TASK, kwargs={"agent_type": "cto", "prompt": f"p{n}"},
            queue=DIRECT, priority=priority,
        )  # fmt: skip
        ids.append(result.id)
    set_in_flight(client, DIRECT, 3)
    return ids


def consume(db_url: str, queue: str, expected: int) -> list[dict]:
    got: list[dict] = []
    with Connection(db_url, transport_options={"queue_order_strategy": "priority"}) as conn:

        def on_message(body: object, message: object) -> None:
            got.append({"id": message.headers["id"], "info": message.delivery_info})  # type: ignore[attr-defined]
            message.ack()  # type: ignore[attr-defined]

        with Consumer(conn, [Queue(queue)], callbacks=[on_message], accept=["json"]):
            while len(got) < expected:
                conn.drain_events(timeout=2)
    return got


def test_leftovers_of_a_gone_target_move_home_exactly_once(
    celery_app: Celery, db_url: str, redis_client: redis.Redis
) -> None:
    register_target(redis_client, "cto", DIRECT)
    ids = fill_direct_queue(celery_app, redis_client)
    unregister_target(redis_client, "cto", DIRECT)

    threads = [
        threading.Thread(target=reconcile, args=(redis_client, settings())) for _ in range(3)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    report = reconcile(redis_client, settings())
    assert report["moved"] == {}
    assert queued(redis_client, DIRECT) == 0
    assert queued(redis_client, POOL) == 3
    assert redis_client.hget(keys.INFLIGHT, POOL) == "3"
    assert redis_client.hget(keys.INFLIGHT, DIRECT) is None

    got = consume(db_url, POOL, 3)
    assert sorted(m["id"] for m in got) == sorted(ids)
    assert got[0]["id"] == ids[2]  # the priority-0 message is still served first
    assert {m["info"]["routing_key"] for m in got} == {POOL}
    assert {m["info"]["exchange"] for m in got} <= {"", POOL}


def test_leftovers_keep_their_order_ahead_of_newer_work(
    celery_app: Celery, db_url: str, redis_client: redis.Redis
) -> None:
    register_target(redis_client, "cto", DIRECT)
    old = [celery_app.send_task(AGENT_TASK, queue=DIRECT).id for _ in range(3)]
    new = celery_app.send_task(AGENT_TASK, queue=POOL).id
    unregister_target(redis_client, "cto", DIRECT)
    assert reconcile(redis_client, settings())["moved"] == {DIRECT: 3}
    assert [m["id"] for m in consume(db_url, POOL, 4)] == [*old, new]


def test_expired_instance_leftovers_move_but_live_ones_stay(
    celery_app: Celery, redis_client: redis.Redis
) -> None:
    live = "agent.cto.default.1@h"
    for n, queue in ((0, DIRECT), (1, live)):
        instance = queue.removeprefix("agent.")
        redis_client.hset(keys.heartbeat(instance), "state", "active")
        redis_client.pexpire(keys.heartbeat(instance), 60_000)
        on_heartbeat(redis_client, {"instance": instance, "concurrency": "1", "pid": str(n)})
        celery_app.send_task(AGENT_TASK, queue=queue)
    redis_client.delete(keys.heartbeat("cto.default.0@h"))  # the process died
    report = reconcile(redis_client, settings(), now=redis_client.time()[0] + 70)
    assert report["expired"] == {
        IGROUP: [DIRECT, live],
        keyspace.group("cto", Level.POOL): [POOL],
    }
    assert report["moved"] == {DIRECT: 1}  # 1@h's heartbeat hash is still there
    assert (queued(redis_client, DIRECT), queued(redis_client, live)) == (0, 1)


def test_draining_instance_keeps_its_queue_until_it_stops(
    celery_app: Celery, redis_client: redis.Redis
) -> None:
    instance = DIRECT.removeprefix("agent.")
    redis_client.hset(keys.heartbeat(instance), "state", "draining")
    redis_client.pexpire(keys.heartbeat(instance), 60_000)
    on_heartbeat(redis_client, {"instance": instance, "state": "draining"})
    celery_app.send_task(AGENT_TASK, queue=DIRECT)
    assert reconcile(redis_client, settings())["moved"] == {}
    redis_client.delete(keys.heartbeat(instance))
    assert reconcile(redis_client, settings())["moved"] == {DIRECT: 1}


def test_long_gone_targets_are_forgotten(redis_client: redis.Redis) -> None:
    register_target(redis_client, "cto", DIRECT)
    unregister_target(redis_client, "cto", DIRECT)
    reconcile(redis_client, settings())
    assert redis_client.sismember(f"{IGROUP}:known", DIRECT)
    later = redis_client.time()[0] + 3600
    assert reconcile(redis_client, settings(), now=later)["purged"] == [DIRECT]
    assert not redis_client.exists(keyspace.target(DIRECT))


def test_a_leak_is_repaired_on_the_second_run(redis_client: redis.Redis) -> None:
    register_target(redis_client, "cto", DIRECT)
    decide(redis_client, IGROUP, "least_connections", POOL, count=0)  # keeps the lc index
    set_in_flight(redis_client, DIRECT, 5)  # five tasks that will never report back
    assert reconcile(redis_client, settings())["repaired"] == {}
    assert reconcile(redis_client, settings())["repaired"] == {DIRECT: -5}
    assert redis_client.hget(keys.INFLIGHT, DIRECT) is None
    assert redis_client.zscore(f"{IGROUP}:lc", DIRECT) == 0
    assert redis_client.hget(f"{IGROUP}:meta", "sum_p") == "0"


def test_delivered_and_waiting_work_is_not_a_leak(
    celery_app: Celery, redis_client: redis.Redis
) -> None:
    register_target(redis_client, "cto", DIRECT)
    celery_app.send_task(AGENT_TASK, queue=DIRECT)
    redis_client.hset("unacked", "tag-1", json.dumps([{}, DIRECT, DIRECT]))
    set_in_flight(redis_client, DIRECT, 2)
    for _ in range(3):
        assert reconcile(redis_client, settings())["repaired"] == {}
    assert redis_client.hget(keys.INFLIGHT, DIRECT) == "2"


def test_lost_counts_come_back_for_waiting_messages(
    celery_app: Celery, redis_client: redis.Redis
) -> None:
    for _ in range(4):
        celery_app.send_task(AGENT_TASK, queue=POOL)
    reconcile(redis_client, settings())
    assert reconcile(redis_client, settings())["repaired"] == {POOL: 4}
    assert redis_client.hget(keys.INFLIGHT, POOL) == "4"


def test_plan_repairs_only_fixes_persistent_drift() -> None:
    observed = {
        "leak": Observation(counter=9, queued=1, unacked=2),  # 6 too many
        "fresh": Observation(counter=5, queued=0, unacked=0),  # first time seen
        "lost": Observation(counter=1, queued=4, unacked=0),  # 3 too few
        "fine": Observation(counter=3, queued=1, unacked=2),
    }
    previous = {"leak": 4, "lost": -7, "fine": 2}
    deltas, remember = plan_repairs(observed, previous)
    assert deltas == {"leak": -4, "lost": 3}
    assert remember == {"leak": 2, "fresh": 5}
