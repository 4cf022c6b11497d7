"""Redis storage of optimized template versions, recent-prompt samples and per-agent totals.

Redis holds everything the system needs; with a MongoDB ``Database`` the versions and
totals are also copied there (see ``archive``).
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import replace
from decimal import ROUND_HALF_EVEN, Decimal
from importlib import resources
from typing import Any

from workers.defaults import MAX_PROMPT_BYTES
from workers.errors import InvalidInput
from workers.names import validate_name
from workers.prompts.archive import copy_version
from workers.prompts.optimizer import OptimizeResult, check_prompt, revision
from workers.prompts.records import AgentPromptStats, RecordedPrompt, TemplateVersion, text_of
from workers.settings import AgentType

# --- Redis keys -----------------------------------------------------------------------------
#: Set of agent types that have prompt versions or batch totals.
PROMPT_AGENTS = "im:prompts:agents"
#: Hash describing the last ``optimize_prompts`` run (time and JSON summary).
PROMPT_BATCH = "im:prompts:batch"
#: Lock held while an ``optimize_prompts`` run is in progress.
PROMPT_BATCH_LOCK = "im:lock:prompt_batch"


def prompt_recent(agent_type: str) -> str:
    """List of recent prompts of an agent type, newest first (JSON entries, bounded)."""
    return f"im:prompts:recent:{validate_name('agent type', agent_type)}"


def prompt_seq(agent_type: str) -> str:
    """Counter numbering the prompts recorded for an agent type."""
    return f"im:prompts:seq:{validate_name('agent type', agent_type)}"


def prompt_template(agent_type: str) -> str:
    """Hash of the newest optimized template version: version, fingerprint, doc (JSON)."""
    return f"im:prompts:template:{validate_name('agent type', agent_type)}"


def prompt_versions(agent_type: str) -> str:
    """List of template versions, newest first (JSON, bounded)."""
    return f"im:prompts:versions:{validate_name('agent type', agent_type)}"


def prompt_stats(agent_type: str) -> str:
    """Hash of batch totals of an agent type plus the sample cursor."""
    return f"im:prompts:stats:{validate_name('agent type', agent_type)}"


# --- named defaults -------------------------------------------------------------------------
#: Recent prompts kept per agent type: a sample, not a log; 200 entries of at most 64 KiB.
RECENT_KEEP = 200
#: Template versions kept in Redis per agent type (MongoDB keeps all of them).
VERSIONS_KEEP = 20
#: Costs are summed as integer nano-dollars so totals stay exact under HINCRBY.
_NANO = Decimal(10) ** 9

_SCRIPTS = {
    name: resources.files("workers.prompts").joinpath(f"{name}.lua").read_text("utf-8")
    for name in ("record_prompt", "save_version", "commit_batch")
}


def _script(redis: Any, name: str) -> Any:
    return redis.register_script(_SCRIPTS[name])


def source_sha(template: str) -> str:
    """Digest identifying the template text a version was made from."""
    return hashlib.sha256(template.encode("utf-8")).hexdigest()


def fingerprint(template: str, model: str) -> str:
    """What a stored version is keyed on: the template, the model and the optimizer revision.

    The same fingerprint always gives the same optimized text, so a batch can skip work.
    """
    return hashlib.sha256(f"{revision()}\0{model}\0{source_sha(template)}".encode()).hexdigest()


def stored_fingerprint(redis: Any, agent_type: str) -> str | None:
    """Fingerprint of the agent type's newest version, or None."""
    raw = redis.hget(prompt_template(agent_type), "fingerprint")
    return None if raw is None else text_of(raw)


def record_prompt(
    redis: Any,
    agent_type: str,
    prompt: str,
    *,
    keep: int = RECENT_KEEP,
    now: float | None = None,
    max_bytes: int = MAX_PROMPT_BYTES,
) -> int:
    """Add ``prompt`` to the agent type's sample of recent prompts; returns its number.

    Called by the agent handler for each task; one atomic round trip that also trims the
    sample to ``keep`` entries. Raises ``InvalidInput`` for a bad name, prompt or ``keep``.
    """
    check_prompt(prompt, max_bytes)
    if keep < 1:
        raise InvalidInput(f"keep must be at least 1, not {keep}")
    entry = json.dumps({"prompt": prompt, "ts": time.time() if now is None else now})
    seq = _script(redis, "record_prompt")(
        keys=[prompt_seq(agent_type), prompt_recent(agent_type)], args=[entry, keep]
    )
    return int(seq)


def recent_prompts(redis: Any, agent_type: str, *, after: int = 0) -> list[RecordedPrompt]:
    """Recorded prompts numbered above ``after``, oldest first."""
    found = []
    for raw in redis.lrange(prompt_recent(agent_type), 0, -1):
        doc = json.loads(text_of(raw))
        if int(doc["seq"]) > after:
            found.append(RecordedPrompt(int(doc["seq"]), doc["prompt"], float(doc["ts"])))
    return sorted(found, key=lambda p: p.seq)


