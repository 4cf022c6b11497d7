"""Decisions stored in Redis (bounded) and MongoDB (mongomock unless MONGO_URL is set)."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from typing import Any

import mongomock
import pytest
import redis
from pymongo import MongoClient
from pymongo.database import Database

from scheduler.autoscale import history
from scheduler.autoscale.decision import Decision, Direction

NOW = float(int(time.time()))  # recent: the archive expires old decisions


@pytest.fixture
def mongo_db() -> Iterator[Database[Any]]:
    url = os.environ.get("MONGO_URL")
    client: Any = MongoClient(url) if url else mongomock.MongoClient()
    db = client["infra_mind_test_autoscale"]
    db.drop_collection(history.COLLECTION)
    yield db
    db.drop_collection(history.COLLECTION)


def decision(at: float, desired: int, agent_type: str = "cto", direction: str = "up") -> Decision:
    return Decision(
        agent_type=agent_type,
        pool="default",
        at=at,
        current=1,
        desired=desired,
        actual=1,
        recommendation=desired,
        direction=Direction(direction),
        reason="backlog",
        inputs={"signals": {"queue_depth": 3}},
        applied=True,
    )


def test_recent_decisions_are_bounded_and_newest_first(redis_client: redis.Redis) -> None:
    batch = [decision(NOW + i, i % 5) for i in range(history.RECENT_PER_POOL + 10)]
    for d in batch:
        history.record(redis_client, [d])
    recent = history.recent(redis_client, "cto", "default")
    assert len(recent) == history.RECENT_PER_POOL
    assert recent[0] == batch[-1]
    assert history.recent(redis_client, "cto", "default", limit=3) == batch[-1:-4:-1]


def test_latest_merges_pools_and_filters_changes(redis_client: redis.Redis) -> None:
    history.record(
        redis_client,
        [
            decision(NOW, 2),
            decision(NOW + 1, 2, "research", "hold"),
            decision(NOW + 2, 3, "research"),
        ],
    )
    pools = [("cto", "default"), ("research", "default")]
    assert [d.at for d in history.latest(redis_client, pools)] == [NOW + 2, NOW + 1, NOW]
    changes = history.latest(redis_client, pools, changes_only=True, limit=1)
    assert [(d.agent_type, d.desired) for d in changes] == [("research", 3)]


def test_archive_in_mongodb_is_idempotent(
    redis_client: redis.Redis, mongo_db: Database[Any]
) -> None:
    history.ensure_indexes(mongo_db)
    batch = [decision(NOW, 2), decision(NOW + 5, 3), decision(NOW + 5, 4, "research")]
    history.record(redis_client, batch, mongo_db)
    history.record(redis_client, batch[:1], mongo_db)  # a repeated run stores nothing twice
    assert mongo_db[history.COLLECTION].count_documents({}) == 3
    found = history.from_mongo(mongo_db, agent_type="cto", since=NOW + 1)
    assert found == [batch[1]]
    assert "ttl_at_time" in mongo_db[history.COLLECTION].index_information()
