"""The archive's collections and their indexes, each with the query it serves.

``ensure_indexes`` is idempotent and cheap to call at every start. TTL indexes give retention;
a changed retention is applied in place (``collMod``) instead of failing on the old index.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field

from pymongo import ASCENDING, DESCENDING
from pymongo.database import Database
from pymongo.errors import OperationFailure

log = logging.getLogger(__name__)

TASK_RECORDS = "task_records"
COST_ROLLUPS = "cost_rollups"
RESOURCE_SNAPSHOTS = "resource_snapshots"
SCALING_DECISIONS = "scaling_decisions"
QUERY_INSIGHTS = "query_insights"
PROMPT_VERSIONS = "prompt_versions"

DAY_S = 86_400
#: MongoDB's error code when an index exists with other options (here: another TTL).
INDEX_OPTIONS_CONFLICT = 85


@dataclass(frozen=True)
class Retention:
    """Days each time-series collection keeps documents (TTL indexes)."""

    task_records_days: int = 90  # a quarter of per-task detail for audits and re-rollups
    resource_snapshots_days: int = 30  # capacity trends look back weeks, not months
    scaling_decisions_days: int = 90  # enough to review a season of scaling behaviour
    query_insights_days: int = 90  # a slow-query shape not seen for a quarter is gone


@dataclass(frozen=True)
class IndexSpec:
    """One index and, in ``serves``, the query it exists for."""

    keys: list[tuple[str, int]]
    name: str
    serves: str
    ttl_days_field: str | None = None  # Retention attribute when this is a TTL index
    options: Mapping[str, object] = field(default_factory=dict)


INDEXES: dict[str, list[IndexSpec]] = {
    TASK_RECORDS: [
        IndexSpec([("finished_at", ASCENDING)], "ttl_finished_at",
                  "retention of raw task records", ttl_days_field="task_records_days"),
        IndexSpec([("agent_type", ASCENDING), ("finished_at", DESCENDING)], "agent_time",
                  "an agent type's recent tasks: find({agent_type}).sort(finished_at, -1)"),
        IndexSpec([("tenant", ASCENDING), ("finished_at", DESCENDING)], "tenant_time",
                  "a tenant's tasks over a period: find({tenant, finished_at: range})"),
        IndexSpec([("rollup", ASCENDING)], "rollup_batch",
                  "the records owned by one rollup batch: find({rollup: batch})"),
        IndexSpec([("pending", ASCENDING)], "pending_rollup",
                  "batches inserted but not yet rolled up: find({pending: true})",
                  options={"partialFilterExpression": {"pending": True}}),
    ],
    COST_ROLLUPS: [
        IndexSpec([("dim", ASCENDING), ("period", ASCENDING), ("bucket", DESCENDING)],
                  "dim_period_bucket",
                  "cost report: find({dim, period, bucket: range}) per agent/pool/model/tenant"),
        IndexSpec([("dim", ASCENDING), ("key", ASCENDING), ("period", ASCENDING),
                   ("bucket", DESCENDING)], "dim_key_period_bucket",
                  "one agent's or tenant's history: find({dim, key, period}).sort(bucket, -1)"),
    ],
    RESOURCE_SNAPSHOTS: [
        IndexSpec([("ts", ASCENDING)], "ttl_ts", "retention of resource history",
                  ttl_days_field="resource_snapshots_days"),
        IndexSpec([("kind", ASCENDING), ("name", ASCENDING), ("ts", DESCENDING)],
                  "kind_name_ts",
                  "history of one instance/pool/host: find({kind, name, ts: range})"),
    ],
    SCALING_DECISIONS: [
        IndexSpec([("at_time", ASCENDING)], "ttl_at_time", "retention of scaling history",
                  ttl_days_field="scaling_decisions_days"),
        IndexSpec([("agent_type", ASCENDING), ("pool", ASCENDING), ("at", DESCENDING)],
                  "pool_at", "a pool's recent decisions: find({agent_type, pool}).sort(at, -1)"),
    ],
    QUERY_INSIGHTS: [
        IndexSpec([("updated_at", ASCENDING)], "ttl_updated_at",
                  "retention of slow-query insights", ttl_days_field="query_insights_days"),
        IndexSpec([("kind", ASCENDING), ("rank", ASCENDING)], "kind_rank",
                  "worst shapes or best suggestions: find({kind}).sort(rank, 1).limit(n)"),
        IndexSpec([("kind", ASCENDING), ("ns", ASCENDING), ("rank", ASCENDING)], "kind_ns_rank",
                  "one collection's shapes or suggestions: find({kind, ns}).sort(rank, 1)"),
    ],
    PROMPT_VERSIONS: [
        IndexSpec([("agent_type", ASCENDING), ("version", DESCENDING)], "agent_version",
                  "an agent's versions, newest first: find({agent_type}).sort(version, -1)"),
    ],
}  # fmt: skip


def _options(spec: IndexSpec, retention: Retention) -> dict[str, object]:
    opts: dict[str, object] = {"name": spec.name, **spec.options}
    if spec.ttl_days_field:
        opts["expireAfterSeconds"] = int(getattr(retention, spec.ttl_days_field)) * DAY_S
    return opts


def ensure_indexes(
    db: Database, retention: Retention | None = None, only: str | None = None
) -> list[str]:
    """Create every index of every collection we own (or of collection ``only``); returns
    ``collection.index`` names."""
    retention = retention or Retention()
    made: list[str] = []
    for collection, specs in INDEXES.items():
        if only is not None and collection != only:
            continue
        for spec in specs:
            opts = _options(spec, retention)
            try:
                db[collection].create_index(spec.keys, **opts)
            except OperationFailure as exc:
                if exc.code != INDEX_OPTIONS_CONFLICT or "expireAfterSeconds" not in opts:
                    raise
                db.command(
                    "collMod", collection,
                    index={"name": spec.name, "expireAfterSeconds": opts["expireAfterSeconds"]},
                )  # fmt: skip
                log.info("retention of %s changed to %ss", collection, opts["expireAfterSeconds"])
            made.append(f"{collection}.{spec.name}")
    return made
