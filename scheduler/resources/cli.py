"""``infra-mind resources``: pools, hosts, trends and capacity advice from the latest snapshot.

Mount the plain function as a top-level command (``main.command("resources")(resources)``).
When no snapshot is recent enough (the beat is not running), one is taken on the spot.
"""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import typer
from rich.table import Table

from scheduler.costs.cli import backends, failing_cleanly
from scheduler.resources.job import run_job
from workers.cli.console import make_console
from workers.keys import RESOURCE_LATEST

app = typer.Typer(help="Resources and capacity.", no_args_is_help=True)


@app.callback()
def _group() -> None:
    """Resources and capacity."""


def _mib(value: float) -> str:
    return f"{value / 2**20:,.0f} MiB"


def _hours(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} h"


def _pools_table(report: dict[str, Any]) -> Table:
    table = Table(title="Pools")
    for name in ("pool", "inst", "slots", "active", "backlog", "CPU %", "mem %", "RSS",
                 "latency", "CPU trend", "mem trend", "to limit", "next hour"):  # fmt: skip
        table.add_column(name, justify="left" if name in ("pool",) else "right")
    plans = {p["pool"]: p for p in report["plans"]}
    for p in report["pools"]:
        plan = plans.get(p["pool"], {})
        cpu, mem = plan.get("cpu", {}), plan.get("memory", {})
        limits = (cpu, mem, plan.get("backlog", {}))
        soonest = [x["hours_to_limit"] for x in limits if x.get("hours_to_limit") is not None]
        table.add_row(
            p["pool"], str(p["instances"]), str(p["capacity"]), str(p["active"]),
            str(p["backlog"]), f"{p['cpu_percent']:.0f}", f"{p['mem_percent']:.1f}",
            _mib(p["rss_bytes"]), f"{p['latency_ms']:.0f} ms",
            f"{cpu.get('trend', '-')} {cpu.get('per_h', 0):+.1f}/h",
            f"{mem.get('trend', '-')} {mem.get('per_h', 0):+.1f}/h",
            _hours(min(soonest) if soonest else None),
            str(plan.get("needed_next_hour") or "-"),
        )  # fmt: skip
    return table


def _hosts_table(report: dict[str, Any]) -> Table:
    table = Table(title="Hosts")
    for name in ("host", "instances", "CPU %", "mem %", "RSS", "load", "files", "threads"):
        table.add_column(name, justify="left" if name == "host" else "right")
    for h in report["hosts"]:
        table.add_row(
            h["host"], str(h["instances"]), f"{h['cpu_percent']:.0f}", f"{h['mem_percent']:.1f}",
            _mib(h["rss_bytes"]), f"{h['load_avg']:.2f}", str(h["open_files"]), str(h["threads"]),
        )  # fmt: skip
    return table


@app.command("resources")
def resources(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON to stdout")] = False,
) -> None:
    """Per pool and host: size, CPU, memory, backlog, trends, time to limits, advice."""
    with failing_cleanly():
        client, settings = backends(ctx)
        raw = client.get(RESOURCE_LATEST)
        report = json.loads(raw) if raw else run_job(client, settings)
        if as_json:
            sys.stdout.write(json.dumps(report, indent=2, default=str) + "\n")
            return
        console = make_console()
        console.print(_pools_table(report))
        if report["hosts"]:
            console.print(_hosts_table(report))
        for line in report["advice"] or ["no capacity concerns"]:
            console.print(f"• {line}")
