"""The ``query_insights`` collection: the latest shapes and index suggestions, in MongoDB.

One document per shape (``_id`` ``shape:<id>``) and per suggestion (``_id``
``suggestion:<ns>:<index name>``), upserted whole on every run, so writing twice changes
nothing.
``rank`` is the position in the report (0 = worst). Shape filters and samples are stored as
JSON text: they hold ``$``-prefixed and dotted keys that are awkward as field names.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from pymongo import ASCENDING
from pymongo.database import Database

from scheduler.queries.analysis import Report
from workers.stores.indexes import ensure_indexes as ensure_collection_indexes
from workers.stores.mongo import Upsert, upsert_each, with_retry

COLLECTION = "query_insights"
#: Insights not refreshed for a quarter (the shape stopped appearing) are dropped by TTL.
RETENTION_S = 90 * 24 * 3600


def ensure_indexes(db: Database[Any]) -> None:
    """The collection's indexes, declared with the query each serves in ``workers.stores``."""
    ensure_collection_indexes(db, only=COLLECTION)


def _shape_doc(row: dict[str, Any], rank: int, now: datetime) -> dict[str, Any]:
    doc = {k: v for k, v in row.items() if k not in ("shape", "sample", "id")}
    return {
        "_id": f"shape:{row['id']}",
        "kind": "shape",
        "rank": rank,
        "shape_id": row["id"],
        **doc,
        "shape": json.dumps(row["shape"]),
        "sample": json.dumps(row["sample"]),
        "plans": [[k, v] for k, v in row["plans"].items()],
        "updated_at": now,
    }


def write_insights(db: Database[Any], report: Report, now: datetime) -> int:
    """Upsert ``report``'s shapes and suggestions; returns the documents written.

    Suggestions that are no longer made are deleted; shapes age out by TTL. Raises
    ``BackendUnavailable`` when MongoDB stays unreachable.
    """
    ensure_indexes(db)
    ops: list[Upsert] = []
    for rank, row in enumerate(report.shapes):
        doc = _shape_doc(row, rank, now)
        ops.append(Upsert({"_id": doc.pop("_id")}, {"$set": doc}))
    current = []
    for rank, sug in enumerate(report.suggestions):
        body = sug.to_dict()
        key = f"suggestion:{sug.ns}:{body['name']}"
        current.append(key)
        ops.append(
            Upsert(
                {"_id": key},
                {"$set": {"kind": "suggestion", "rank": rank, **body, "updated_at": now}},
            )
        )
    coll = db[COLLECTION]
    upsert_each(coll, ops)
    with_retry(
        lambda: coll.delete_many({"kind": "suggestion", "_id": {"$nin": current}}),
        f"cleanup of {COLLECTION}",
    )
    return len(ops)


def top_insights(db: Database[Any], kind: str, limit: int = 20) -> list[dict[str, Any]]:
    """The worst shapes (``kind="shape"``) or best suggestions; uses index ``kind_rank``."""
    return list(db[COLLECTION].find({"kind": kind}).sort("rank", ASCENDING).limit(limit))


def namespace_insights(db: Database[Any], kind: str, ns: str) -> list[dict[str, Any]]:
    """One collection's shapes or suggestions, worst first; uses index ``kind_ns_rank``."""
    return list(db[COLLECTION].find({"kind": kind, "ns": ns}).sort("rank", ASCENDING))
