"""The MongoDB copy of prompt versions and per-agent totals.

Every write is an upsert keyed by a natural id, so repeating a copy (after a failure, or
from a second batch run) never duplicates anything.
"""

from __future__ import annotations

from typing import Any

from workers.prompts.records import AgentPromptStats, TemplateVersion
from workers.stores.indexes import ensure_indexes as ensure_collection_indexes

VERSIONS_COLLECTION = "prompt_versions"
STATS_COLLECTION = "prompt_stats"


def ensure_indexes(mongo_db: Any) -> None:
    """Indexes of the MongoDB copy (declared with their queries in ``workers.stores``)."""
    ensure_collection_indexes(mongo_db, only=VERSIONS_COLLECTION)


def copy_version(mongo_db: Any, version: TemplateVersion) -> None:
    """Upsert one version into MongoDB (``_id`` = ``<agent>:<version>``; never duplicated)."""
    doc = version.to_dict()
    mongo_db[VERSIONS_COLLECTION].update_one(
        {"_id": f"{version.agent_type}:{version.version}"}, {"$setOnInsert": doc}, upsert=True
    )


def copy_stats(mongo_db: Any, stats: AgentPromptStats, now: float) -> None:
    """Upsert an agent type's current totals into MongoDB (``_id`` = agent type)."""
    doc = stats.to_dict()
    doc.pop("template")
    doc["latest_version"] = None if stats.latest is None else stats.latest.version
    doc["updated_at"] = now
    mongo_db[STATS_COLLECTION].update_one({"_id": stats.agent_type}, {"$set": doc}, upsert=True)
