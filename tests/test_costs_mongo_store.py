"""The MongoDB layer: client pool, indexes, idempotent bulk writes, retries, crash recovery.

Runs against MONGO_URL when set, else mongomock (pytest's report header says which).
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from collections.abc import Iterator

import mongomock
import pytest
from pymongo.database import Database

from scheduler.costs.mongo_sink import _doc, _upserts, archive_batch, read_rollups, recover
from scheduler.costs.rollup import Aggregator, to_record
from workers.errors import BackendUnavailable
from workers.events import TaskEvent, TaskStatus
from workers.redis_server import free_port
from workers.settings import load_settings
from workers.stores import mongo as mongo_store
from workers.stores.indexes import COST_ROLLUPS, INDEXES, TASK_RECORDS, Retention
from workers.stores.mongo import (
    MongoPool,
    Upsert,
    ensure_indexes,
    insert_new,
    mongo_client,
    mongo_database,
    upsert_each,
)

T0 = 1_741_564_800.0


@pytest.fixture
def db() -> Iterator[Database]:
    url = os.environ.get("MONGO_URL")
    if not url:
        yield mongomock.MongoClient().get_database("infra_mind_test")
        return
    client = mongo_client(url)
    name = f"im_test_{uuid.uuid4().hex[:8]}"
    yield client[name]
    client.drop_database(name)
    client.close()


def test_client_pool_settings() -> None:
    client = mongo_client("mongodb://127.0.0.1:1", connect=False)
    pool = client.options.pool_options
    assert (pool.max_pool_size, pool.min_pool_size) == (50, 5)
    assert client.options.server_selection_timeout == 5.0
    client.close()


def test_redis_only_mode_is_announced_once(caplog: pytest.LogCaptureFixture) -> None:
    settings = load_settings(redis_url=None, mongo_url=None)
    mongo_store._announce_redis_only.cache_clear()
    with caplog.at_level(logging.INFO, logger="workers.stores.mongo"):
        assert mongo_database(settings) is None
        assert mongo_database(settings) is None
    assert sum("Redis-only mode" in r.message for r in caplog.records) == 1


def test_ensure_indexes_is_idempotent_and_sets_ttls(db: Database) -> None:
    made = ensure_indexes(db, Retention(resource_snapshots_days=30))
    assert made == ensure_indexes(db, Retention(resource_snapshots_days=30))
    assert len(made) == sum(len(specs) for specs in INDEXES.values())
    info = db["resource_snapshots"].index_information()
    assert info["ttl_ts"]["expireAfterSeconds"] == 30 * 86_400
    assert "dim_period_bucket" in db[COST_ROLLUPS].index_information()
    assert all(spec.serves for specs in INDEXES.values() for spec in specs)


def test_insert_new_reports_only_new_documents(db: Database) -> None:
    assert insert_new(db.t, [{"_id": 1}, {"_id": 2}]) == {1, 2}
    assert insert_new(db.t, [{"_id": 2}, {"_id": 3}, {"_id": 1}]) == {3}
    assert db.t.count_documents({}) == 3


def test_guarded_upserts_apply_a_batch_once(db: Database) -> None:
    op = Upsert({"_id": "k", "batches": {"$ne": "B"}},
                {"$inc": {"n": 5}, "$push": {"batches": "B"}})  # fmt: skip
    assert upsert_each(db.r, [op]) == 0
    assert upsert_each(db.r, [op]) == 1  # duplicate key: already applied
    assert db.r.find_one({"_id": "k"})["n"] == 5


def test_down_server_fails_fast_with_one_line() -> None:
    pool = MongoPool(server_selection_timeout_ms=100, connect_timeout_ms=100, min_pool_size=0)
    client = mongo_client(f"mongodb://127.0.0.1:{free_port()}", pool)
    started = time.monotonic()
    with pytest.raises(BackendUnavailable, match="MongoDB unavailable during insert into t"):
        insert_new(client.db.t, [{"_id": 1}])
    assert time.monotonic() - started < 10
    client.close()


def events(n: int) -> list[TaskEvent]:
    return [
        TaskEvent(task_id=f"m{i}", agent_type=("cto", "mlops")[i % 2], pool="default",
                  instance="x", provider="simulated", model="gpt-4o-mini",
                  status=TaskStatus.SUCCEEDED, llm_cost_usd=f"0.{i:06d}",
                  compute_cost_usd="0.000000000001", tenant="acme", finished_at=T0 + i)
        for i in range(n)
    ]  # fmt: skip


def month_llm(db: Database) -> dict[str, int]:
    rows = read_rollups(db, "month", "agent", ["2025-03"]).get("2025-03", {})
    return {k: v["llm_pico"] for k, v in rows.items()}


def test_replayed_batch_is_not_counted_twice(db: Database) -> None:
    records = [to_record(e) for e in events(200)]
    first = archive_batch(db, records, "B1")
    again = archive_batch(db, records, "B2")  # the same events read again
    assert (first.owned, again.owned, again.duplicates) == (200, 0, 200)
    expected = {
        "cto": sum(i for i in range(200) if i % 2 == 0) * 10**6,
        "mlops": sum(i for i in range(200) if i % 2 == 1) * 10**6,
    }
    assert month_llm(db) == expected


def test_crash_half_way_through_the_rollup_is_finished_exactly(db: Database) -> None:
    records = [to_record(e) for e in events(100)]
    db[TASK_RECORDS].insert_many([_doc(r, "B") for r in records])
    ops = _upserts(Aggregator().extend(records).rows(), "B")
    upsert_each(db[COST_ROLLUPS], ops[: len(ops) // 2])  # killed after half the documents
    assert recover(db) == 1
    assert recover(db) == 0  # nothing pending any more
    assert month_llm(db) == {
        "cto": sum(i for i in range(100) if i % 2 == 0) * 10**6,
        "mlops": sum(i for i in range(100) if i % 2 == 1) * 10**6,
    }
