"""The pymongo CommandListener: O(1) on the app thread, masked samples in a Redis stream."""

from __future__ import annotations

import os
import time
from datetime import timedelta
from typing import Any

import pytest
import redis
from pymongo.monitoring import CommandFailedEvent, CommandStartedEvent, CommandSucceededEvent
from redis.backoff import NoBackoff
from redis.retry import Retry

from scheduler.queries.readers.listener_stream import ListenerStreamReader
from scheduler.queries.record import Op
from workers.keys import QUERY_SAMPLES_STREAM
from workers.querylistener import QueryListener, redact_command

CONN = ("localhost", 27017)


def _run(
    listener: QueryListener,
    command: dict[str, Any],
    reply: dict[str, Any],
    *,
    request_id: int = 1,
    micros: int = 150_000,
    db: str = "shop",
) -> None:
    listener.started(CommandStartedEvent(command, db, request_id, CONN, request_id))
    listener.succeeded(
        CommandSucceededEvent(
            timedelta(microseconds=micros), reply, next(iter(command)), request_id, CONN, request_id
        )
    )


@pytest.fixture
def listener(redis_client: redis.Redis) -> Any:
    lst = QueryListener(redis_client, app_name="shop-api", flush_interval_s=3600)
    yield lst
    lst.close()


def test_samples_reach_the_stream_masked(
    listener: QueryListener, redis_client: redis.Redis
) -> None:
    _run(
        listener,
        {
            "find": "orders",
            "filter": {"email": "ann@example.com", "n": {"$in": [1, 2]}},
            "sort": {"at": -1},
            "lsid": {"id": "x"},
            "$db": "shop",
        },
        {"cursor": {"firstBatch": [{"_id": 1}, {"_id": 2}], "id": 0}, "ok": 1},
    )
    _run(
        listener,
        {
            "update": "orders",
            "updates": [
                {"q": {"_id": 7}, "u": {"$set": {"secret": "s3cr3t"}}},
                {"q": {"_id": 8}, "u": {"$set": {"secret": "s3cr3t"}}},
            ],
        },
        {"n": 2, "ok": 1},
        request_id=2,
        micros=40_000,
    )
    _run(listener, {"insert": "orders", "documents": [{"a": 1}]}, {"n": 1}, request_id=3)
    _run(listener, {"hello": 1}, {"ok": 1}, request_id=4)
    assert listener.flush() == 2
    raw = redis_client.xrange(QUERY_SAMPLES_STREAM)
    assert len(raw) == 1  # one entry carries the batch
    assert "example.com" not in str(raw) and "s3cr3t" not in str(raw)
    reader = ListenerStreamReader(redis_client)
    records = list(reader.records())
    find, upd1, upd2 = records
    assert (find.ns, find.op, find.duration_ms, find.n_returned) == ("shop.orders", Op.FIND, 150, 2)
    assert find.filter == {"email": "<str>", "n": {"$in": ["<number>", "<number>"]}}
    assert find.sort == {"at": -1} and find.app_name == "shop-api"
    assert (upd1.op, upd1.filter, upd1.duration_ms) == (Op.UPDATE, {"_id": "<number>"}, 20)
    assert upd2.filter == {"_id": "<number>"}
    assert reader.position() == {"id": raw[-1][0]}
    again = ListenerStreamReader(redis_client, start=reader.position())
    assert list(again.records()) == []


def test_failed_and_untracked_commands_leave_nothing(listener: QueryListener) -> None:
    cmd = {"find": "orders", "filter": {}}
    listener.started(CommandStartedEvent(cmd, "shop", 9, CONN, 9))
    listener.failed(CommandFailedEvent(timedelta(milliseconds=3), {"ok": 0}, "find", 9, CONN, 9))
    assert listener._pending == {} and len(listener._queue) == 0


def test_never_raises_into_the_application(listener: QueryListener) -> None:
    listener.started(object())  # type: ignore[arg-type]
    listener.succeeded(object())  # type: ignore[arg-type]
    listener.failed(object())  # type: ignore[arg-type]
    assert listener.errors == 3


