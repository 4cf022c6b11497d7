"""``/healthz``: liveness plus whether Redis answers, for load balancers and probes."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from redis import RedisError

router = APIRouter()


@router.get("/healthz", tags=["health"])
def healthz(request: Request) -> JSONResponse:
    """200 when Redis answers PING, else 503: without Redis nothing can be submitted."""
    try:
        request.app.state.redis.ping()
    except RedisError as exc:
        return JSONResponse({"status": "unavailable", "redis": str(exc)}, status_code=503)
    return JSONResponse({"status": "ok", "redis": "ok"})
