"""`infra-mind doctor`: settings that would lose tasks or money, found before they do."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from workers.cli import exits
from workers.cli.console import make_console
from workers.cli.errors import handle_errors
from workers.connection import connect
from workers.doctor import Level, run_checks
from workers.settings import load_settings

_STYLE = {Level.OK: "[green]ok[/]", Level.WARN: "[yellow]warn[/]", Level.FAIL: "[red]FAIL[/]"}


@handle_errors
def doctor(
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Check Redis, MongoDB and the pools; exits 1 when a check fails."""
    settings = load_settings()
    client = connect(settings)
    try:
        checks = run_checks(client, settings)
    finally:
        client.close()
    if as_json:
        rows = [{"check": c.name, "level": str(c.level), "detail": c.detail} for c in checks]
        print(json.dumps({"checks": rows}))
    else:
        table = Table(title="infra-mind doctor")
        for column in ("check", "", "detail"):
            table.add_column(column)
        for check in checks:
            table.add_row(check.name, _STYLE[check.level], check.detail)
        make_console().print(table)
    if any(c.level is Level.FAIL for c in checks):
        raise typer.Exit(exits.FAILURE)
