"""``infra-mind prompts``: optimize prompt files offline and show the batch results."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import redis as redis_lib
import typer
from rich.table import Table

from workers.cli.console import make_console
from workers.errors import BackendUnavailable, InfraMindError
from workers.prompts.optimizer import DEFAULT_MODEL, optimize
from workers.prompts.prompt_files import read_prompts
from workers.prompts.store import all_stats
from workers.settings import load_settings

app = typer.Typer(
    help="Prompt optimizer: shorten prompts without touching protected content.",
    no_args_is_help=True,
)
T = TypeVar("T")


def _guard(action: Callable[[], T]) -> T:
    """Run a command body; a known error becomes one line on stderr and its exit code."""
    try:
        return action()
    except InfraMindError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(exc.exit_code) from None


@app.command("optimize")
def optimize_command(
    file: Annotated[Path, typer.Argument(help='JSON lines with "id" and "prompt", or plain text')],
    model: Annotated[
        str, typer.Option("--model", "-m", help="model whose encoding and price are used")
    ] = DEFAULT_MODEL,
    as_json: Annotated[bool, typer.Option("--json", help="print a JSON list to stdout")] = False,
) -> None:
    """Optimize every prompt of FILE and report tokens before and after."""

    def run() -> list[dict[str, Any]]:
        settings = load_settings()
        items = read_prompts(file, settings.max_prompt_bytes)
        rows = []
        for item in items:
            result = optimize(item.prompt, model=model, max_bytes=settings.max_prompt_bytes)
            rows.append((item.id, result))
        return rows

    rows = _guard(run)
    if as_json:
        payload = [
            {
                "id": ident,
                "original_tokens": r.original_tokens,
                "optimized_tokens": r.optimized_tokens,
                "optimized": r.optimized,
                "quality": r.quality,
                "passes": list(r.passes),
            }
            for ident, r in rows
        ]
        typer.echo(json.dumps(payload, ensure_ascii=False))
        return
    table = Table(title=f"Prompt optimization ({model})")
    for column in ("id", "tokens", "optimized", "saved", "$ saved / 1k calls", "quality", "passes"):
        table.add_column(column, justify="left" if column in ("id", "passes") else "right")
    for ident, r in rows:
        cost = r.cost_saved_per_1k_calls
        table.add_row(
            str(ident),
            str(r.original_tokens),
            str(r.optimized_tokens),
            f"{r.reduction:.1%}",
            "unknown price" if cost is None else f"{cost:.4f}",
            f"{r.quality:.3f}",
            ", ".join(r.passes) or "-",
        )
    make_console().print(table)


@app.command("stats")
def stats_command(
    ctx: typer.Context,
    redis_url: Annotated[
        str | None,
        typer.Option("--redis-url", envvar="REDIS_URL", help="Redis to read (default: settings)"),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON to stdout")] = False,
) -> None:
    """Per agent type: the newest optimized template and what the sampled prompts saved."""

    def run() -> list[dict[str, Any]]:
        client = _client(ctx, redis_url)
        try:
            return [s.to_dict() for s in all_stats(client)]
        except redis_lib.RedisError as exc:
            raise BackendUnavailable(f"cannot read Redis: {exc}") from None

    stats = _guard(run)
    if as_json:
        typer.echo(json.dumps(stats, ensure_ascii=False))
        return
    table = Table(title="Prompt optimization by agent type")
    for column in (
        "agent",
        "version",
        "template tokens",
        "prompts",
        "tokens saved",
        "$ saved",
        "quality",
    ):
        table.add_column(column, justify="left" if column == "agent" else "right")
    for row in stats:
        template = row["template"] or {}
        tokens = (
            f"{template['original_tokens']} → {template['optimized_tokens']}" if template else "-"
        )
        table.add_row(
            row["agent_type"],
            str(template.get("version", "-")),
            tokens,
            str(row["prompts_optimized"]),
            str(row["tokens_saved"]),
            row["cost_saved_usd"],
            str(template.get("quality", "-")),
        )
    make_console().print(table)


def _client(ctx: typer.Context, url: str | None) -> Any:
    """The Redis client: one handed down by the parent command, else one for ``url``."""
    if isinstance(ctx.obj, dict) and ctx.obj.get("redis") is not None:
        return ctx.obj["redis"]
    url = url or load_settings().redis_url
    if not url:
        raise BackendUnavailable("no Redis to read: set REDIS_URL or pass --redis-url")
    client = redis_lib.Redis.from_url(url, decode_responses=True)
    try:
        client.ping()
    except redis_lib.RedisError as exc:
        raise BackendUnavailable(f"cannot reach Redis at {url}: {exc}") from None
    return client
