"""``infra-mind lb``: what the load balancer sees and does."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import typer
from rich.table import Table

from workers.cli.console import make_console
from workers.connection import connect
from workers.errors import InfraMindError
from workers.routing.stats import stats
from workers.settings import load_settings

app = typer.Typer(help="Load balancing: targets, strategies and decisions.", no_args_is_help=True)

T = TypeVar("T")


@app.callback()
def main() -> None:
    """Load balancing: targets, strategies and decisions."""


def _run(body: Callable[[], T]) -> T:
    """Run a command body; an InfraMindError becomes one line on stderr and its exit code."""
    try:
        return body()
    except InfraMindError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(exc.exit_code) from None


def _age(at: float | None, now: float) -> str:
    return "-" if at is None else f"{max(now - at, 0.0):.1f}s ago"


def _targets_table(data: dict[str, Any]) -> Table:
    now = data["generated_at"]
    table = Table(title="Targets", title_justify="left")
    for column in ("agent", "level", "queue", "state", "cap", "in flight", "decisions"):
        table.add_column(column, justify="right" if column in ("cap", "in flight") else "left")
    table.add_column("EWMA ms", justify="right")
    table.add_column("last pick", justify="right")
    for name, agent in data["agents"].items():
        for group in agent["groups"]:
            level = group["level"] + (" *" if group["routed"] else "")
            if not group["targets"]:
                table.add_row(name, level, "(no targets)", "", "", "", "", "", "")
            for t in group["targets"]:
                ewma = "-" if t["ewma_latency_ms"] is None else f"{t['ewma_latency_ms']:.0f}"
                table.add_row(
                    name, level, t["queue"], t["state"], str(t["capacity"]),
                    str(t["in_flight"]), str(t["decisions"]), ewma,
                    _age(t["last_pick_at"], now),
                )  # fmt: skip
    table.caption = "* the level the agent type routes over (its dispatch)"
    return table


def _strategies_table(data: dict[str, Any]) -> Table:
    now = data["generated_at"]
    table = Table(title="Strategies", title_justify="left")
    for column in ("agent", "level", "strategy", "decisions", "last target", "last pick"):
        table.add_column(column, justify="right" if column == "decisions" else "left")
    for name, agent in data["agents"].items():
        for group in agent["groups"]:
            rows = dict(group["strategies"])
            if group["fallbacks"]:
                rows["(no live target: pool queue)"] = {
                    "decisions": group["fallbacks"], "last_target": None, "last_pick_at": None,
                }  # fmt: skip
            for strategy, s in sorted(rows.items()):
                table.add_row(
                    name, group["level"], strategy, str(s["decisions"]),
                    s["last_target"] or "-", _age(s["last_pick_at"], now),
                )  # fmt: skip
    return table


@app.command("stats")
def stats_command(
    as_json: Annotated[bool, typer.Option("--json", help="print JSON to stdout")] = False,
) -> None:
    """Per target and per strategy: decisions, in flight, EWMA latency, last pick."""

    def body() -> dict[str, Any]:
        settings = load_settings()
        client = connect(settings)
        try:
            return stats(client, settings)
        finally:
            client.close()

    data = _run(body)
    if as_json:
        typer.echo(json.dumps(data, indent=2, sort_keys=True))
        return
    console = make_console()
    console.print(_targets_table(data))
    console.print(_strategies_table(data))
