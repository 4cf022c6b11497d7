"""system.profile input: exports (JSON lines and arrays, Extended JSON) and a live database."""

from __future__ import annotations

import json
import os
from datetime import timedelta
from pathlib import Path
from typing import Any

import mongomock
import pytest
from bson import ObjectId, json_util

from scheduler.queries import oneshot
from scheduler.queries.readers.profile_export import ProfileExportReader
from scheduler.queries.readers.profile_live import LiveProfileReader
from scheduler.queries.record import Op
from tests.test_queries_support import T0, profile_doc
from workers.errors import InvalidInput


def _profile(n: int = 6) -> list[dict[str, Any]]:
    docs = []
    for i in range(n):
        docs.append(
            profile_doc(
                "shop.orders",
                "query",
                {
                    "find": "orders",
                    "filter": {"cust": ObjectId(), "at": {"$gte": T0}},
                    "sort": {"at": -1},
                    "$db": "shop",
                },
                300 + i,
                planSummary="COLLSCAN",
                docsExamined=80_000,
                keysExamined=0,
                nreturned=25,
                hasSortStage=True,
                planCacheShapeHash="5F0E1D2C",
                ts=T0 + timedelta(seconds=i),
            )
        )
        docs.append(
            profile_doc(
                "shop.orders",
                "update",
                {"q": {"_id": ObjectId()}, "u": {"$inc": {"n": 1}}},
                2,
                planSummary="IDHACK",
                docsExamined=1,
                keysExamined=1,
                nMatched=1,
                ts=T0 + timedelta(seconds=i),
            )
        )
    docs.append(profile_doc("shop.system.profile", "query", {"find": "system.profile"}, 1))
    docs.append(profile_doc("shop.$cmd", "command", {"hello": 1}, 1))
    return docs


def _lines(docs: list[dict[str, Any]], mode: json_util.JSONOptions) -> str:
    return "".join(json_util.dumps(d, json_options=mode) + "\n" for d in docs)


@pytest.mark.parametrize(
    "mode",
    [json_util.CANONICAL_JSON_OPTIONS, json_util.RELAXED_JSON_OPTIONS],
    ids=["canonical", "relaxed"],
)
def test_profile_export_json_lines(tmp_path: Path, mode: json_util.JSONOptions) -> None:
    path = tmp_path / "profile.json"
    path.write_text(_lines(_profile(), mode) + "garbage line\n")
    report = oneshot.analyze_profile_export(path, threshold_ms=100)
    (source,) = report.sources
    assert source["records"] == 12 and source["unreadable"] == 1
    assert source["skipped"] == {"profiler reads": 1, "command hello": 1}
    top = report.shapes[0]
    assert (top["ns"], top["op"], top["count"]) == ("shop.orders", "find", 6)
    assert top["shape"] == {
        "filter": {"at": {"$gte": "<date>"}, "cust": "<oid>"},
        "sort": {"at": -1},
    }
    assert top["docs_examined_per_returned"] == 3200 and top["query_hashes"] == ["5F0E1D2C"]
    assert (top["p50_ms"], top["p95_ms"], top["max_ms"]) == (302, 305, 305)
    (sug,) = report.suggestions
    assert sug.key == (("cust", 1), ("at", -1))
    updates = [r for r in report.shapes if r["op"] == "update"]
    assert updates[0]["served_by"] == "_id_" and not updates[0]["slow"]


def test_profile_export_json_array(tmp_path: Path) -> None:
    path = tmp_path / "profile.json"
    path.write_text(json_util.dumps(_profile(2), json_options=json_util.RELAXED_JSON_OPTIONS))
    reader = ProfileExportReader(path)
    ops = [r.op for r in reader.records()]
    assert ops == [Op.FIND, Op.UPDATE, Op.FIND, Op.UPDATE]


def test_a_log_is_not_a_profile_export(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    path.write_text("\n".join(json.dumps({"t": {"$date": "x"}, "msg": "hi"}) for _ in range(60)))
    with pytest.raises(InvalidInput, match=r"not a system\.profile export"):
        list(ProfileExportReader(path).records())


def test_live_profile_resumes_after_last_ts() -> None:
    db = mongomock.MongoClient()["shop"]
    db["system.profile"].insert_many(_profile(3))
    first = LiveProfileReader(db)
    assert len(list(first.records())) == 6
    db["system.profile"].insert_many(
        [
            profile_doc(
                "shop.orders",
                "query",
                {"find": "orders", "filter": {"cust": 1}},
                500,
                ts=T0 + timedelta(minutes=5),
            )
        ]
    )
    second = LiveProfileReader(db, start=json.loads(json.dumps(first.position())))
    records = list(second.records())
    assert [(r.op, r.duration_ms) for r in records] == [(Op.FIND, 500)]


def test_analyze_database_with_mongomock_notes_missing_explain() -> None:
    db = mongomock.MongoClient()["shop"]
    db["orders"].create_index([("status", 1)])
    db["system.profile"].insert_many(_profile(4))
    report = oneshot.analyze_database(db, 100)
    (sug,) = report.suggestions
    assert sug.confirmed is None
    assert any("explain not available" in note for note in report.notes)
    empty = oneshot.analyze_database(mongomock.MongoClient()["other"], 100)
    assert empty.notes == [oneshot.PROFILER_OFF]


MONGO_URL = os.environ.get("MONGO_URL")
needs_mongo = pytest.mark.skipif(
    not MONGO_URL, reason="MONGO_URL is not set: profiler and explain need a real MongoDB"
)


@needs_mongo
def test_real_profiler_and_explain() -> None:
    from pymongo import MongoClient

    client: MongoClient[Any] = MongoClient(MONGO_URL, serverSelectionTimeoutMS=5000)
    db = client["infra_mind_test_queries"]
    try:
        client.drop_database(db.name)
        db.orders.insert_many(
            [{"status": s, "cust": i % 50, "at": i} for i, s in enumerate(["open", "done"] * 500)]
        )
        db.command("profile", 2, slowms=0)
        for i in range(20):
            list(db.orders.find({"cust": i, "at": {"$gte": 10}}).sort("status", 1))
        db.command("profile", 0)
        report = oneshot.analyze_database(db, threshold_ms=-1)
        sugs = [s for s in report.suggestions if s.ns == f"{db.name}.orders"]
        assert sugs and sugs[0].key == (("cust", 1), ("status", 1), ("at", 1))
        assert sugs[0].confirmed is True
        assert any("COLLSCAN" in note for note in sugs[0].notes)
        db.orders.create_index([("cust", 1), ("status", 1), ("at", 1)])
        assert oneshot.analyze_database(db, threshold_ms=-1).suggestions == []
    finally:
        client.drop_database(db.name)
        client.close()
