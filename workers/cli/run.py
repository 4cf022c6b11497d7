"""`infra-mind up` (the system in the foreground) and `infra-mind demo`."""

from __future__ import annotations

import gc
import json
import signal
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from enum import StrEnum
from types import FrameType
from typing import Annotated

import redis
import typer
from rich.console import Console
from rich.live import Live
from rich.table import Table

from workers import demo as demo_mod
from workers import inspect
from workers.cli import exits
from workers.cli.console import make_console
from workers.cli.errors import handle_errors
from workers.connection import ping, resolve_redis_url
from workers.credentials import api_token, flower_credentials
from workers.errors import BackendUnavailable, InvalidInput
from workers.redis_server import redact
from workers.settings import Settings, load_settings
from workers.system import System


def _install_stop_signals(stop: threading.Event) -> None:
    def handler(signum: int, frame: FrameType | None) -> None:
        if stop.is_set():  # second Ctrl-C: do not wait for the drain
            raise KeyboardInterrupt
        stop.set()

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)


def _banner(console: Console, system: System, settings: Settings, ready_s: float) -> None:
    user, _, source = flower_credentials(settings)
    console.print(f"[bold green]infra-mind is up[/] in {ready_s:.1f} s")
    console.print(f"  Redis   {redact(system.redis_url)}")
    console.print(
        f"  Flower  http://{settings.flower_address}:{settings.flower_port}  "
        f"(user {user}, password from {source})"
    )
    if system.with_api:
        _, token_source = api_token(settings)
        console.print(
            f"  API     http://{settings.api_address}:{settings.api_port}/docs  "
            f"(bearer token from {token_source})"
        )
    console.print(f"  Logs    {settings.state_dir / 'logs'}")
    console.print("  Ctrl-C drains the workers and stops everything.")


@handle_errors
def up(
    no_flower: Annotated[bool, typer.Option("--no-flower", help="do not start Flower")] = False,
    no_api: Annotated[bool, typer.Option("--no-api", help="do not start the HTTP API")] = False,
) -> None:
    """Start Redis (embedded unless REDIS_URL), workers, beat, Flower, HTTP API; Ctrl-C stops."""
    settings = load_settings()
    console = make_console(stderr=True)
    stop = threading.Event()
    _install_stop_signals(stop)
    system = System(settings, with_flower=not no_flower, with_api=not no_api)
    try:
        system.start()
        ready_s = system.wait_ready()
        _banner(console, system, settings, ready_s)
        while not stop.wait(1.0):
            pass
        console.print("draining workers ...")
    finally:
        system.stop()
    console.print("stopped")


class Scenario(StrEnum):
    STEADY = "steady"
    BURST = "burst"


