"""``/v1/pools``: what ``infra-mind status`` shows, per pool, as JSON."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool

from workers import inspect

router = APIRouter(prefix="/v1/pools", tags=["pools"])


@router.get("")
async def list_pools(request: Request) -> dict[str, list[dict[str, Any]]]:
    """Per pool: healthy and draining instances, queue depth, oldest age, in flight, latency."""
    state = request.app.state
    snaps = await run_in_threadpool(inspect.pool_snapshots, state.redis, state.settings)
    return {"pools": [s.summary() for s in snaps]}