def latest_version(redis: Any, agent_type: str) -> TemplateVersion | None:
    raw = redis.hget(prompt_template(agent_type), "doc")
    return None if raw is None else TemplateVersion.from_json(raw)


def versions(redis: Any, agent_type: str) -> list[TemplateVersion]:
    """Stored versions, newest first (at most ``VERSIONS_KEEP``)."""
    return [
        TemplateVersion.from_json(raw) for raw in redis.lrange(prompt_versions(agent_type), 0, -1)
    ]


def latest_template(redis: Any, agent_type: str, *, source: str | None = None) -> str | None:
    """The newest optimized template, or None.

    With ``source`` (the agent's current template) a version made from other text is
    ignored, so an edited template is never replaced by a stale optimized one.
    """
    found = latest_version(redis, agent_type)
    if found is None or (source is not None and found.source_sha != source_sha(source)):
        return None
    return found.optimized


def template_for(redis: Any, agent: AgentType) -> str:
    """The system prompt the agent handler should send for ``agent``.

    The newest optimized version when ``prompt_optimization = "auto"`` and it was made from
    the agent's current ``system_prompt``; otherwise the ``system_prompt`` itself.
    """
    if agent.prompt_optimization != "auto" or not agent.system_prompt:
        return agent.system_prompt
    optimized = latest_template(redis, agent.name, source=agent.system_prompt)
    return agent.system_prompt if optimized is None else optimized


def save_version(
    redis: Any,
    agent_type: str,
    result: OptimizeResult,
    *,
    now: float | None = None,
    mongo_db: Any = None,
    keep: int = VERSIONS_KEEP,
) -> TemplateVersion:
    """Store ``result`` as the agent type's newest template version, once.

    If the newest version was made from the same template, model and optimizer revision,
    nothing is written and that version is returned (``created`` False): safe to repeat.
    """
    rev = revision()
    sha = source_sha(result.original)
    version = TemplateVersion(
        agent_type=validate_name("agent type", agent_type),
        version=0,
        optimized=result.optimized,
        source_sha=sha,
        model=result.model,
        revision=rev,
        original_tokens=result.original_tokens,
        optimized_tokens=result.optimized_tokens,
        quality=result.quality,
        passes=result.passes,
        cost_saved_per_1k_calls=result.cost_saved_per_1k_calls,
        created_at=time.time() if now is None else now,
    )
    doc = version.to_dict()
    del doc["version"]
    number, created = _script(redis, "save_version")(
        keys=[prompt_template(agent_type), prompt_versions(agent_type), PROMPT_AGENTS],
        args=[fingerprint(result.original, result.model), json.dumps(doc), keep, agent_type],
    )
    if int(created):
        stored = replace(version, version=int(number), created=True)
    else:
        stored = latest_version(redis, agent_type) or replace(version, version=int(number))
    if mongo_db is not None:
        copy_version(mongo_db, stored)
    return stored


def commit_batch(
    redis: Any,
    agent_type: str,
    *,
    cursor_from: int,
    cursor_to: int,
    results: list[OptimizeResult],
    now: float | None = None,
) -> bool:
    """Add the results of one batch over prompts ``cursor_from+1..cursor_to`` to the totals.

    Applied only if the stored cursor still equals ``cursor_from``: a second run over the
    same prompts (or a concurrent one) adds nothing. Returns whether it was applied.
    """
    nanos = 0
    unpriced = 0
    for result in results:
        cost = result.cost_saved_per_1k_calls
        if cost is None:
            unpriced += 1
        else:
            nanos += int((cost / 1000 * _NANO).quantize(Decimal(1), rounding=ROUND_HALF_EVEN))
    applied = _script(redis, "commit_batch")(
        keys=[prompt_stats(agent_type), PROMPT_AGENTS],
        args=[
            cursor_from,
            cursor_to,
            len(results),
            sum(r.tokens_saved for r in results),
            nanos,
            unpriced,
            validate_name("agent type", agent_type),
            time.time() if now is None else now,
        ],
    )
    return bool(int(applied))


def agent_stats(redis: Any, agent_type: str) -> AgentPromptStats:
    raw = {text_of(k): text_of(v) for k, v in redis.hgetall(prompt_stats(agent_type)).items()}
    return AgentPromptStats(
        agent_type=agent_type,
        prompts_optimized=int(raw.get("prompts_optimized", 0)),
        tokens_saved=int(raw.get("tokens_saved", 0)),
        cost_saved_usd=Decimal(raw.get("cost_saved_nano_usd", 0)) / _NANO,
        unpriced_prompts=int(raw.get("unpriced_prompts", 0)),
        cursor=int(raw.get("cursor", 0)),
        latest=latest_version(redis, agent_type),
    )


def all_stats(redis: Any) -> list[AgentPromptStats]:
    """Totals of every agent type that has prompt data, sorted by name."""
    names = sorted(text_of(n) for n in redis.smembers(PROMPT_AGENTS))
    return [agent_stats(redis, name) for name in names]
