"""The ``rollup_costs`` job: events stream -> archive and rollups -> budget alerts.

Safe to run twice and safe to kill: entries are acknowledged only after every write of their
batch succeeded, and every write deduplicates on the task id (Redis) or the record ``_id`` and
batch guard (MongoDB). With MongoDB configured but down, the run stops before acknowledging;
the entries stay pending and the next run picks them up.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections import Counter
from typing import Any

import redis
from pymongo.database import Database

from scheduler.costs.budgets import fire_alerts
from scheduler.costs.config import CostConfig
from scheduler.costs.consumer import Entry, GroupReader, Phase, default_consumer
from scheduler.costs.mongo_sink import archive_batch, recover
from scheduler.costs.redis_sink import apply_records
from scheduler.costs.rollup import to_record
from workers.errors import BackendUnavailable, InvalidInput
from workers.events import TaskEvent
from workers.keys import EVENTS_INVALID, EVENTS_STREAM, ROLLUP_GROUP
from workers.settings import Settings

log = logging.getLogger(__name__)

#: Unparseable events kept for inspection (approximate trim).
INVALID_MAXLEN = 10_000


def _parse(
    entries: list[Entry], cfg: CostConfig, stats: Counter[str]
) -> tuple[list[dict[str, Any]], list[tuple[str, dict[Any, Any], str]]]:
    records, invalid = [], []
    for eid, fields in entries:
        if not fields:  # trimmed from the stream while pending: nothing left to count
            stats["trimmed"] += 1
            continue
        try:
            records.append(to_record(TaskEvent.from_fields(fields), cfg.price_overrides))
        except (InvalidInput, TypeError, ValueError, KeyError) as exc:
            invalid.append((eid, fields, str(exc) or type(exc).__name__))
    return records, invalid


def _dead_letter(client: redis.Redis, invalid: list[tuple[str, dict[Any, Any], str]]) -> None:
    with client.pipeline(transaction=False) as pipe:
        for eid, fields, error in invalid:
            log.warning("event %s is invalid and is skipped: %s", eid, error)
            pipe.xadd(
                EVENTS_INVALID, {**fields, "_entry": eid, "_error": error},
                maxlen=INVALID_MAXLEN, approximate=True,
            )  # fmt: skip
        pipe.execute()


def process_batch(
    client: redis.Redis,
    reader: GroupReader,
    entries: list[Entry],
    mongo_db: Database | None,
    cfg: CostConfig,
    stats: Counter[str],
    now: float | None,
) -> None:
    """Archive, roll up and then acknowledge one batch. Raises BackendUnavailable."""
    records, invalid = _parse(entries, cfg, stats)
    if mongo_db is not None and records:
        archived = archive_batch(mongo_db, records, uuid.uuid4().hex)
        stats["archived"] += archived.owned
    applied = apply_records(client, records, now=now)
    if invalid:
        _dead_letter(client, invalid)
    stats["read"] += len(entries)
    stats["rolled_up"] += applied.applied
    stats["duplicates"] += applied.duplicates
    stats["invalid"] += len(invalid)
    stats["acked"] += reader.ack([eid for eid, _ in entries])


def run_job(
    redis_client: redis.Redis,
    settings: Settings,
    mongo_db: Database | None = None,
    *,
    now: float | None = None,
    consumer: str | None = None,
    config: CostConfig | None = None,
) -> dict[str, Any]:
    """Roll up what the events stream holds; returns counts for the log and the tests.

    ``mongo_db`` None is Redis-only mode. ``now`` fixes the clock of deduplication and
    budgets (tests); event buckets always come from each event's ``finished_at``.
    """
    cfg = config or CostConfig.from_settings(settings)
    reader = GroupReader(
        redis_client, EVENTS_STREAM, ROLLUP_GROUP, consumer or default_consumer(),
        batch=cfg.batch, claim_idle_ms=cfg.claim_idle_ms,
    )  # fmt: skip
    reader.ensure_group()
    stats: Counter[str] = Counter()
    started = time.monotonic()
    mongo = "off" if mongo_db is None else "ok"
    recovered = mongo_db is None
    try:
        for phase, batches in (
            (Phase.OWN_PENDING, reader.own_pending()),
            (Phase.CLAIMED, reader.claimed()),
            (Phase.NEW, reader.new()),
        ):
            for entries in batches:
                if not recovered:  # after a read, so a down MongoDB leaves entries pending
                    stats["recovered_batches"] = recover(mongo_db)
                    recovered = True
                process_batch(redis_client, reader, entries, mongo_db, cfg, stats, now)
                stats[f"from_{phase}"] += len(entries)
                if time.monotonic() - started > cfg.max_run_s:
                    break
            if time.monotonic() - started > cfg.max_run_s:
                stats["deadline"] = 1
                break
        if not recovered:  # nothing to read: still finish what a crash left in the archive
            stats["recovered_batches"] = recover(mongo_db)
        if reader.claimed_deleted:
            stats["acked"] += reader.ack(reader.claimed_deleted)
            stats["trimmed"] += len(reader.claimed_deleted)
        reader.forget_idle_consumers(cfg.forget_consumer_ms)
    except BackendUnavailable as exc:
        mongo = "unavailable"
        log.warning("rollup paused, events stay pending until MongoDB is back: %s", exc)
    alerts = fire_alerts(
        redis_client, settings, now=now, thresholds=cfg.thresholds, webhook_url=cfg.webhook_url
    )
    result: dict[str, Any] = {
        "consumer": reader.consumer,
        "mongo": mongo,
        "pending": reader.pending_count(),
        "alerts": [a.message for a in alerts],
        "seconds": round(time.monotonic() - started, 3),
        **stats,
    }
    log.info("rollup_costs: %s", {k: v for k, v in result.items() if k != "alerts"})
    return result
