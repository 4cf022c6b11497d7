"""Recent rollups in Redis: exactly-once increments per task id, and reads for the CLI.

One Lua call per batch checks the batch's task ids against the deduplication sets, records
them and adds the batch's integer totals, atomically; a rerun after a crash finds its ids
already seen and adds nothing. Deduplication covers today and yesterday (processing time),
far longer than an event can stay pending in normal operation.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis

from scheduler.costs.rollup import (
    METRICS,
    Aggregator,
    Dim,
    Period,
    Row,
    digest,
    label,
    nonzero,
)
from workers.keys import rollup_field, rollup_hash, rollup_seen

_SCRIPT = Path(__file__).with_name("apply_rollup.lua").read_text("utf-8")

#: How long each bucket stays in Redis: hours for two days (the live view), days for two
#: months (month-to-date and last month), months for a bit over a year.
BUCKET_TTL_S = {
    Period.HOUR: 2 * 86_400 + 3_600,
    Period.DAY: 62 * 86_400,
    Period.MONTH: 400 * 86_400,
}
#: Deduplication sets live three days: today's and yesterday's are read, one spare.
SEEN_TTL_S = 3 * 86_400


@dataclass(frozen=True)
class Applied:
    applied: int
    duplicates: int


def _decode(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _script_args(ids: Sequence[str], rows: Mapping[Row, list[int]]) -> tuple[list[str], list[Any]]:
    per_hash: dict[str, list[Any]] = {}
    ttls: dict[str, int] = {}
    for (period, lab, dim, key), vec in rows.items():
        name = rollup_hash(period, lab, dim)
        ttls[name] = BUCKET_TTL_S[period]
        fields = per_hash.setdefault(name, [])
        for metric, value in nonzero(vec):
            fields.extend((rollup_field(key, metric), value))
    keys: list[str] = []
    args: list[Any] = [SEEN_TTL_S, len(ids), *ids]
    for name, fields in per_hash.items():
        keys.append(name)
        args.extend((ttls[name], len(fields) // 2, *fields))
    return keys, args


def apply_records(
    client: redis.Redis, records: Sequence[Mapping[str, Any]], *, now: float | None = None
) -> Applied:
    """Add ``records`` to the Redis rollups, each task id at most once."""
    now = time.time() if now is None else now
    seen_keys = [rollup_seen(label(Period.DAY, now)), rollup_seen(label(Period.DAY, now - 86_400))]
    script = client.register_script(_SCRIPT)
    batch: dict[str, Mapping[str, Any]] = {}
    for rec in records:
        batch.setdefault(digest(str(rec["_id"])), rec)
    duplicates = len(records) - len(batch)
    while True:  # each conflict removes ids, so this ends
        rows = Aggregator().extend(batch.values()).rows()
        keys, args = _script_args(list(batch), rows)
        present = script(keys=seen_keys + keys, args=args)
        if not present:
            return Applied(applied=len(batch), duplicates=duplicates)
        for dup in present:
            batch.pop(_decode(dup), None)
            duplicates += 1


def read_bucket(
    client: redis.Redis, period: Period, label_: str, dim: Dim
) -> dict[str, dict[str, int]]:
    """Totals of one bucket: key (agent type, pool, model or tenant) -> metric -> value."""
    return read_buckets(client, period, [label_], dim)[label_]


def read_buckets(
    client: redis.Redis, period: Period, labels: Sequence[str], dim: Dim
) -> dict[str, dict[str, dict[str, int]]]:
    """Several buckets in one round trip: label -> key -> metric -> value."""
    with client.pipeline(transaction=False) as pipe:
        for lab in labels:
            pipe.hgetall(rollup_hash(period, lab, dim))
        raws = pipe.execute()
    out: dict[str, dict[str, dict[str, int]]] = {}
    for lab, raw in zip(labels, raws, strict=True):
        rows: dict[str, dict[str, int]] = {}
        for field, value in raw.items():
            key, _, metric = _decode(field).rpartition("|")
            rows.setdefault(key, dict.fromkeys(METRICS, 0))[metric] = int(_decode(value))
        out[lab] = rows
    return out
