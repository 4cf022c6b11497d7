"""Building the API: routers, the token guard and the error mapping, over one Celery app
and one Redis client shared by every request."""

from __future__ import annotations

from importlib.metadata import version

import redis
from celery import Celery
from fastapi import Depends, FastAPI

from workers.api import errors, health, metrics, pools, prompts, tasks
from workers.api.auth import bearer_guard
from workers.app import create_app
from workers.connection import connect
from workers.credentials import api_token
from workers.dotted import load
from workers.settings import Settings, load_settings

#: Routers of the scheduler's concerns, by "module:attribute": ``workers`` never imports
#: ``scheduler`` at module level (the CLI mounts its command groups the same way).
SCHEDULER_ROUTERS: list[str] = ["scheduler.costs.api:router"]


def create_api(
    settings: Settings | None = None,
    *,
    celery_app: Celery | None = None,
    client: redis.Redis | None = None,
    token: str | None = None,
) -> FastAPI:
    """The API for ``settings`` (default: from the environment).

    Fails with ``BackendUnavailable`` when Redis cannot be reached, so a misconfigured
    server stops at start rather than answering 503 forever.
    """
    settings = settings or load_settings()
    api = FastAPI(
        title="infra-mind",
        version=version("infra-mind"),
        summary="Submit agent tasks and watch the pools that run them.",
    )
    api.state.settings = settings
    api.state.redis = client or connect(settings)
    api.state.celery = celery_app or create_app(settings)
    errors.install(api, settings.api_max_body_bytes)
    guard = [Depends(bearer_guard(token if token is not None else api_token(settings)[0]))]
    api.include_router(health.router)
    api.include_router(tasks.router, dependencies=guard)
    api.include_router(pools.router, dependencies=guard)
    api.include_router(metrics.router, dependencies=guard)
    api.include_router(prompts.router, dependencies=guard)
    for target in SCHEDULER_ROUTERS:
        api.include_router(load(target), dependencies=guard)
    return api
