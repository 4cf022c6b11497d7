"""The default agent handler: prompt → cache → provider → tokens → price → result.

The task around the handler (``workers.runtime``) measures time and emits the task event,
so a custom handler registered with :func:`~workers.agents.registry.agent_handler` is
recorded and priced the same way.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import Any, Protocol

import redis

from workers.agents.registry import agent_handler
from workers.cache.responses import response_key
from workers.pricing import price_llm
from workers.providers import CompletionRequest, Provider
from workers.settings import AgentType, Settings


class ResponseCache(Protocol):
    """Where the handler looks up and stores provider responses (the tiered cache)."""

    def lookup(self, key: str) -> dict[str, Any] | None: ...

    def store(self, key: str, value: dict[str, Any]) -> None: ...


class PromptSource(Protocol):
    """Supplies the optimized system prompt of an agent type and records prompts seen."""

    def template(self, agent: AgentType) -> str: ...

    def record(self, agent: AgentType, prompt: str) -> None: ...


@dataclass(frozen=True, slots=True)
class AgentRequest:
    """What the caller submitted, after validation."""

    agent_type: str
    prompt: str
    temperature: float | None = None
    max_tokens: int | None = None
    tenant: str = ""
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class AgentResult:
    """What a handler returns; ``llm_cost_usd`` None means the model is unpriced."""

    text: str
    model: str
    provider: str
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int = 0
    llm_cost_usd: Decimal | None = None
    price_source: str = ""
    cache_hit: bool = False

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["llm_cost_usd"] = None if self.llm_cost_usd is None else str(self.llm_cost_usd)
        return out


@dataclass
class AgentContext:
    """Everything a handler may use; built once per worker process."""

    settings: Settings
    agent: AgentType
    pool: str
    instance: str
    redis: redis.Redis
    provider: Provider
    cache: ResponseCache | None = None
    prompts: PromptSource | None = None


@agent_handler("default")
def default_handler(ctx: AgentContext, request: AgentRequest) -> AgentResult:
    agent = ctx.agent
    system_prompt = ctx.prompts.template(agent) if ctx.prompts else agent.system_prompt
    temperature = agent.temperature if request.temperature is None else request.temperature
    max_tokens = request.max_tokens or agent.max_tokens
    key = response_key(
        agent.model,
        request.prompt,
        {"system": system_prompt, "temperature": temperature, "max_tokens": max_tokens},
    )
    cacheable = ctx.cache is not None and agent.cache_responses
    if cacheable and ctx.cache is not None:
        cached = ctx.cache.lookup(key)
        if cached is not None:
            return AgentResult(
                text=str(cached["text"]),
                model=str(cached["model"]),
                provider=ctx.provider.name,
                prompt_tokens=int(cached["prompt_tokens"]),
                completion_tokens=int(cached["completion_tokens"]),
                llm_cost_usd=Decimal(0),
                price_source="cache",
                cache_hit=True,
            )
    completion = ctx.provider.complete(
        CompletionRequest(
            model=agent.model,
            prompt=request.prompt,
            system_prompt=system_prompt,
            temperature=temperature,
            max_tokens=max_tokens,
            latency_mean_ms=agent.latency.mean_ms,
            latency_spread_ms=agent.latency.spread_ms,
            speed=agent.pools[ctx.pool].speed if ctx.pool in agent.pools else 1.0,
        )
    )
    if ctx.prompts:
        ctx.prompts.record(agent, request.prompt)
    price = price_llm(
        completion.model,
        input_tokens=completion.prompt_tokens,
        output_tokens=completion.completion_tokens,
        cached_tokens=completion.cached_tokens,
        overrides=ctx.settings.price_overrides,
    )
    if cacheable and ctx.cache is not None:
        ctx.cache.store(
            key,
            {
                "text": completion.text,
                "model": completion.model,
                "prompt_tokens": completion.prompt_tokens,
                "completion_tokens": completion.completion_tokens,
            },
        )
    return AgentResult(
        text=completion.text,
        model=completion.model,
        provider=ctx.provider.name,
        prompt_tokens=completion.prompt_tokens,
        completion_tokens=completion.completion_tokens,
        cached_tokens=completion.cached_tokens,
        llm_cost_usd=price.cost_usd,
        price_source=price.source,
    )
