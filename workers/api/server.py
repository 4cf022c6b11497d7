"""Serving the API with uvicorn, in the foreground (``infra-mind api``, ``up``'s child)."""

from __future__ import annotations

import uvicorn

from workers.api.app import create_api
from workers.settings import Settings, load_settings


def serve(
    settings: Settings | None = None, host: str | None = None, port: int | None = None
) -> None:
    """Run until SIGINT or SIGTERM; uvicorn finishes in-flight requests before it exits."""
    settings = settings or load_settings()
    api = create_api(settings)
    uvicorn.run(
        api,
        host=host or settings.api_address,
        port=port or settings.api_port,
        log_level=settings.log_level.lower(),
        access_log=False,
    )
