"""``infra-mind scale``: see why each pool has its size, change a policy at runtime, history.

The commands read Redis only. ``show`` runs the decision as a dry run on the current
signals, so it explains what the autoscaler would do now as well as what it did.
"""

from __future__ import annotations

import functools
import json
import sys
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

import redis
import typer
from rich.console import Console
from rich.table import Table

from scheduler.autoscale import history
from scheduler.autoscale.decision import Decision, decide
from scheduler.autoscale.policy import (
    clear_override,
    effective_policy,
    overrides,
    parse_pool,
    set_override,
)
from scheduler.autoscale.signals import read_signals
from workers import keys
from workers.cli.console import make_console
from workers.cli.errors import fail
from workers.connection import connect
from workers.errors import BackendUnavailable, ConfigError, InfraMindError
from workers.settings import Settings, load_settings

app = typer.Typer(
    help="Autoscaler: policies, signals and decisions per pool.", no_args_is_help=True
)

F = TypeVar("F", bound=Callable[..., Any])


def _errors(func: F) -> F:
    """Print an ``InfraMindError`` (or a Redis failure) as one line and exit with its code."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except InfraMindError as exc:
            raise fail(exc) from None
        except redis.RedisError as exc:
            raise fail(BackendUnavailable(f"Redis failed: {exc}")) from None

    return wrapper  # type: ignore[return-value]


def _connect(ctx: typer.Context) -> tuple[Settings, redis.Redis]:
    """Settings and Redis from the parent command's ``ctx.obj`` if it has them, else the env."""
    obj = ctx.find_root().obj
    if isinstance(obj, dict) and "settings" in obj and "redis" in obj:
        return obj["settings"], obj["redis"]
    settings = load_settings()
    return settings, connect(settings)


def _when(at: float) -> str:
    return datetime.fromtimestamp(at).strftime("%H:%M:%S")


def _brief(decision: Decision) -> dict[str, Any]:
    out = decision.to_dict()
    out.pop("inputs")
    return out


def pool_report(
    client: redis.Redis, settings: Settings, agent_type: str, pool: str, now: float, decisions: int
) -> dict[str, Any]:
    """Policy, signals, desired/actual, a dry-run decision and the last decisions of a pool."""
    policy = effective_policy(client, settings, agent_type, pool)
    signals = read_signals(client, agent_type, pool, settings, now, record=False)
    past = history.recent(client, agent_type, pool)
    stored = client.get(keys.desired_instances(agent_type, pool))
    if past:  # a decision the actuator failed to carry out left the size where it was
        desired: int | None = past[0].current if past[0].error else past[0].desired
    else:
        desired = int(stored) if stored else None
    current = desired if desired is not None else signals.instances
    dry = decide(signals, policy, past, now, current=current)
    return {
        "pool": keys.pool_id(agent_type, pool),
        "policy": policy.model_dump(),
        "overrides": overrides(client, agent_type, pool),
        "signals": signals.to_dict(),
        "desired": desired,
        "actual": signals.instances,
        "now": _brief(dry),
        "decisions": [_brief(d) for d in past[:decisions]],
    }


def _pools(settings: Settings, pool: str | None) -> list[tuple[str, str]]:
    if pool is not None:
        return [parse_pool(pool, settings)]
    return [(agent.name, name) for agent, name in settings.pools()]


def _print_show(reports: list[dict[str, Any]]) -> None:
    console = make_console()
    table = Table(title="Pools")
    for column in (
        "pool",
        "min-max",
        "queued",
        "oldest",
        "busy/healthy",
        "util",
        "desired",
        "actual",
        "now",
    ):
        table.add_column(column)
    for rep in reports:
        sig, pol = rep["signals"], rep["policy"]
        oldest = sig["oldest_age_s"]
        util = sig["utilization"]
        table.add_row(
            rep["pool"] + (" *" if rep["overrides"] else ""),
            f"{pol['min']}-{pol['max']}",
            str(sig["queue_depth"]),
            "-" if oldest is None else f"{oldest:.1f} s",
            f"{sig['busy']}/{sig['instances']}",
            "-" if util is None else f"{util:.0%}",
            "-" if rep["desired"] is None else str(rep["desired"]),
            str(rep["actual"]),
            f"{rep['now']['direction']} {rep['now']['desired']}: {rep['now']['reason']}",
        )
    console.print(table)
    recent = sorted(
        (d for rep in reports for d in rep["decisions"]), key=lambda d: d["at"], reverse=True
    )
    if recent:
        _print_decisions(console, recent, "Last decisions")
    if any(rep["overrides"] for rep in reports):
        console.print("* runtime policy override set with `scale set`")


