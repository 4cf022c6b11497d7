"""Plain records of the prompt store: recorded prompts, template versions, agent totals."""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any


def text_of(value: Any) -> str:
    """A Redis reply as text, whether the client decodes responses or not."""
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


@dataclass(frozen=True)
class RecordedPrompt:
    """One prompt of the recent sample: its sequence number, text and time (epoch s)."""

    seq: int
    prompt: str
    recorded_at: float


@dataclass(frozen=True)
class TemplateVersion:
    """A stored optimized template with the metrics it was made with."""

    agent_type: str
    version: int
    optimized: str
    source_sha: str
    model: str
    revision: str
    original_tokens: int
    optimized_tokens: int
    quality: float
    passes: tuple[str, ...]
    cost_saved_per_1k_calls: Decimal | None
    created_at: float
    created: bool = False

    def to_dict(self) -> dict[str, Any]:
        cost = self.cost_saved_per_1k_calls
        return {
            "agent_type": self.agent_type,
            "version": self.version,
            "optimized": self.optimized,
            "source_sha": self.source_sha,
            "model": self.model,
            "revision": self.revision,
            "original_tokens": self.original_tokens,
            "optimized_tokens": self.optimized_tokens,
            "quality": self.quality,
            "passes": list(self.passes),
            "cost_saved_per_1k_calls_usd": None if cost is None else str(cost),
            "created_at": self.created_at,
        }

    @classmethod
    def from_json(cls, raw: Any, created: bool = False) -> TemplateVersion:
        doc = json.loads(text_of(raw))
        cost = doc.get("cost_saved_per_1k_calls_usd")
        return cls(
            agent_type=doc["agent_type"],
            version=int(doc["version"]),
            optimized=doc["optimized"],
            source_sha=doc["source_sha"],
            model=doc["model"],
            revision=doc["revision"],
            original_tokens=int(doc["original_tokens"]),
            optimized_tokens=int(doc["optimized_tokens"]),
            quality=float(doc["quality"]),
            passes=tuple(doc["passes"]),
            cost_saved_per_1k_calls=None if cost is None else Decimal(cost),
            created_at=float(doc["created_at"]),
            created=created,
        )


@dataclass(frozen=True)
class AgentPromptStats:
    """Batch totals of one agent type: what optimizing its sampled prompts saved."""

    agent_type: str
    prompts_optimized: int
    tokens_saved: int
    cost_saved_usd: Decimal
    unpriced_prompts: int
    cursor: int
    latest: TemplateVersion | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "agent_type": self.agent_type,
            "prompts_optimized": self.prompts_optimized,
            "tokens_saved": self.tokens_saved,
            "cost_saved_usd": str(self.cost_saved_usd),
            "unpriced_prompts": self.unpriced_prompts,
            "template": None if self.latest is None else self.latest.to_dict(),
        }
