"""The analyze_slow_queries job: offsets, idempotence, lock, insights in Redis and MongoDB."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import mongomock
import pytest
import redis

from scheduler.queries import state
from scheduler.queries.advice import esr_of, serves
from scheduler.queries.insights_store import (
    COLLECTION,
    namespace_insights,
    top_insights,
)
from scheduler.queries.job import run_job
from scheduler.queries.shapes import Kind
from scheduler.queries.stats import StatsTable
from tests.test_queries_support import orders_collscan, other_entry, slow_entry, write_log
from workers.keys import (
    QUERY_INSIGHTS,
    QUERY_JOB_LOCK,
    QUERY_OFFSETS,
    QUERY_SAMPLES_STREAM,
    QUERY_SHAPE_STATS,
)
from workers.querylistener import QueryListener
from workers.settings import load_settings
from workers.stores.indexes import INDEXES

#: Insights carry the run's time; the TTL index would purge anything dated long ago.
NOW = datetime.now(UTC).replace(microsecond=0)


def _settings(*logs: Path, **extra: Any) -> SimpleNamespace:
    return SimpleNamespace(slow_query_log_files=list(logs), slow_query_threshold_ms=100, **extra)


def _counts(client: redis.Redis) -> dict[str, int]:
    return {s.shape.id: s.count for s in state.load_stats(client)}


@pytest.fixture
def db() -> Any:
    return mongomock.MongoClient()["infra_mind"]


def test_runs_read_only_new_entries(tmp_path: Path, redis_client: redis.Redis, db: Any) -> None:
    log = write_log(tmp_path / "mongod.log", [other_entry(), *orders_collscan(4)])
    first = run_job(redis_client, _settings(log), db, now=NOW)
    assert first["status"] == "ok" and first["records"] == 4 and first["suggestions"] == 1
    assert first["errors"] == [] and first["mongo_documents"] == 2
    assert "create index status_1_total_-1_created_1" in first["findings"][0]
    after_first = _counts(redis_client)
    mongo_first = list(db[COLLECTION].find({}, {"updated_at": 0}).sort("_id", 1))

    second = run_job(redis_client, _settings(log), db, now=NOW)
    assert second["records"] == 0
    assert _counts(redis_client) == after_first
    assert list(db[COLLECTION].find({}, {"updated_at": 0}).sort("_id", 1)) == mongo_first

    with log.open("a") as f:
        for entry in orders_collscan(3, start=100):
            f.write(json.dumps(entry) + "\n")
    third = run_job(redis_client, _settings(log), db, now=NOW)
    assert third["records"] == 3
    assert list(_counts(redis_client).values()) == [7]


def test_insights_in_redis_and_mongo(tmp_path: Path, redis_client: redis.Redis, db: Any) -> None:
    fast = [
        slow_entry(
            "shop.users",
            {"find": "users", "filter": {"_id": 1}},
            2,
            planSummary="IDHACK",
            docsExamined=1,
            nreturned=1,
        )
    ]
    log = write_log(tmp_path / "m.log", [*orders_collscan(5), *fast])
    run_job(redis_client, _settings(log), db, now=NOW)
    insights = json.loads(redis_client.get(QUERY_INSIGHTS))
    assert insights["generated_at"] == NOW.isoformat()
    assert insights["suggestions"][0]["key"] == [["status", 1], ["total", -1], ["created", 1]]
    assert [r["ns"] for r in insights["shapes"]] == ["shop.orders", "shop.users"]
    top = top_insights(db, "shape")
    assert [d["ns"] for d in top] == ["shop.orders", "shop.users"]
    assert top[0]["slow"] is True and json.loads(top[0]["shape"])["sort"] == {"total": -1}
    (sug,) = namespace_insights(db, "suggestion", "shop.orders")
    assert sug["command"].endswith('.createIndex({"status": 1, "total": -1, "created": 1})')
    assert {i["name"] for i in db[COLLECTION].list_indexes()} >= {
        "kind_rank",
        "kind_ns_rank",
        "ttl_updated_at",
    }


def test_each_insights_index_serves_its_documented_query() -> None:
    keys = {spec.name: tuple(spec.keys) for spec in INDEXES[COLLECTION]}
    top = esr_of({"kind": Kind.EQUALITY}, (("rank", 1),))
    per_ns = esr_of({"kind": Kind.EQUALITY, "ns": Kind.EQUALITY}, (("rank", 1),))
    ttl = esr_of({"updated_at": Kind.RANGE}, ())
    assert serves(keys["kind_rank"], top)
    assert serves(keys["kind_ns_rank"], per_ns) and not serves(keys["kind_rank"], per_ns)
    assert serves(keys["ttl_updated_at"], ttl)


def test_stale_suggestions_are_removed(tmp_path: Path, redis_client: redis.Redis, db: Any) -> None:
    log = write_log(tmp_path / "m.log", orders_collscan(3))
    run_job(redis_client, _settings(log), db, now=NOW)
    assert db[COLLECTION].count_documents({"kind": "suggestion"}) == 1
    # The index now exists: plan summaries name it, so the suggestion goes away.
    with log.open("a") as f:
        entry = orders_collscan(1, start=99)[0]
        entry["attr"]["planSummary"] = "IXSCAN { status: 1, total: -1, created: 1 }"
        f.write(json.dumps(entry) + "\n")
    run_job(redis_client, _settings(log), db, now=NOW)
    assert db[COLLECTION].count_documents({"kind": "suggestion"}) == 0


def test_lock_and_conflict_write_nothing(tmp_path: Path, redis_client: redis.Redis) -> None:
    log = write_log(tmp_path / "m.log", orders_collscan(2))
    redis_client.set(QUERY_JOB_LOCK, "someone-else")
    assert run_job(redis_client, _settings(log))["status"] == "skipped"
    assert redis_client.hlen(QUERY_SHAPE_STATS) == 0 and redis_client.hlen(QUERY_OFFSETS) == 0
    redis_client.delete(QUERY_JOB_LOCK)

    # A run that read with stale offsets (another run committed meanwhile) commits nothing.
    table = StatsTable()
    assert state.commit(redis_client, table, {"log:x": {"offset": 1}}, {})
    assert not state.commit(redis_client, table, {"log:x": {"offset": 2}}, {})
    assert state.load_offsets(redis_client) == {"log:x": {"offset": 1}}
    assert redis_client.get(QUERY_JOB_LOCK) is None


def test_a_bad_input_does_not_stop_the_others(tmp_path: Path, redis_client: redis.Redis) -> None:
    bad = tmp_path / "notes.txt"
    bad.write_text("just some text\n" * 60)
    good = write_log(tmp_path / "m.log", orders_collscan(2))
    result = run_job(redis_client, _settings(bad, good, tmp_path / "missing.log"))
    assert result["records"] == 2
    assert len(result["errors"]) == 2
    assert "is not a mongod log" in result["errors"][0]
    assert "cannot read log" in result["errors"][1]
    assert not any(k.startswith(f"log:{bad}") for k in state.load_offsets(redis_client))


def test_listener_samples_are_consumed_and_trimmed(redis_client: redis.Redis) -> None:
    from datetime import timedelta

    from pymongo.monitoring import CommandStartedEvent, CommandSucceededEvent

    lst = QueryListener(redis_client, flush_interval_s=3600)
    for i in range(5):
        cmd = {"find": "orders", "filter": {"status": "open", "n": i}}
        lst.started(CommandStartedEvent(cmd, "shop", i, ("h", 1), i))
        lst.succeeded(
            CommandSucceededEvent(
                timedelta(milliseconds=300), {"cursor": {"firstBatch": []}}, "find", i, ("h", 1), i
            )
        )
    lst.close()
    result = run_job(redis_client, load_settings())  # the real settings, defaults for the rest
    assert result["records"] == 5 and result["status"] == "ok"
    assert redis_client.xlen(QUERY_SAMPLES_STREAM) <= 1
    assert run_job(redis_client, load_settings())["records"] == 0
    (sug,) = json.loads(redis_client.get(QUERY_INSIGHTS))["suggestions"]
    assert sug["key"] == [["n", 1], ["status", 1]]
    assert "no plan reported" in sug["reasons"][0]


def test_killed_run_leaves_nothing_half_counted(
    tmp_path: Path, redis_client: redis.Redis, redis_url: str
) -> None:
    import subprocess
    import sys
    import time

    log = write_log(tmp_path / "big.log", orders_collscan(20_000))
    url = redis_url.rsplit("/", 1)[0] + "/1"
    code = (
        "import redis, types; from scheduler.queries.job import run_job; "
        f"run_job(redis.Redis.from_url({url!r}), types.SimpleNamespace("
        f"slow_query_log_files=[{str(log)!r}]))"
    )
    proc = subprocess.Popen([sys.executable, "-c", code])
    deadline = time.monotonic() + 30
    while (
        redis_client.get(QUERY_JOB_LOCK) is None
        and proc.poll() is None
        and time.monotonic() < deadline
    ):
        time.sleep(0.01)
    proc.kill()  # somewhere in the middle of reading (or just after committing)
    proc.wait()
    redis_client.delete(QUERY_JOB_LOCK)  # what the lock's TTL does after a kill
    run_job(redis_client, _settings(log))
    assert list(_counts(redis_client).values()) == [20_000]


def test_concurrent_runs_count_once(tmp_path: Path, redis_client: redis.Redis) -> None:
    from concurrent.futures import ThreadPoolExecutor

    log = write_log(tmp_path / "m.log", orders_collscan(3_000))
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda _: run_job(redis_client, _settings(log)), range(2)))
    assert sorted(r["status"] for r in results) in (["ok", "skipped"], ["ok", "ok"])
    assert list(_counts(redis_client).values()) == [3_000]
    assert redis_client.get(QUERY_JOB_LOCK) is None
