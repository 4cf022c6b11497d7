"""`infra-mind api`: serve the HTTP API in the foreground."""

from __future__ import annotations

from typing import Annotated

import typer

from workers.cli.console import make_console
from workers.cli.errors import handle_errors
from workers.credentials import api_token
from workers.settings import load_settings


@handle_errors
def api(
    host: Annotated[str | None, typer.Option(help="address to bind (default api_address)")] = None,
    port: Annotated[int | None, typer.Option(help="port (default api_port)", min=1)] = None,
) -> None:
    """Serve the HTTP API on the system's Redis; requests need the bearer token."""
    from workers.api.server import serve

    settings = load_settings()
    _, source = api_token(settings)
    where = f"http://{host or settings.api_address}:{port or settings.api_port}"
    make_console(stderr=True).print(f"API on {where} (docs at /docs, token from {source})")
    serve(settings, host=host, port=port)
