"""The ``optimize_prompts`` job: versions and totals per agent type, idempotent, locked."""

from __future__ import annotations

import json

import mongomock
import redis

from scheduler.prompt_batch import run_job
from workers.keys import PROMPT_BATCH, PROMPT_BATCH_LOCK
from workers.prompts.store import (
    agent_stats,
    record_prompt,
)
from workers.settings import AgentType, load_settings

TEMPLATE = (
    "Hello! You are a research assistant. Please note that it is very important that you "
    "always cite your sources. In order to help the user, basically be concise."
)


def settings_with_template():  # type: ignore[no-untyped-def]
    settings = load_settings()
    settings.agents["research"] = AgentType(
        name="research", model="gpt-4.1", system_prompt=TEMPLATE, prompt_optimization="auto"
    )
    return settings


def test_job_optimizes_templates_and_samples(redis_client: redis.Redis) -> None:
    settings = settings_with_template()
    for n in range(3):
        record_prompt(redis_client, "research", f"Please basically find {n} papers on caching.")
    record_prompt(redis_client, "cto", "Compare two databases.")
    summary = run_job(redis_client, settings, now=1000.0)
    research = summary["agents"]["research"]
    assert research["template"]["version"] == 1 and research["template"]["created"]
    assert research["template"]["optimized_tokens"] < research["template"]["original_tokens"]
    assert research["sample"]["optimized"] == 3 and research["sample"]["tokens_saved"] > 0
    assert summary["agents"]["cto"]["template"] is None
    assert summary["agents"]["cto"]["sample"]["optimized"] == 1
    stats = agent_stats(redis_client, "research")
    assert stats.prompts_optimized == 3 and stats.tokens_saved > 0 and stats.cost_saved_usd > 0
    stored = json.loads(redis_client.hget(PROMPT_BATCH, "summary"))  # type: ignore[arg-type]
    assert stored["tokens_saved"] == summary["tokens_saved"]


def test_job_is_idempotent(redis_client: redis.Redis) -> None:
    settings = settings_with_template()
    record_prompt(redis_client, "research", "Please basically list the vendors.")
    run_job(redis_client, settings, now=1.0)
    before = agent_stats(redis_client, "research")
    second = run_job(redis_client, settings, now=2.0)
    assert second["versions_created"] == 0 and second["prompts_optimized"] == 0
    after = agent_stats(redis_client, "research")
    assert (after.prompts_optimized, after.tokens_saved) == (
        before.prompts_optimized,
        before.tokens_saved,
    )
    assert after.latest is not None and after.latest.version == 1


def test_job_takes_only_new_prompts_and_a_bounded_sample(redis_client: redis.Redis) -> None:
    settings = settings_with_template()
    record_prompt(redis_client, "research", "Please basically summarize the paper.")
    run_job(redis_client, settings)
    for n in range(5):
        record_prompt(redis_client, "research", f"Kindly compare vendor {n} and vendor {n + 1}.")
    summary = run_job(redis_client, settings, sample_size=2)
    assert summary["agents"]["research"]["sample"]["pending"] == 5
    assert summary["agents"]["research"]["sample"]["optimized"] == 2
    assert agent_stats(redis_client, "research").cursor == 6


def test_job_skips_while_another_run_holds_the_lock(redis_client: redis.Redis) -> None:
    redis_client.set(PROMPT_BATCH_LOCK, "someone-else")
    assert "skipped" in run_job(redis_client, settings_with_template())
    assert redis_client.get(PROMPT_BATCH_LOCK) == "someone-else"


def test_job_releases_its_lock(redis_client: redis.Redis) -> None:
    run_job(redis_client, settings_with_template())
    assert redis_client.get(PROMPT_BATCH_LOCK) is None


def test_job_copies_to_mongo(redis_client: redis.Redis) -> None:
    db = mongomock.MongoClient().db
    record_prompt(redis_client, "research", "Please basically summarize it.")
    run_job(redis_client, settings_with_template(), db)
    run_job(redis_client, settings_with_template(), db)
    assert [d["_id"] for d in db.prompt_versions.find()] == ["research:1"]
    stats = db.prompt_stats.find_one({"_id": "research"})
    assert stats is not None and stats["prompts_optimized"] == 1 and stats["latest_version"] == 1
