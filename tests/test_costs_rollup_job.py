"""The rollup job end to end on a real Redis: exact totals, kills, replays, MongoDB outages.

MongoDB: a real server when MONGO_URL is set, else mongomock (see pytest's report header).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import mongomock
import pytest
import redis
from pymongo.database import Database

from scheduler.costs.config import CostConfig
from scheduler.costs.job import run_job
from scheduler.costs.mongo_sink import read_rollups
from scheduler.costs.redis_sink import read_bucket
from scheduler.costs.rollup import Dim, Period, label
from workers.events import TaskEvent, TaskStatus
from workers.keys import EVENTS_INVALID, EVENTS_STREAM
from workers.redis_server import free_port
from workers.settings import Settings, load_settings
from workers.stores.indexes import TASK_RECORDS
from workers.stores.mongo import MongoPool, ensure_indexes, insert_new, mongo_client

ROOT = Path(__file__).resolve().parents[1]
#: 2025-01-31 23:30 UTC: the generated events straddle an hour, a day and a month boundary.
T0 = 1_738_366_200.0
AGENTS = ("cto", "research", "compliance")
TENANTS = ("", "acme", "globex")
MODELS = {"cto": "gpt-4o", "research": "gpt-4.1", "compliance": "gpt-4.1-mini"}


def make_events(n: int, seed: int = 7, start: float = T0, prefix: str = "t") -> list[TaskEvent]:
    """Deterministic events with 12-decimal costs, unpriced and failed ones, and 1 % re-emitted
    task ids (a redelivered task), spread over an hour around ``start`` + 30 min."""
    rnd = random.Random(seed)
    out: list[TaskEvent] = []
    for i in range(n):
        agent = AGENTS[i % 3]
        priced = i % 50 != 0
        task_id = f"{prefix}{i}" if i % 100 != 99 else f"{prefix}{i - 1}"
        out.append(
            TaskEvent(
                task_id=task_id, agent_type=agent, pool="default", instance=f"{agent}.default.1@h",
                provider="simulated", model=MODELS[agent] if priced else "house-llm",
                status=TaskStatus.FAILED if i % 17 == 0 else TaskStatus.SUCCEEDED,
                prompt_tokens=rnd.randint(10, 5000), completion_tokens=rnd.randint(1, 900),
                cached_tokens=0, llm_cost_usd=f"{rnd.randint(0, 10**10) / 10**12:.12f}"
                if priced else "0", priced=priced,
                compute_cost_usd=f"{rnd.randint(0, 10**8) / 10**12:.12f}",
                run_ms=rnd.randint(1, 5000) / 10, tenant=TENANTS[i % 3],
                finished_at=start + rnd.random() * 3600,
            )
        )  # fmt: skip
    return out


def hand_totals(events: list[TaskEvent]) -> dict[str, dict[str, Any]]:
    """Per agent type: requests and exact USD, counting each task id once (first event)."""
    seen: set[str] = set()
    out: dict[str, dict[str, Any]] = {}
    for ev in events:
        if ev.task_id in seen:
            continue
        seen.add(ev.task_id)
        row = out.setdefault(
            ev.agent_type, {"requests": 0, "llm": Decimal(0), "compute": Decimal(0)}
        )
        row["requests"] += 1
        row["llm"] += Decimal(ev.llm_cost_usd) if ev.priced else 0
        row["compute"] += Decimal(ev.compute_cost_usd)
    return out


def emit_all(client: redis.Redis, events: list[TaskEvent]) -> None:
    with client.pipeline(transaction=False) as pipe:
        for ev in events:
            pipe.xadd(EVENTS_STREAM, ev.to_fields())
        pipe.execute()


def redis_month_totals(client: redis.Redis, month: str = "2025-02") -> dict[str, dict[str, Any]]:
    """Sum of the two months the events touch, per agent type."""
    out: dict[str, dict[str, Any]] = {}
    for lab in ("2025-01", month):
        for key, row in read_bucket(client, Period.MONTH, lab, Dim.AGENT).items():
            acc = out.setdefault(key, {"requests": 0, "llm": Decimal(0), "compute": Decimal(0)})
            acc["requests"] += row["requests"]
            acc["llm"] += Decimal(row["llm_pico"]).scaleb(-12)
            acc["compute"] += Decimal(row["compute_pico"]).scaleb(-12)
    return out


def mongo_month_totals(db: Database) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for rows in read_rollups(db, "month", "agent", ["2025-01", "2025-02"]).values():
        for key, row in rows.items():
            acc = out.setdefault(key, {"requests": 0, "llm": Decimal(0), "compute": Decimal(0)})
            acc["requests"] += row.get("requests", 0)
            acc["llm"] += Decimal(row.get("llm_pico", 0)).scaleb(-12)
            acc["compute"] += Decimal(row.get("compute_pico", 0)).scaleb(-12)
    return out


@pytest.fixture(scope="module")
def settings() -> Settings:
    return load_settings(redis_url=None, mongo_url=None)


@pytest.fixture
def mongo_db() -> Iterator[Database]:
    url = os.environ.get("MONGO_URL")
    if not url:
        yield mongomock.MongoClient().get_database("infra_mind_test")
        return
    client = mongo_client(url)
    name = f"im_test_{uuid.uuid4().hex[:8]}"
    db = client[name]
    ensure_indexes(db)
    yield db
    client.drop_database(name)
    client.close()


@pytest.fixture
def down_db() -> Iterator[Database]:
    """A client on a closed port with short timeouts: MongoDB is "down"."""
    pool = MongoPool(server_selection_timeout_ms=150, connect_timeout_ms=150, min_pool_size=0)
    client = mongo_client(f"mongodb://127.0.0.1:{free_port()}", pool)
    yield client["infra_mind"]
    client.close()


FAST = CostConfig(batch=500, claim_idle_ms=0)


def test_redis_only_totals_are_exact_and_replay_safe(
    redis_client: redis.Redis, settings: Settings
) -> None:
    events = make_events(10_000)
    emit_all(redis_client, events)
    result = run_job(redis_client, settings, now=T0, config=FAST)
    assert result["mongo"] == "off"
    assert result["read"] == 10_000 and result["pending"] == 0
    assert result["rolled_up"] == 9_900 and result["duplicates"] == 100
    expected = hand_totals(events)
    assert redis_month_totals(redis_client) == expected
    # the same events emitted again (a producer replay) change nothing
    emit_all(redis_client, events[:3000])
    again = run_job(redis_client, settings, now=T0, config=FAST)
    assert again["rolled_up"] == 0 and again["duplicates"] == 3000
    assert redis_month_totals(redis_client) == expected


def test_buckets_are_utc_and_start_inclusive(redis_client: redis.Redis, settings: Settings) -> None:
    boundary = 1_738_368_000.0  # 2025-02-01T00:00:00Z
    events = [
        TaskEvent(task_id="a", agent_type="cto", pool="default", instance="i", provider="p",
                  model="gpt-4o", status=TaskStatus.SUCCEEDED, llm_cost_usd="1",
                  finished_at=boundary - 0.001),
        TaskEvent(task_id="b", agent_type="cto", pool="default", instance="i", provider="p",
                  model="gpt-4o", status=TaskStatus.SUCCEEDED, llm_cost_usd="2",
                  finished_at=boundary),
    ]  # fmt: skip
    emit_all(redis_client, events)
    run_job(redis_client, settings, now=boundary, config=FAST)
    jan = read_bucket(redis_client, Period.HOUR, "2025-01-31T23", Dim.AGENT)["cto"]
    feb = read_bucket(redis_client, Period.HOUR, "2025-02-01T00", Dim.AGENT)["cto"]
    assert (jan["llm_pico"], feb["llm_pico"]) == (10**12, 2 * 10**12)
    assert read_bucket(redis_client, Period.MONTH, "2025-02", Dim.AGENT)["cto"]["requests"] == 1
    assert label(Period.DAY, boundary) == "2025-02-01"


def test_invalid_events_are_set_aside(redis_client: redis.Redis, settings: Settings) -> None:
    redis_client.xadd(EVENTS_STREAM, {"task_id": "x", "agent_type": "cto"})  # fields missing
    bad_cost = make_events(1)[0].to_fields() | {"compute_cost_usd": "lots"}
    redis_client.xadd(EVENTS_STREAM, bad_cost)
    emit_all(redis_client, make_events(5, prefix="ok"))
    result = run_job(redis_client, settings, now=T0, config=FAST)
    assert result["invalid"] == 2 and result["rolled_up"] == 5 and result["pending"] == 0
    assert redis_client.xlen(EVENTS_INVALID) == 2


KILLED_RUN = """
import sys
from scheduler.costs.config import CostConfig
from scheduler.costs.job import run_job
from workers.settings import load_settings
from workers.stores.mongo import mongo_client
import redis
client = redis.Redis.from_url(sys.argv[1])
db = mongo_client(sys.argv[4])[sys.argv[5]] if len(sys.argv) > 4 else None
run_job(client, load_settings(redis_url=None, mongo_url=None), db, now=float(sys.argv[2]),
        consumer=sys.argv[3], config=CostConfig(batch=100, claim_idle_ms=0))
