"""The periodic ``analyze_slow_queries`` job: read what is new, update the insights.

Each run reads, from where the last run stopped, the configured mongod log files, the listener
stream and (with a database) the ``system.profile`` of the configured databases; adds the new
operations to the per-shape statistics kept in Redis; and rewrites the insights (Redis key
``im:queries:insights`` and, with a database, the ``query_insights`` collection).

Safe to run twice and to kill: one run at a time holds a lock; statistics and offsets are
committed together at the end (see ``state``), and the insights are whole-document
replacements.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import redis
from pymongo.database import Database
from pymongo.errors import PyMongoError

from scheduler.queries import state
from scheduler.queries.analysis import DEFAULT_THRESHOLD_MS, analyze
from scheduler.queries.explain import confirm
from scheduler.queries.insights_store import write_insights
from scheduler.queries.plans import IndexKey, index_keys_from_list
from scheduler.queries.readers.base import Reader
from scheduler.queries.readers.listener_stream import ListenerStreamReader
from scheduler.queries.readers.mongod_log import MongodLogReader
from scheduler.queries.readers.profile_live import LiveProfileReader
from scheduler.queries.stats import ShapeStats, StatsTable
from workers.errors import InfraMindError
from workers.keys import QUERY_INSIGHTS, QUERY_SAMPLES_STREAM

log = logging.getLogger(__name__)

#: Shapes kept between runs; the least recently seen go first. Bounds Redis memory and the
#: time of one analysis.
MAX_SHAPES = 5_000
#: Log lines read per file per run; a backlog is worked off over the next runs.
MAX_LINES_PER_RUN = 1_000_000
#: Lock lifetime: well above one run, short enough that a killed run blocks one run at most.
LOCK_TTL_S = 600.0
#: Shapes written to the Redis insights (the full list goes to MongoDB).
INSIGHT_SHAPES = 100
#: Findings written to the log per run.
LOGGED_FINDINGS = 5


@dataclass(frozen=True, slots=True)
class JobConfig:
    """The job's settings, read once from the settings object (defaults when absent)."""

    threshold_ms: float = DEFAULT_THRESHOLD_MS
    log_files: tuple[Path, ...] = ()
    profile_dbs: tuple[str, ...] = ()
    explain: bool = True
    max_shapes: int = MAX_SHAPES
    max_lines: int = MAX_LINES_PER_RUN

    @classmethod
    def from_settings(cls, settings: Any) -> JobConfig:
        def get(name: str, default: Any) -> Any:
            value = getattr(settings, name, None)
            return default if value is None else value

        return cls(
            threshold_ms=float(get("slow_query_threshold_ms", DEFAULT_THRESHOLD_MS)),
            log_files=tuple(Path(p) for p in get("slow_query_log_files", ())),
            profile_dbs=tuple(get("slow_query_profile_dbs", ())),
            explain=bool(get("slow_query_explain", True)),
            max_shapes=int(get("slow_query_max_shapes", MAX_SHAPES)),
        )


def _readers(
    client: redis.Redis,
    cfg: JobConfig,
    mongo_db: Database[Any] | None,
    offsets: dict[str, dict[str, Any]],
) -> list[tuple[str, Any]]:
    """(offset key, reader factory) per input; factories so a bad input fails on its own."""
    out: list[tuple[str, Any]] = []
    for path in cfg.log_files:
        key = f"log:{Path(path).resolve()}"
        out.append(
            (
                key,
                lambda p=path, k=key: MongodLogReader(
                    p, start=offsets.get(k), follow=True, max_lines=cfg.max_lines
                ),
            )
        )
    out.append(("listener", lambda: ListenerStreamReader(client, start=offsets.get("listener"))))
    if mongo_db is not None:
        for name in cfg.profile_dbs:
            key = f"profile:{name}"
            out.append(
                (
                    key,
                    lambda n=name, k=key: LiveProfileReader(
                        mongo_db.client[n], start=offsets.get(k)
                    ),
                )
            )
    return out


