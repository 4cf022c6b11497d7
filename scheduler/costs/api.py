"""``/v1/costs`` and ``/v1/budgets``: what ``infra-mind costs --json`` and ``budgets --json``
print. Money stays exact: amounts are decimal strings, as in the CLI's JSON."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from fastapi.concurrency import run_in_threadpool

from scheduler.costs.rollup import Dim, Period
from scheduler.costs.views import budgets_view, costs_view

router = APIRouter(prefix="/v1", tags=["costs"])


def _exact(data: Any) -> Response:
    return Response(json.dumps(data, default=str), media_type="application/json")


@router.get("/costs")
async def costs(
    request: Request,
    by: Annotated[Dim, Query(description="group by this dimension")] = Dim.AGENT,
    period: Annotated[
        Literal["day", "month"], Query(description="current UTC day or month")
    ] = "day",
) -> Response:
    """Priced totals per group, cost per request, cache savings and the month-end projection."""
    state = request.app.state
    return _exact(
        await run_in_threadpool(costs_view, state.redis, state.settings, by, Period(period))
    )


@router.get("/budgets")
async def budgets(request: Request) -> Response:
    """Monthly budgets: spent, reserved by running calls, share used, projection, state."""
    state = request.app.state
    return _exact({"budgets": await run_in_threadpool(budgets_view, state.redis, state.settings)})