"""


def _entries_read(client: redis.Redis) -> int:
    groups = client.xinfo_groups(EVENTS_STREAM)
    return int(groups[0].get("entries-read") or 0) if groups else 0


@pytest.mark.parametrize("archive", ["redis-only", "mongo"])
def test_sigkill_mid_batch_then_rerun_counts_each_task_once(
    redis_client: redis.Redis, settings: Settings, archive: str
) -> None:
    """A subprocess running the job is SIGKILLed twice mid-way; a rerun finishes exactly.

    The MongoDB variant needs a server shared with the subprocess (MONGO_URL); mongomock
    lives in one process, so there the crash windows are covered in test_costs_mongo_store.
    """
    mongo_url = os.environ.get("MONGO_URL")
    if archive == "mongo" and not mongo_url:
        pytest.skip("needs MONGO_URL (a MongoDB shared with the killed subprocess)")
    db_name = f"im_test_{uuid.uuid4().hex[:8]}"
    extra = [mongo_url, db_name] if archive == "mongo" and mongo_url else []
    events = make_events(10_000, seed=11)
    emit_all(redis_client, events)
    url = redis_client.connection_pool.connection_kwargs
    db_url = f"redis://:{url['password']}@{url['host']}:{url['port']}/{url['db']}"
    kills = 0
    for attempt, stop_at in enumerate((2_000, 6_000)):
        proc = subprocess.Popen(
            [sys.executable, "-c", KILLED_RUN, db_url, str(T0), f"victim-{attempt}", *extra],
            cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while _entries_read(redis_client) < stop_at and proc.poll() is None:
            assert time.monotonic() < deadline, "the rollup subprocess made no progress"
            time.sleep(0.002)
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            kills += 1
        proc.wait()
    assert kills >= 1, "the rollup finished before it could be killed"
    left_pending = redis_client.xpending(EVENTS_STREAM, "rollup")["pending"]
    client = mongo_client(mongo_url) if extra and mongo_url else None
    db = client[db_name] if client else None
    try:
        result = run_job(redis_client, settings, db, now=T0, config=FAST)
        assert result["pending"] == 0
        assert result.get("from_claimed", 0) == left_pending
        assert redis_month_totals(redis_client) == hand_totals(events)
        if db is not None:
            assert mongo_month_totals(db) == hand_totals(events)
    finally:
        if client is not None:
            client.drop_database(db_name)
            client.close()


def test_mongo_down_then_back_gives_the_same_exact_totals(
    redis_client: redis.Redis, settings: Settings, mongo_db: Database, down_db: Database
) -> None:
    first, second = make_events(1_500, seed=1), make_events(1_500, seed=2, prefix="u")
    emit_all(redis_client, first)
    ok = run_job(redis_client, settings, mongo_db, now=T0, config=FAST)
    assert ok["mongo"] == "ok" and ok["archived"] == 1_485
    emit_all(redis_client, second)
    down = run_job(redis_client, settings, down_db, now=T0, config=FAST)
    assert down["mongo"] == "unavailable"
    assert down["pending"] == FAST.batch  # read, not acknowledged
    assert redis_month_totals(redis_client) == hand_totals(first)  # Redis waits for Mongo
    back = run_job(redis_client, settings, mongo_db, now=T0, config=FAST)
    assert back["mongo"] == "ok" and back["pending"] == 0
    expected = hand_totals(first + second)
    assert mongo_month_totals(mongo_db) == expected
    assert redis_month_totals(redis_client) == expected
    assert mongo_db[TASK_RECORDS].count_documents({}) == 2 * 1_485
    assert mongo_db[TASK_RECORDS].count_documents({"pending": True}) == 0


def test_crash_between_archive_and_rollup_is_recovered(
    redis_client: redis.Redis, settings: Settings, mongo_db: Database
) -> None:
    """Step 1 of a batch done (records inserted, pending), steps 2-3 never ran."""
    from scheduler.costs.mongo_sink import _doc
    from scheduler.costs.rollup import to_record

    events = make_events(600, seed=5)
    records = [to_record(ev) for ev in events]
    unique = {r["_id"]: r for r in reversed(records)}  # first occurrence wins
    insert_new(mongo_db[TASK_RECORDS], [_doc(r, "crashed-batch") for r in unique.values()])
    emit_all(redis_client, events)  # the same events are still on the stream, unacked
    result = run_job(redis_client, settings, mongo_db, now=T0, config=FAST)
    assert result["recovered_batches"] == 1
    assert result["archived"] == 0  # every record already belonged to the crashed batch
    assert mongo_month_totals(mongo_db) == hand_totals(events)
    assert redis_month_totals(redis_client) == hand_totals(events)