def _read(
    client: redis.Redis,
    cfg: JobConfig,
    mongo_db: Database[Any] | None,
    offsets: dict[str, dict[str, Any]],
) -> tuple[StatsTable, dict[str, dict[str, Any]], list[dict[str, Any]], list[str]]:
    """Read every input; an input that fails contributes nothing and keeps its offset."""
    table = StatsTable()
    reached: dict[str, dict[str, Any]] = {}
    sources: list[dict[str, Any]] = []
    errors: list[str] = []
    for key, make in _readers(client, cfg, mongo_db, offsets):
        reader: Reader | None = None
        try:
            reader = make()
            part = StatsTable().add_all(reader.records())
        except InfraMindError as exc:
            errors.append(str(exc))
            log.warning("slow-query analysis: %s", exc)
            continue
        table.merge(part)
        reached[key] = reader.position()
        sources.append({"source": reader.source, **reader.counts.to_dict()})
    return table, reached, sources, errors


def _indexes(
    mongo_db: Database[Any] | None, cfg: JobConfig, stats: list[ShapeStats]
) -> dict[str, list[IndexKey]]:
    """``listIndexes`` of the analysed collections we can reach; others use plan summaries."""
    found: dict[str, list[IndexKey]] = {}
    if mongo_db is None:
        return found
    for ns in {s.shape.ns for s in stats}:
        db, _, coll = ns.partition(".")
        if db not in cfg.profile_dbs or not coll:
            continue
        try:
            found[ns] = index_keys_from_list(mongo_db.client[db][coll].list_indexes())
        except PyMongoError as exc:
            log.info("slow-query analysis: listIndexes %s: %s", ns, exc)
    return found


def _trim_listener_stream(client: redis.Redis, position: dict[str, Any] | None) -> None:
    """Drop the samples this run committed (the stream is ours alone to consume)."""
    last = (position or {}).get("id")
    if last:
        # MINID keeps entries >= last; the one entry equal to it is skipped on reading.
        client.xtrim(QUERY_SAMPLES_STREAM, minid=last, approximate=False)


def run_job(
    redis: redis.Redis,
    settings: Any,
    mongo_db: Database[Any] | None = None,
    *,
    now: datetime | None = None,
) -> dict[str, Any]:
    """One run of ``analyze_slow_queries``; returns a summary for the task result and logs.

    ``settings`` is ``workers.settings.Settings``; the ``slow_query_*`` fields it lacks take
    their defaults (see ``JobConfig``).
    """
    redis_client = redis
    cfg = JobConfig.from_settings(settings)
    now = now or datetime.now(UTC)
    token = state.acquire_lock(redis_client, LOCK_TTL_S)
    if token is None:
        return {"status": "skipped", "reason": "another run holds the lock"}
    try:
        offsets = state.load_offsets(redis_client)
        table, reached, sources, errors = _read(redis_client, cfg, mongo_db, offsets)
        if not state.commit(redis_client, table, reached, offsets):
            return {"status": "conflict", "reason": "another run committed first"}
        _trim_listener_stream(redis_client, reached.get("listener"))
        stats = state.prune(redis_client, state.load_stats(redis_client), cfg.max_shapes)
        report = analyze(
            stats, threshold_ms=cfg.threshold_ms, indexes=_indexes(mongo_db, cfg, stats)
        )
        if mongo_db is not None and cfg.explain and cfg.profile_dbs:
            dbs = {n: mongo_db.client[n] for n in cfg.profile_dbs}
            report.notes += confirm(dbs, report.suggestions, {s.shape.id: s.shape for s in stats})
        report.sources = sources
        body = report.to_dict()
        redis_client.set(
            QUERY_INSIGHTS,
            json.dumps(
                {**body, "shapes": body["shapes"][:INSIGHT_SHAPES], "generated_at": now.isoformat()}
            ),
        )
        written = 0
        if mongo_db is not None:
            try:
                written = write_insights(mongo_db, report, now)
            except (PyMongoError, InfraMindError) as exc:
                errors.append(f"query_insights not written: {exc}")
        for finding in report.findings[:LOGGED_FINDINGS]:
            log.info("slow query: %s", finding)
        return {
            "status": "ok",
            "records": table.records,
            "shapes": len(stats),
            "slow_shapes": body["totals"]["slow_shapes"],
            "suggestions": len(report.suggestions),
            "sources": sources,
            "errors": errors,
            "mongo_documents": written,
            "findings": report.findings[:LOGGED_FINDINGS],
        }
    finally:
        state.release_lock(redis_client, token)
