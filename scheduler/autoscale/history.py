"""Recorded decisions: a bounded recent list per pool in Redis, the full log in MongoDB.

The Redis list feeds the next decision (stabilization window, cooldowns) and ``scale show``;
MongoDB, when configured, keeps every decision for later analysis. A decision's ``_id`` is
its pool and time, so recording the same decision twice stores it once.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import redis
from pymongo import DESCENDING
from pymongo.database import Database
from pymongo.errors import PyMongoError

from scheduler.autoscale.decision import Decision, Direction
from workers import keys
from workers.keys import pool_id
from workers.stores.indexes import ensure_indexes as ensure_collection_indexes

log = logging.getLogger(__name__)

#: MongoDB collection of every decision.
COLLECTION = "scaling_decisions"
#: Decisions kept per pool in Redis: 20 minutes at the default 5 s interval, which covers
#: any sensible stabilization window and the last changes shown by ``scale show``.
RECENT_PER_POOL = 240
#: Decisions are archived for a quarter, enough to review a season of traffic.
ARCHIVE_DAYS = 90


def record(
    client: redis.Redis, decisions: Iterable[Decision], mongo_db: Database[Any] | None = None
) -> None:
    """Store decisions: Redis always, MongoDB when given (a Mongo failure is logged only)."""
    batch = list(decisions)
    if not batch:
        return
    pipe = client.pipeline(transaction=True)
    touched: set[str] = set()
    for decision in batch:
        key = keys.scale_decisions(decision.agent_type, decision.pool)
        pipe.lpush(key, json.dumps(decision.to_dict(), sort_keys=True))
        touched.add(key)
    for key in touched:
        pipe.ltrim(key, 0, RECENT_PER_POOL - 1)
    pipe.execute()
    if mongo_db is not None:
        try:
            archive(mongo_db, batch)
        except PyMongoError as exc:
            log.warning("scaling decisions not archived to MongoDB: %s", exc)


def document(decision: Decision) -> dict[str, Any]:
    """The MongoDB document of a decision; ``at_time`` is a date for the TTL index."""
    doc = decision.to_dict()
    doc["_id"] = f"{pool_id(decision.agent_type, decision.pool)}:{decision.at:.3f}"
    doc["at_time"] = datetime.fromtimestamp(decision.at, UTC)
    return doc


def ensure_indexes(mongo_db: Database[Any]) -> None:
    """Indexes for reading one pool newest first, and expiry (``workers.stores.indexes``)."""
    ensure_collection_indexes(mongo_db, only=COLLECTION)


def archive(mongo_db: Database[Any], decisions: list[Decision]) -> None:
    """Upsert decisions into MongoDB by ``_id``; safe to repeat (one per pool and run)."""
    coll = mongo_db[COLLECTION]
    for doc in map(document, decisions):
        coll.replace_one({"_id": doc["_id"]}, doc, upsert=True)


def recent(
    client: redis.Redis, agent_type: str, pool: str, limit: int = RECENT_PER_POOL
) -> list[Decision]:
    """A pool's recent decisions, newest first; unreadable entries are skipped."""
    out: list[Decision] = []
    for text in client.lrange(keys.scale_decisions(agent_type, pool), 0, max(0, limit - 1)):
        try:
            out.append(Decision.from_dict(json.loads(text)))
        except (ValueError, KeyError, TypeError):
            continue
    return out


def latest(
    client: redis.Redis,
    pools: Iterable[tuple[str, str]],
    *,
    limit: int = 20,
    changes_only: bool = False,
) -> list[Decision]:
    """The newest decisions across pools, newest first; optionally only the scale changes."""
    merged: list[Decision] = []
    for agent_type, pool in pools:
        merged.extend(
            d
            for d in recent(client, agent_type, pool)
            if not changes_only or d.direction != Direction.HOLD
        )
    merged.sort(key=lambda d: d.at, reverse=True)
    return merged[:limit]


def from_mongo(
    mongo_db: Database[Any],
    *,
    agent_type: str | None = None,
    pool: str | None = None,
    since: float | None = None,
    limit: int = 100,
) -> list[Decision]:
    """Archived decisions, newest first, filtered by pool and time."""
    query: dict[str, Any] = {}
    if agent_type is not None:
        query["agent_type"] = agent_type
    if pool is not None:
        query["pool"] = pool
    if since is not None:
        query["at"] = {"$gte": since}
    cursor = mongo_db[COLLECTION].find(query).sort("at", DESCENDING).limit(limit)
    return [Decision.from_dict(doc) for doc in cursor]