def _print_decisions(console: Console, decisions: list[dict[str, Any]], title: str) -> None:
    table = Table(title=title)
    for column in ("time", "pool", "size", "direction", "reason"):
        table.add_column(column)
    for d in decisions:
        size = f"{d['current']} -> {d['desired']}"
        if d.get("error"):
            size += " (failed)"
        table.add_row(
            _when(d["at"]), f"{d['agent_type']}.{d['pool']}", size, d["direction"], d["reason"]
        )
    console.print(table)


@app.command()
@_errors
def show(
    ctx: typer.Context,
    pool: str | None = typer.Option(None, help="only this pool, as <type>.<pool>"),
    decisions: int = typer.Option(5, min=0, help="last decisions per pool"),
    as_json: bool = typer.Option(False, "--json", help="print JSON to stdout"),
) -> None:
    """Policy, signals, desired and actual size, and the reasons of the last decisions."""
    settings, client = _connect(ctx)
    now = time.time()
    reports = [
        pool_report(client, settings, agent_type, name, now, decisions)
        for agent_type, name in _pools(settings, pool)
    ]
    if as_json:
        json.dump({"at": now, "pools": reports}, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        _print_show(reports)


@app.command("set")
@_errors
def set_policy(
    ctx: typer.Context,
    pool: str = typer.Argument(..., help="<type>.<pool>, e.g. cto.default"),
    min_: int | None = typer.Option(None, "--min", help="fewest instances"),
    max_: int | None = typer.Option(None, "--max", help="most instances"),
    target_latency: float | None = typer.Option(None, help="target queue latency, s"),
    target_utilization: float | None = typer.Option(None, help="busy / capacity, 0-1"),
    max_step_up: int | None = typer.Option(None, help="instances added per decision"),
    max_step_down: int | None = typer.Option(None, help="instances removed per decision"),
    cooldown_up: float | None = typer.Option(None, help="s between scale-ups"),
    cooldown_down: float | None = typer.Option(None, help="s after a change before scale-in"),
    stabilization: float | None = typer.Option(None, help="scale-in window, s"),
    cpu_high: float | None = typer.Option(None, help="CPU %% that blocks scale-in"),
    memory_high: float | None = typer.Option(None, help="memory %% that blocks scale-in"),
    scale_to_zero: bool | None = typer.Option(None, "--scale-to-zero/--no-scale-to-zero"),
    activation: int | None = typer.Option(None, help="queued messages that wake a zero pool"),
    predictive: bool | None = typer.Option(None, "--predictive/--no-predictive"),
    reset: bool = typer.Option(False, "--reset", help="drop every runtime override first"),
    as_json: bool = typer.Option(False, "--json", help="print the policy as JSON"),
) -> None:
    """Change a pool's policy at runtime; refused, with nothing written, if invalid."""
    settings, client = _connect(ctx)
    agent_type, name = parse_pool(pool, settings)
    given = {
        "min": min_,
        "max": max_,
        "target_queue_latency_s": target_latency,
        "target_utilization": target_utilization,
        "max_step_up": max_step_up,
        "max_step_down": max_step_down,
        "cooldown_up_s": cooldown_up,
        "cooldown_down_s": cooldown_down,
        "stabilization_s": stabilization,
        "cpu_high": cpu_high,
        "memory_high": memory_high,
        "scale_to_zero": scale_to_zero,
        "activation_queue_depth": activation,
        "predictive": predictive,
    }
    changes = {k: v for k, v in given.items() if v is not None}
    if not changes and not reset:
        raise ConfigError("nothing to set: give at least one option, e.g. --max 6")
    if reset and not changes:
        clear_override(client, agent_type, name)
        policy = effective_policy(client, settings, agent_type, name)
    elif reset:
        policy = set_override(client, settings, agent_type, name, changes, replace=True)
    else:
        policy = set_override(client, settings, agent_type, name, changes)
    if as_json:
        typer.echo(json.dumps({"pool": pool, "policy": policy.model_dump()}, indent=2))
    else:
        fields = ", ".join(f"{k}={v}" for k, v in policy.model_dump().items())
        typer.echo(f"{pool}: {fields}")


@app.command("history")
@_errors
def show_history(
    ctx: typer.Context,
    pool: str | None = typer.Option(None, help="only this pool, as <type>.<pool>"),
    limit: int = typer.Option(20, min=1, help="decisions to show"),
    changes: bool = typer.Option(False, "--changes", help="only decisions that changed a size"),
    as_json: bool = typer.Option(False, "--json", help="print JSON to stdout"),
) -> None:
    """Recent decisions across pools, newest first."""
    settings, client = _connect(ctx)
    found = history.latest(client, _pools(settings, pool), limit=limit, changes_only=changes)
    if as_json:
        json.dump([_brief(d) for d in found], sys.stdout, indent=2)
        sys.stdout.write("\n")
    elif not found:
        typer.echo("no decisions recorded yet")
    else:
        _print_decisions(make_console(), [_brief(d) for d in found], "Scaling decisions")
