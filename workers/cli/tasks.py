"""`infra-mind submit` and `infra-mind status`."""

from __future__ import annotations

import json
from typing import Annotated

import redis
import typer
from rich.table import Table

from workers import inspect
from workers.cli.console import make_console
from workers.cli.errors import handle_errors
from workers.connection import connect
from workers.rate_limits import RateLimiter, used_shares
from workers.settings import Settings, load_settings


@handle_errors
def submit(
    agent: Annotated[str, typer.Argument(help="agent type, e.g. cto")],
    prompt: Annotated[str, typer.Argument(help="the prompt")],
    wait: Annotated[bool, typer.Option("--wait", help="wait for the result and print it")] = False,
    timeout: Annotated[float, typer.Option(help="seconds to wait with --wait")] = 120.0,
    tenant: Annotated[str | None, typer.Option(help="tenant tag for costs and budgets")] = None,
    strategy: Annotated[str | None, typer.Option(help="routing strategy for this task")] = None,
    priority: Annotated[int | None, typer.Option(help="0-9; on Redis, 0 is served first")] = None,
) -> None:
    """Submit one agent task; prints its id, or its result with --wait."""
    from workers.app import create_app
    from workers.submit import submit as submit_task

    settings = load_settings()
    connect(settings).close()
    app = create_app(settings)
    handle = submit_task(
        agent, prompt, app=app, tenant=tenant, strategy=strategy, priority=priority
    )
    if not wait:
        print(handle.id)
        return
    print(json.dumps({"id": handle.id, **handle.get(timeout=timeout)}))


@handle_errors
def cancel(
    task_id: Annotated[str, typer.Argument(help="the id `submit` printed")],
) -> None:
    """Cancel a task: skipped if still queued; a running task finishes."""
    from workers.app import create_app
    from workers.cancel import cancel_task, check_task_id

    check_task_id(task_id)
    settings = load_settings()
    connect(settings).close()
    app = create_app(settings)
    state = cancel_task(task_id, app=app)
    running = state in ("STARTED", "RETRY")
    print(f"cancelled {task_id}: " + ("it is running and will finish" if running else
                                      "it will be skipped when a worker takes it"))  # fmt: skip


def _rate_limit_use(client: redis.Redis, settings: Settings) -> dict[str, float]:
    """Share used of each provider rate-limit group (none configured: no Redis call)."""
    if not any(a.rate_limit or a.token_rate_limit for a in settings.agents.values()):
        return {}
    return used_shares(RateLimiter(client), settings)


def _age(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}s"


@handle_errors
def status(
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Per pool: instances, queue depth, oldest message age, in flight, processed, latency."""
    settings = load_settings()
    client = connect(settings)
    try:
        snaps = inspect.pool_snapshots(client, settings)
        limits = _rate_limit_use(client, settings)
    finally:
        client.close()
    if as_json:
        out: dict[str, object] = {"pools": [s.summary() for s in snaps]}
        if limits:
            out["rate_limits"] = [{"group": g, "used": used} for g, used in limits.items()]
        print(json.dumps(out))
        return
    table = Table(title="infra-mind pools")
    for col in ("pool", "instances", "queued", "oldest", "in flight", "processed", "latency"):
        table.add_column(col, justify="left" if col == "pool" else "right")
    for s in snaps:
        inst = f"{s.healthy}" + (f" (+{s.draining} draining)" if s.draining else "")
        lat = "-" if s.latency_ms is None else f"{s.latency_ms:.0f} ms"
        table.add_row(
            f"{s.agent_type}.{s.pool}", inst, str(s.depth), _age(s.oldest_age_s),
            str(s.in_flight), str(s.processed), lat,
        )  # fmt: skip
    console = make_console()
    console.print(table)
    for group, used in limits.items():
        console.print(f"rate limit {group}: {used:.0%} used")
