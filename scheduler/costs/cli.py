"""``infra-mind costs`` and ``infra-mind budgets``: what the rollups and budgets say now.

The commands are plain typer functions registered on :data:`app`; mount them as top-level
commands (``main.command("costs")(costs)``). Tests hand in Redis and settings through
``ctx.obj = {"redis": client, "settings": settings}``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import StrEnum
from typing import Annotated, Any

import redis
import typer
from rich.table import Table

from scheduler.costs.rollup import Dim, Period
from scheduler.costs.views import budgets_view, costs_view
from workers.cli.console import make_console
from workers.connection import connect
from workers.errors import InfraMindError
from workers.settings import Settings, load_settings

app = typer.Typer(help="Costs and budgets.", no_args_is_help=True)


class By(StrEnum):
    AGENT = "agent"
    POOL = "pool"
    MODEL = "model"
    TENANT = "tenant"


class PeriodChoice(StrEnum):
    DAY = "day"
    MONTH = "month"


@contextmanager
def failing_cleanly() -> Iterator[None]:
    """Turn our errors into ``error: <message>`` on stderr and the error's exit code."""
    try:
        yield
    except InfraMindError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(exc.exit_code) from None


def backends(ctx: typer.Context) -> tuple[redis.Redis, Settings]:
    """Redis and settings from the context (tests, the main CLI) or from the environment."""
    obj = ctx.obj if isinstance(ctx.obj, dict) else {}
    settings = obj.get("settings") or load_settings()
    client = obj.get("redis")
    return (connect(settings) if client is None else client), settings


def _usd(value: Any) -> str:
    return "-" if value is None else f"${float(value):,.4f}"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def _print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


def _costs_table(report: dict[str, Any]) -> Table:
    table = Table(title=f"Costs by {report['by']} — {report['period']} {report['bucket']} (UTC)")
    for name in ("requests", "failed", "unpriced", "LLM", "compute", "total", "per request",
                 "cache savings", "efficiency"):  # fmt: skip
        table.add_column(name, justify="right")
    table.add_column(report["by"], justify="left")
    for line in [*report["lines"], {**report["total"], "efficiency": None}]:
        table.add_row(
            f"{line['requests']:,}", f"{line['failed']:,}", f"{line['unpriced']:,}",
            _usd(line["llm_usd"]), _usd(line["compute_usd"]), _usd(line["total_usd"]),
            _usd(line["per_request_usd"]), _usd(line["savings_usd"]),
            _pct(line.get("efficiency")), line["key"],
        )  # fmt: skip
    return table


@app.command("costs")
def costs(
    ctx: typer.Context,
    by: Annotated[By, typer.Option("--by", help="group by this dimension")] = By.AGENT,
    period: Annotated[PeriodChoice, typer.Option("--period", help="current UTC day or month")] = (
        PeriodChoice.DAY
    ),
    as_json: Annotated[bool, typer.Option("--json", help="print JSON to stdout")] = False,
) -> None:
    """Priced totals per agent type, pool, model or tenant, with the month-end projection."""
    with failing_cleanly():
        client, settings = backends(ctx)
        report = costs_view(client, settings, Dim(by.value), Period(period.value))
        advice = report["recommendations"]
        if as_json:
            _print_json(report)
            return
        console = make_console()
        console.print(_costs_table(report))
        console.print(
            f"month to date {_usd(report['month_to_date_usd'])}; run rate "
            f"{_usd(report['run_rate_per_day_usd'])}/day over {report['run_rate_days']} days; "
            f"month-end projection {_usd(report['month_end_projection_usd'])}"
        )
        for rec in advice:
            console.print(f"• {rec['message']}")


@app.command("budgets")
def budgets(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON to stdout")] = False,
) -> None:
    """Monthly budgets: spent, reserved by running calls, share used, projection."""
    with failing_cleanly():
        client, settings = backends(ctx)
        data = budgets_view(client, settings)
        if as_json:
            _print_json(data)
            return
        table = Table(title="Monthly budgets (UTC month)")
        for name in ("budget", "mode", "limit", "spent", "reserved", "used", "projected", "state"):
            table.add_column(
                name, justify="left" if name in ("budget", "mode", "state") else "right"
            )
        style: dict[str, Callable[[str], str]] = {
            "ok": str, "warning": lambda s: f"[yellow]{s}[/]", "exceeded": lambda s: f"[red]{s}[/]",
        }  # fmt: skip
        for d in data:
            pct = "-" if d["used_pct"] is None else f"{d['used_pct']:.0f} %"
            table.add_row(
                d["budget"], d["mode"], _usd(d["limit_usd"]), _usd(d["spent_usd"]),
                _usd(d["reserved_usd"]), pct, _usd(d["projected_usd"]),
                style[d["state"]](d["state"]),
            )  # fmt: skip
        make_console().print(table)
