"""Redis storage of template versions, recent-prompt samples and totals (real Redis)."""

from __future__ import annotations

from decimal import Decimal

import mongomock
import pytest
import redis

from workers.errors import InvalidInput
from workers.keys import PROMPT_AGENTS
from workers.prompts import optimize
from workers.prompts.archive import ensure_indexes
from workers.prompts.store import (
    agent_stats,
    all_stats,
    commit_batch,
    latest_template,
    latest_version,
    recent_prompts,
    record_prompt,
    save_version,
    template_for,
    versions,
)
from workers.settings import AgentType

TEMPLATE = "Please note that you are a cloud engineer. In order to help, basically be brief."


def test_record_prompt_keeps_a_bounded_sample(redis_client: redis.Redis) -> None:
    for n in range(7):
        assert record_prompt(redis_client, "cto", f"prompt {n}", keep=5, now=100.0 + n) == n + 1
    sample = recent_prompts(redis_client, "cto")
    assert [p.prompt for p in sample] == [f"prompt {n}" for n in range(2, 7)]
    assert [p.seq for p in recent_prompts(redis_client, "cto", after=5)] == [6, 7]
    assert sample[0].recorded_at == 102.0


def test_record_prompt_refuses_bad_input(redis_client: redis.Redis) -> None:
    with pytest.raises(InvalidInput, match="agent type"):
        record_prompt(redis_client, "Bad Name", "x")
    with pytest.raises(InvalidInput, match="above the limit"):
        record_prompt(redis_client, "cto", "x" * 100, max_bytes=10)
    with pytest.raises(InvalidInput, match="keep"):
        record_prompt(redis_client, "cto", "x", keep=0)
    assert redis_client.keys("im:prompts:*") == []


def test_save_version_once_per_template(redis_client: redis.Redis) -> None:
    result = optimize(TEMPLATE)
    first = save_version(redis_client, "cloud_engineer", result, now=10.0)
    again = save_version(redis_client, "cloud_engineer", optimize(TEMPLATE), now=20.0)
    assert (first.version, first.created) == (1, True)
    assert (again.version, again.created) == (1, False)
    changed = save_version(redis_client, "cloud_engineer", optimize(TEMPLATE + " Hi."), now=30.0)
    assert (changed.version, changed.created) == (2, True)
    assert [v.version for v in versions(redis_client, "cloud_engineer")] == [2, 1]
    latest = latest_version(redis_client, "cloud_engineer")
    assert latest is not None and latest.created_at == 30.0
    assert latest.optimized_tokens < latest.original_tokens
    assert redis_client.smembers(PROMPT_AGENTS) == {"cloud_engineer"}


def test_versions_are_bounded(redis_client: redis.Redis) -> None:
    for n in range(4):
        save_version(redis_client, "mlops", optimize(f"Template number {n}."), keep=2)
    assert [v.version for v in versions(redis_client, "mlops")] == [4, 3]


def test_latest_template_ignores_stale_versions(redis_client: redis.Redis) -> None:
    assert latest_template(redis_client, "cto") is None
    save_version(redis_client, "cto", optimize(TEMPLATE))
    assert latest_template(redis_client, "cto") == optimize(TEMPLATE).optimized
    assert latest_template(redis_client, "cto", source=TEMPLATE) is not None
    assert latest_template(redis_client, "cto", source="an edited template") is None


def test_template_for_uses_the_optimized_version_only_in_auto_mode(
    redis_client: redis.Redis,
) -> None:
    auto = AgentType(name="cto", system_prompt=TEMPLATE, prompt_optimization="auto")
    off = AgentType(name="cto", system_prompt=TEMPLATE)
    assert template_for(redis_client, auto) == TEMPLATE
    save_version(redis_client, "cto", optimize(TEMPLATE))
    assert template_for(redis_client, auto) == optimize(TEMPLATE).optimized
    assert template_for(redis_client, off) == TEMPLATE
    edited = AgentType(
        name="cto", system_prompt=TEMPLATE + " New rule.", prompt_optimization="auto"
    )
    assert template_for(redis_client, edited) == edited.system_prompt


def test_commit_batch_counts_once(redis_client: redis.Redis) -> None:
    results = [optimize(TEMPLATE, model="gpt-4o"), optimize(TEMPLATE, model="no-such-model")]
    assert commit_batch(redis_client, "research", cursor_from=0, cursor_to=2, results=results)
    assert not commit_batch(redis_client, "research", cursor_from=0, cursor_to=2, results=results)
    stats = agent_stats(redis_client, "research")
    assert stats.prompts_optimized == 2 and stats.cursor == 2 and stats.unpriced_prompts == 1
    assert stats.tokens_saved == 2 * results[0].tokens_saved
    expected = results[0].cost_saved_per_1k_calls / 1000  # type: ignore[operator]
    assert abs(stats.cost_saved_usd - expected) < Decimal("1e-9")
    assert [s.agent_type for s in all_stats(redis_client)] == ["research"]


def test_mongo_copy_is_idempotent(redis_client: redis.Redis) -> None:
    db = mongomock.MongoClient().db
    ensure_indexes(db)
    save_version(redis_client, "cto", optimize(TEMPLATE), mongo_db=db)
    save_version(redis_client, "cto", optimize(TEMPLATE), mongo_db=db)
    docs = list(db.prompt_versions.find())
    assert [d["_id"] for d in docs] == ["cto:1"]
    assert docs[0]["optimized"] == optimize(TEMPLATE).optimized
