"""``infra-mind cache``: live statistics of the tiered cache and the trace simulator.

Tests (and the main CLI) may hand in Redis and settings via
``ctx.obj = {"redis": client, "settings": settings}``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import redis
import typer
from rich.table import Table

from workers import keys as cache_keys
from workers.cache.client import binary_client
from workers.cache.config import config_from_settings
from workers.cache.metrics import Metric, read_metrics
from workers.cache.simulate import OURS, simulate, simulate_redis
from workers.cache.traces import read_trace, trace_formats
from workers.cli.console import make_console
from workers.cli.errors import handle_errors
from workers.connection import connect, ping
from workers.errors import InvalidInput
from workers.settings import Settings, load_settings

app = typer.Typer(help="Tiered cache: statistics and trace simulation.", no_args_is_help=True)

#: Requests replayed with --redis unless --limit says otherwise (each costs round trips).
REDIS_REPLAY_LIMIT = 20_000


def _backends(ctx: typer.Context) -> tuple[redis.Redis, Settings]:
    obj = ctx.obj if isinstance(ctx.obj, dict) else {}
    settings = obj.get("settings") or load_settings()
    client = obj.get("redis") or connect(settings, decode=False)
    return binary_client(client), settings


def cache_overview(client: redis.Redis) -> dict[str, Any]:
    """Counters per tier plus the current sizes of the hot set, statistics and cold index."""
    overview = read_metrics(client)
    meta = {_text(k): _text(v) for k, v in client.hgetall(cache_keys.CACHE_META).items()}
    overview["sizes"] = {
        "hot_set": client.scard(cache_keys.CACHE_HOT_SET),
        "tracked_keys": client.hlen(cache_keys.CACHE_FREQ),
        "cold": client.zcard(cache_keys.CACHE_COLD_INDEX),
        "access_log": client.xlen(cache_keys.CACHE_ACCESS_LOG),
    }
    overview["last_promotion"] = float(meta["last_run"]) if "last_run" in meta else None
    return overview


@app.command("stats")
@handle_errors
def stats(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON to stdout")] = False,
) -> None:
    """Hits, misses and moves per tier, summed over every process."""
    client, _ = _backends(ctx)
    overview = cache_overview(client)
    if as_json:
        typer.echo(json.dumps(overview, indent=2))
        return
    table = Table(title="infra-mind cache")
    table.add_column("tier")
    columns = [m.value for m in Metric] + ["hit_ratio"]
    for name in columns:
        table.add_column(name.replace("_", " "), justify="right")
    for tier, row in overview["tiers"].items():
        table.add_row(tier, *("-" if row[c] is None else str(row[c]) for c in columns))
    console = make_console()
    console.print(table)
    load = overview["load_ms"]
    console.print(
        f"overall hit ratio {overview['overall_hit_ratio']}; loads {load['count']} "
        f"(p50 {load['p50']} ms, p99 {load['p99']} ms); sizes {overview['sizes']}"
    )


@app.command("simulate")
@handle_errors
def simulate_command(
    ctx: typer.Context,
    trace: Annotated[Path, typer.Option("--trace", help="trace file (gzip/xz/plain)")],
    capacity: Annotated[int, typer.Option("--capacity", help="cache entries")],
    fmt: Annotated[
        str, typer.Option("--format", help=f"one of: {', '.join(trace_formats())}")
    ] = "lirs",
    limit: Annotated[int | None, typer.Option("--limit", help="replay the first N only")] = None,
    use_redis: Annotated[
        bool, typer.Option("--redis", help="also replay through a real Redis (slow)")
    ] = False,
    redis_url: Annotated[
        str | None, typer.Option("--redis-url", help="an empty database for --redis")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON to stdout")] = False,
) -> None:
    """Hit ratio of the cache's policy vs. LRU and the optimum at the same capacity."""
    if capacity < 1:
        raise InvalidInput(f"--capacity must be at least 1, got {capacity}")
    if limit is not None and limit < 1:
        raise InvalidInput(f"--limit must be at least 1, got {limit}")
    obj = ctx.obj if isinstance(ctx.obj, dict) else {}
    settings = obj.get("settings") or load_settings()
    config = config_from_settings(settings)
    keys = read_trace(trace, fmt, limit)
    result = simulate(keys, capacity, config=config)
    if use_redis:
        if redis_url is None and obj.get("redis") is None:
            raise InvalidInput("--redis needs --redis-url (an empty database: it is written)")
        client = binary_client(obj.get("redis") or ping(redis_url or "", decode=False))
        replayed = keys[: limit or REDIS_REPLAY_LIMIT]
        for name, ratio in simulate_redis(replayed, capacity, client, config).items():
            result.hit_ratio[f"{OURS} ({name}, {len(replayed)} requests)"] = ratio
    if as_json:
        typer.echo(json.dumps(result.to_json(), indent=2))
        return
    table = Table(title=f"{trace.name}: {result.requests} requests, {result.distinct} keys")
    table.add_column("policy")
    table.add_column(f"hit ratio @ {capacity}", justify="right")
    for name, ratio in result.hit_ratio.items():
        table.add_row(name, f"{ratio:.2%}")
    make_console().print(table)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
