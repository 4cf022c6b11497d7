"""Archive of task records and exact cost rollups in MongoDB.

Exactly-once without transactions, in three idempotent steps per batch ``B``:

1. insert the raw records (``_id`` = task id, ``rollup`` = B, ``pending`` = true) unordered;
   records that already exist keep their first batch, so a replay owns nothing twice;
2. add the totals of the records owned by B to ``cost_rollups`` with ``$inc`` upserts guarded
   by ``batches: {$ne: B}`` (a rollup document remembers the batches it has absorbed);
3. clear ``pending`` on B's records.

A crash between any two steps leaves ``pending`` records behind; :func:`recover` redoes steps
2 and 3 for them from the stored records, and the guard skips documents already done.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bson.decimal128 import Decimal128
from pymongo.database import Database

from scheduler.costs.rollup import Aggregator, Row, bucket_start, nonzero, pico_usd
from workers.stores.indexes import COST_ROLLUPS, TASK_RECORDS
from workers.stores.mongo import Upsert, insert_new, upsert_each, with_retry

#: Batch ids a rollup document remembers. A batch is re-applied at the latest by the next
#: run, long before this many newer batches have touched the same document.
GUARD_BATCHES = 64


@dataclass(frozen=True)
class Archived:
    owned: int  # records this batch inserted and rolled up
    duplicates: int  # records another batch had already archived


def row_id(row: Row) -> str:
    period, lab, dim, key = row
    return f"{period}|{lab}|{dim}|{key}"


def _doc(rec: Mapping[str, Any], batch_id: str) -> dict[str, Any]:
    return {
        **rec,
        "finished_at": datetime.fromtimestamp(float(rec["finished_ts"]), UTC),
        "llm_cost_usd": Decimal128(pico_usd(rec["llm_pico"])) if rec["priced"] else None,
        "compute_cost_usd": Decimal128(pico_usd(rec["compute_pico"])),
        "rollup": batch_id,
        "pending": True,
    }


def _upserts(rows: Mapping[Row, list[int]], batch_id: str) -> list[Upsert]:
    ops = []
    for row, vec in rows.items():
        period, lab, dim, key = row
        ops.append(
            Upsert(
                filter={"_id": row_id(row), "batches": {"$ne": batch_id}},
                update={
                    "$inc": dict(nonzero(vec)),
                    "$push": {"batches": {"$each": [batch_id], "$slice": -GUARD_BATCHES}},
                    "$setOnInsert": {
                        "period": str(period),
                        "label": lab,
                        "dim": str(dim),
                        "key": key,
                        "bucket": bucket_start(period, lab),
                    },
                },
            )
        )
    return ops


def _roll_up(db: Database, batch_id: str, records: Sequence[Mapping[str, Any]]) -> None:
    rows = Aggregator().extend(records).rows()
    upsert_each(db[COST_ROLLUPS], _upserts(rows, batch_id))
    records_coll = db[TASK_RECORDS]
    with_retry(
        lambda: records_coll.update_many(
            {"rollup": batch_id, "pending": True}, {"$unset": {"pending": ""}}
        ),
        "marking records rolled up",
    )


def archive_batch(db: Database, records: Sequence[Mapping[str, Any]], batch_id: str) -> Archived:
    """Archive ``records`` and roll up the ones this batch owns. Raises BackendUnavailable."""
    unique: dict[Any, Mapping[str, Any]] = {}
    for rec in records:
        unique.setdefault(rec["_id"], rec)
    coll = db[TASK_RECORDS]
    insert_new(coll, [_doc(rec, batch_id) for rec in unique.values()])
    owned_ids = with_retry(
        lambda: {d["_id"] for d in coll.find({"rollup": batch_id}, {"_id": 1})},
        "reading batch ownership",
    )
    owned = [rec for tid, rec in unique.items() if tid in owned_ids]
    _roll_up(db, batch_id, owned)
    return Archived(owned=len(owned), duplicates=len(records) - len(owned))


def recover(db: Database) -> int:
    """Finish batches a crash interrupted; returns how many were finished."""
    coll = db[TASK_RECORDS]
    batches = with_retry(lambda: coll.distinct("rollup", {"pending": True}), "finding batches")
    for batch_id in batches:
        records = with_retry(lambda b=batch_id: list(coll.find({"rollup": b})), "reading batch")
        _roll_up(db, batch_id, records)
    return len(batches)


def read_rollups(
    db: Database, period: str, dim: str, labels: Sequence[str]
) -> dict[str, dict[str, dict[str, int]]]:
    """Totals from the archive: label -> key -> metric -> value."""
    out: dict[str, dict[str, dict[str, int]]] = {}
    query = {"dim": dim, "period": period, "label": {"$in": list(labels)}}
    for doc in db[COST_ROLLUPS].find(query, {"batches": 0}):
        metrics = {
            k: int(v)
            for k, v in doc.items()
            if k not in {"_id", "period", "label", "dim", "key", "bucket"}
        }
        out.setdefault(doc["label"], {})[doc["key"]] = metrics
    return out