def test_min_duration_and_bounded_queue(redis_client: redis.Redis) -> None:
    lst = QueryListener(redis_client, min_duration_ms=100, max_queue=3, flush_interval_s=3600)
    try:
        _run(lst, {"find": "c", "filter": {}}, {"cursor": {"firstBatch": []}}, micros=50_000)
        assert len(lst._queue) == 0
        for i in range(5):
            _run(
                lst, {"find": "c", "filter": {}}, {"cursor": {"firstBatch": []}}, request_id=10 + i
            )
        assert len(lst._queue) == 3 and lst.dropped == 2
    finally:
        lst.close()


def test_background_thread_flushes(redis_client: redis.Redis) -> None:
    lst = QueryListener(redis_client, flush_interval_s=0.05)
    try:
        _run(lst, {"count": "c", "query": {"a": 1}}, {"n": 4, "ok": 1})
        deadline = time.monotonic() + 5
        while redis_client.xlen(QUERY_SAMPLES_STREAM) == 0 and time.monotonic() < deadline:
            time.sleep(0.02)
        (record,) = ListenerStreamReader(redis_client).records()
        assert (record.op, record.n_returned, record.filter) == (Op.COUNT, 4, {"a": "<number>"})
    finally:
        lst.close()


def test_redis_down_drops_samples_without_blocking() -> None:
    dead = redis.Redis(port=1, socket_connect_timeout=0.2, retry=Retry(NoBackoff(), 0))
    lst = QueryListener(dead, flush_interval_s=3600)
    started = time.perf_counter()
    for i in range(100):
        _run(lst, {"find": "c", "filter": {"a": i}}, {"cursor": {"firstBatch": []}}, request_id=i)
    assert time.perf_counter() - started < 0.5  # the app thread never touched the network
    assert lst.flush() == 0
    assert lst.dropped == 100
    lst.close()


def test_redaction_keeps_structure_drops_data() -> None:
    cmd = {
        "aggregate": "c",
        "pipeline": [
            {"$match": {"name": "bob", "age": {"$gt": 30}}},
            {"$sort": {"age": -1}},
            {"$lookup": {"from": "x", "pipeline": [{"$match": {"k": "secret"}}]}},
            {"$limit": 5},
        ],
        "cursor": {},
        "lsid": {"id": "s"},
    }
    assert redact_command("aggregate", cmd) == {
        "aggregate": "c",
        "pipeline": [
            {"$match": {"name": "<str>", "age": {"$gt": "<number>"}}},
            {"$sort": {"age": -1}},
            {"$lookup": {}},
            {"$limit": 5},
        ],
    }
    fam = {
        "findAndModify": "c",
        "query": {"a": "x"},
        "sort": {"b": 1},
        "update": {"$set": {"p": "secret"}},
    }
    assert redact_command("findAndModify", fam) == {
        "findAndModify": "c",
        "query": {"a": "<str>"},
        "sort": {"b": 1},
    }


MONGO_URL = os.environ.get("MONGO_URL")


@pytest.mark.skipif(
    not MONGO_URL,
    reason="MONGO_URL is not set: mongomock fires no command events, the "
    "listener needs a real MongoDB",
)
def test_listener_on_a_real_client(redis_client: redis.Redis) -> None:
    from pymongo import MongoClient

    lst = QueryListener(redis_client, flush_interval_s=3600)
    client: MongoClient[Any] = MongoClient(
        MONGO_URL, event_listeners=[lst], serverSelectionTimeoutMS=5000
    )
    coll = client["infra_mind_test_listener"]["people"]
    try:
        coll.insert_many([{"name": f"n{i}", "age": i} for i in range(10)])
        list(coll.find({"age": {"$gte": 5}}).sort("name", 1))
        coll.count_documents({"name": "n1"})
        lst.flush()
        records = list(ListenerStreamReader(redis_client).records())
        finds = [r for r in records if r.op is Op.FIND]
        assert finds and finds[0].filter == {"age": {"$gte": "<number>"}}
        assert finds[0].n_returned == 5 and finds[0].ns == "infra_mind_test_listener.people"
        assert any(r.op is Op.AGGREGATE for r in records)  # count_documents runs $match
    finally:
        client.drop_database("infra_mind_test_listener")
        client.close()
        lst.close()