def _settle(
    settings: Settings,
    client: redis.Redis,
    tick: Callable[[demo_mod.Tracker], None],
    tracker: demo_mod.Tracker,
    limit_s: float,
    stop: threading.Event,
) -> None:
    """Keep the live table running until every pool is back at its minimum."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline and not stop.is_set():
        snaps = inspect.pool_snapshots(client, settings)
        if all(
            s.healthy + s.draining <= settings.agent(s.agent_type).policy(s.pool).min for s in snaps
        ):
            return
        tick(tracker)
        time.sleep(0.5)


def _live_table(
    settings: Settings,
    tracker: demo_mod.Tracker,
    client: redis.Redis,
    meter: demo_mod.CapacityMeter | None = None,
) -> Table:
    counts = tracker.counts()
    sent = Counter(h.agent_type for h in tracker.handles)
    snaps = {s.agent_type: s for s in inspect.pool_snapshots(client, settings)}
    if meter is not None:
        live = {f"{s.agent_type}.{s.pool}": s.healthy + s.draining for s in snaps.values()}
        meter.sample(live, time.monotonic())
    title = f"demo: {len(tracker.final)}/{len(tracker.handles)} tasks finished"
    if meter is not None:
        title += f", {meter.worker_seconds:.0f} worker-seconds"
    table = Table(title=title)
    for col in ("agent", "instances", "queued", "running", "done", "failed", "latency"):
        table.add_column(col, justify="left" if col == "agent" else "right")
    for agent in sorted(sent):
        snap = snaps.get(agent)
        lat = "-" if snap is None or snap.latency_ms is None else f"{snap.latency_ms:.0f} ms"
        table.add_row(
            agent,
            str(snap.healthy if snap else 0),
            str(snap.depth if snap else 0),
            str(snap.active if snap else 0),
            str(counts[(agent, "SUCCESS")]),
            str(counts[(agent, "FAILURE")]),
            lat,
        )
    return table


def _summary_table(summary: dict[str, object]) -> Table:
    table = Table(title="demo summary")
    for col in ("agent", "submitted", "completed", "failed", "tokens", "cost $", "p50", "max"):
        table.add_column(col, justify="left" if col == "agent" else "right")
    by_agent = summary["by_agent"]
    assert isinstance(by_agent, dict)
    for agent, row in by_agent.items():
        table.add_row(
            agent, str(row["submitted"]), str(row["completed"]), str(row["failed"]),
            str(row["tokens"]), f"{float(row['cost_usd']):.6f}",
            "-" if row["p50_ms"] is None else f"{row['p50_ms']:.0f} ms",
            "-" if row["max_ms"] is None else f"{row['max_ms']:.0f} ms",
        )  # fmt: skip
    return table


def _running_system(settings: Settings) -> str | None:
    """The URL of a Redis with live instances (a running `up`), else None."""
    url = resolve_redis_url(settings)
    if url is None:
        return None
    try:
        client = ping(url)
    except BackendUnavailable:
        if settings.redis_url:
            raise
        return None
    try:
        return url if inspect.read_instances(client) else None
    finally:
        client.close()


@handle_errors
def demo(
    tasks: Annotated[int, typer.Option("--tasks", "-n", help="tasks to submit")] = 200,
    agents: Annotated[
        str, typer.Option(help="comma-separated agent types (default: every configured type)")
    ] = "",
    timeout: Annotated[float, typer.Option(help="seconds to wait for the tasks")] = 300.0,
    as_json: Annotated[bool, typer.Option("--json", help="last stdout line is JSON")] = False,
    scenario: Annotated[
        Scenario, typer.Option(help="steady: run the tasks; burst: also watch pools shrink back")
    ] = Scenario.STEADY,
    settle: Annotated[
        float, typer.Option(help="burst: seconds to wait for pools to return to their minimum")
    ] = 150.0,
) -> None:
    """Start the system (or use a running one), run a burst of tasks, print a summary."""
    from workers.app import create_app

    settings = load_settings()
    if tasks < 1:
        raise InvalidInput("--tasks must be at least 1")
    agent_types = [a.strip() for a in agents.split(",") if a.strip()] or list(settings.agents)
    for name in agent_types:
        settings.agent(name)
    console = make_console(stderr=True) if as_json or not sys.stdout.isatty() else make_console()
    stop = threading.Event()
    _install_stop_signals(stop)
    system: System | None = None
    url = _running_system(settings)
    try:
        if url is None:
            console.print("starting infra-mind ...")
            system = System(settings, with_flower=False, with_api=False).start()
            ready_s = system.wait_ready()
            url = system.redis_url
            console.print(f"all minimum instances heartbeating after {ready_s:.1f} s")
        else:
            console.print(f"using the running system at {redact(url)}")
            ready_s = 0.0
        app = create_app(settings.model_copy(update={"redis_url": url}))
        client = ping(url)
        meter = demo_mod.CapacityMeter()
        began = time.time()
        with Live(console=console, refresh_per_second=4, transient=as_json) as live:

            def tick(tracker: demo_mod.Tracker) -> None:
                live.update(_live_table(settings, tracker, client, meter))

            tracker, seconds = demo_mod.run_burst(app, client, agent_types, tasks, timeout, tick)
            tick(tracker)
            if scenario is Scenario.BURST:
                _settle(settings, client, tick, tracker, settle, stop)
        summary = demo_mod.summarize(tracker, tasks, seconds, agent_types)
        summary["startup_s"] = round(ready_s, 3)
        summary["worker_seconds"] = round(meter.worker_seconds, 1)
        summary["peak_instances"] = meter.peak
        if scenario is Scenario.BURST:
            pools = [(a.name, p) for a, p in settings.pools()]
            summary["scaling"] = demo_mod.scaling_log(client, pools, began)
        # Results unsubscribe from the backend when collected: do it while Redis is still up.
        tracker.handles.clear()
        del tracker
        gc.collect()
        app.close()
        client.close()
    finally:
        if system is not None:
            console.print("stopping the system the demo started ...")
            system.stop()
    console.print(_summary_table(summary))
    console.print(
        f"{summary['completed']}/{summary['submitted']} completed, {summary['failed']} failed, "
        f"{summary['lost']} lost in {summary['seconds']} s ({summary['tasks_per_s']} tasks/s)"
    )
    for decision in summary.get("scaling", []):
        stamp = time.strftime("%H:%M:%S", time.localtime(decision["at"]))
        console.print(
            f"  {stamp} {decision['agent_type']}.{decision['pool']} "
            f"{decision['current']} -> {decision['desired']}: {decision['reason']}"
        )
    if as_json:
        print(json.dumps(summary))
    if summary["lost"] or summary["failed"]:
        raise typer.Exit(exits.FAILURE)
