"""The periodic ``optimize_prompts`` job: optimize each agent type's template and a sample
of its recent prompts, store template versions and add up what the sample would save.

Safe to run twice (a version is stored only for a new template, model or optimizer revision;
sample totals move a cursor atomically) and safe to kill (nothing is counted before the
commit that moves the cursor). A Redis lock keeps two beats from running it at once.
"""

from __future__ import annotations

import json
import time
from typing import Any

from pymongo.errors import PyMongoError

from workers.errors import InvalidInput
from workers.keys import PROMPT_BATCH, PROMPT_BATCH_LOCK
from workers.lock import RedisLock
from workers.prompts.archive import copy_stats, copy_version, ensure_indexes
from workers.prompts.optimizer import OptimizeResult, optimize
from workers.prompts.records import TemplateVersion
from workers.prompts.store import (
    agent_stats,
    commit_batch,
    fingerprint,
    latest_version,
    recent_prompts,
    save_version,
    stored_fingerprint,
)
from workers.settings import AgentType, Settings

#: Recorded prompts optimized per agent type and run (the newest ones): a sample keeps a
#: run short however busy an agent was; older unprocessed prompts are skipped.
SAMPLE_SIZE = 50
#: Lock lifetime: far longer than a run takes, short enough that a killed run frees it soon.
LOCK_TTL_S = 300


def run_job(
    redis: Any,
    settings: Settings,
    mongo_db: Any = None,
    *,
    now: float | None = None,
    sample_size: int = SAMPLE_SIZE,
) -> dict[str, Any]:
    """Run one batch over every configured agent type; returns a JSON-ready summary."""
    now = time.time() if now is None else now
    lock = RedisLock(redis, PROMPT_BATCH_LOCK, LOCK_TTL_S * 1000)
    if not lock.acquire():
        return {"ran_at": now, "skipped": "another optimize_prompts run holds the lock"}
    try:
        mongo_error = _mongo(lambda: ensure_indexes(mongo_db)) if mongo_db is not None else None
        agents = {
            name: _agent_batch(redis, agent, settings, mongo_db, now, sample_size)
            for name, agent in sorted(settings.agents.items())
        }
        summary: dict[str, Any] = {
            "ran_at": now,
            "agents": agents,
            "prompts_optimized": sum(a["sample"]["optimized"] for a in agents.values()),
            "tokens_saved": sum(a["sample"]["tokens_saved"] for a in agents.values()),
            "versions_created": sum(
                1 for a in agents.values() if a["template"] and a["template"].get("created")
            ),
        }
        if mongo_error:
            summary["mongo_error"] = mongo_error
        redis.hset(PROMPT_BATCH, mapping={"ran_at": now, "summary": json.dumps(summary)})
        return summary
    finally:
        lock.release()


def _agent_batch(
    redis: Any,
    agent: AgentType,
    settings: Settings,
    mongo_db: Any,
    now: float,
    sample_size: int,
) -> dict[str, Any]:
    out: dict[str, Any] = {"template": _template(redis, agent, settings, now)}
    out["sample"] = _sample(redis, agent, settings, now, sample_size)
    if mongo_db is not None:
        error = _mongo(lambda: _copy(redis, agent, mongo_db, now))
        if error:
            out["mongo_error"] = error
    return out


def _template(redis: Any, agent: AgentType, settings: Settings, now: float) -> dict | None:
    if not agent.system_prompt:
        return None
    current = latest_version(redis, agent.name)
    if current is not None and stored_fingerprint(redis, agent.name) == fingerprint(
        agent.system_prompt, agent.model
    ):
        return _describe(current)
    try:
        result = optimize(
            agent.system_prompt,
            model=agent.model,
            language=settings.prompt_language,
            max_bytes=settings.max_prompt_bytes,
        )
    except InvalidInput as exc:
        return {"error": str(exc)}
    return _describe(
        save_version(redis, agent.name, result, now=now, keep=settings.prompt_versions_keep)
    )


def _describe(version: TemplateVersion) -> dict[str, Any]:
    return {
        "version": version.version,
        "created": version.created,
        "original_tokens": version.original_tokens,
        "optimized_tokens": version.optimized_tokens,
        "quality": version.quality,
        "passes": list(version.passes),
    }


def _sample(
    redis: Any, agent: AgentType, settings: Settings, now: float, sample_size: int
) -> dict[str, Any]:
    cursor = agent_stats(redis, agent.name).cursor
    pending = recent_prompts(redis, agent.name, after=cursor)
    results: list[OptimizeResult] = []
    skipped = 0
    for item in pending[-sample_size:] if sample_size > 0 else []:
        try:
            results.append(
                optimize(
                    item.prompt,
                    model=agent.model,
                    language=settings.prompt_language,
                    max_bytes=settings.max_prompt_bytes,
                )
            )
        except InvalidInput:
            skipped += 1
    applied = bool(pending) and commit_batch(
        redis,
        agent.name,
        cursor_from=cursor,
        cursor_to=pending[-1].seq,
        results=results,
        now=now,
    )
    return {
        "pending": len(pending),
        "optimized": len(results) if applied else 0,
        "skipped": skipped if applied else 0,
        "tokens_saved": sum(r.tokens_saved for r in results) if applied else 0,
        "applied": applied,
    }


def _copy(redis: Any, agent: AgentType, mongo_db: Any, now: float) -> None:
    """Bring the MongoDB copy up to date (idempotent, so a failed copy heals next run)."""
    stats = agent_stats(redis, agent.name)
    if stats.latest is None and stats.cursor == 0:
        return
    if stats.latest is not None:
        copy_version(mongo_db, stats.latest)
    copy_stats(mongo_db, stats, now)


def _mongo(action: Any) -> str | None:
    try:
        action()
    except PyMongoError as exc:
        return f"MongoDB copy failed: {exc}"
    return None


def run_scheduled(
    redis: Any, settings: Settings, mongo_db: Any = None, *, now: float | None = None
) -> dict[str, Any]:
    """The beat's entry point: :func:`run_job` with the sample size from the settings."""
    return run_job(redis, settings, mongo_db, now=now, sample_size=settings.prompt_sample_size)
