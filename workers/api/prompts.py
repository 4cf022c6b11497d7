"""``/v1/prompts``: the prompt optimizer over HTTP, and what the batch job has saved.

``POST /v1/prompts/optimize`` answers with the JSON contract of ``infra-mind prompts
optimize --json`` for each prompt; ``GET /v1/prompts/stats`` is ``prompts stats --json``.
Optimizing is CPU work, so it runs in the server's thread pool, never on the event loop.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field

from workers.prompts import optimize
from workers.prompts.optimizer import DEFAULT_MODEL
from workers.prompts.store import all_stats

router = APIRouter(prefix="/v1/prompts", tags=["prompts"])

#: Most prompts in one request; each may be up to ``max_prompt_bytes``.
MAX_PROMPTS = 100


class PromptItem(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str | None = Field(None, description="echoed back, to match answers to prompts")
    prompt: str


class OptimizeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    prompts: list[PromptItem] = Field(min_length=1, max_length=MAX_PROMPTS)
    model: str = Field(DEFAULT_MODEL, description="model whose encoding and price are used")


@router.post("/optimize")
async def optimize_prompts(body: OptimizeRequest, request: Request) -> dict[str, Any]:
    """Optimized prompts with tokens before and after, savings, quality and passes fired."""
    limit = request.app.state.settings.max_prompt_bytes

    def run() -> list[dict[str, Any]]:
        return [
            optimize(item.prompt, model=body.model, max_bytes=limit).to_dict(item.id)
            for item in body.prompts
        ]

    return {"results": await run_in_threadpool(run)}


@router.get("/stats")
async def prompt_stats(request: Request) -> dict[str, Any]:
    """Per agent type: the newest optimized template and what the sampled prompts saved."""
    stats = await run_in_threadpool(all_stats, request.app.state.redis)
    return {"agents": [s.to_dict() for s in stats]}
