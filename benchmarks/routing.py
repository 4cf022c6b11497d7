"""Routing benchmark: what the router costs on publish, and how fast one decision is.

Sections (run all by default, or pick with ``--sections``):

* ``overhead``: publish throughput of N agent tasks through a Celery app's ``apply_async``
  with each strategy's router vs a bare ``apply_async`` to a fixed queue: same app, same
  Redis, measured side by side in interleaved blocks so machine noise hits all alike.
* ``latency``: one decision (one Lua call) at 8, 64 and 512 live targets, p50/p99 seen by
  the client (round trip included) and inside Redis (SLOWLOG execution time).
* ``quality``: whether the decisions are any good: real ``celery worker`` processes behind
  each strategy and behind the shared-queue pull baseline (``benchmarks/routing_quality.py``).

A section is a function ``(Bench) -> Section``; add one to ``SECTIONS`` and it is run on
the same private Redis and written into the same report, so one command regenerates the whole
routing report.

    .venv/bin/python benchmarks/routing.py [--n 20000] [--sections overhead,latency,quality]
        [--quality-seconds 10]

The defaults fit the whole run in about five and a half minutes on two shared cores, which
keeps the quality runs short (10 s of arrivals for (a), 6 s for the others);
``--quality-seconds 60`` gives (a) the 30 s slowdown of the full scenario.

Writes benchmarks/reports/routing.md and routing.json.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import random
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis
from celery import Celery

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks import routing_quality  # noqa: E402
from benchmarks.routing_quality import SHORT_RUN, percentile  # noqa: E402
from workers import keys  # noqa: E402
from workers.redis_server import EmbeddedRedis  # noqa: E402
from workers.routing import keyspace  # noqa: E402
from workers.routing.config import RoutingConfig  # noqa: E402
from workers.routing.decision import decide  # noqa: E402
from workers.routing.keyspace import Level  # noqa: E402
from workers.routing.router import AGENT_TASK, make_router  # noqa: E402
from workers.routing.strategies import known_strategies  # noqa: E402
from workers.routing.targets import on_task_done, register_target  # noqa: E402
from workers.settings import AgentType, Settings, load_settings  # noqa: E402

REPORTS = Path(__file__).resolve().parent / "reports"
#: The issue's goals.
GOAL_RATIO = 0.95
GOAL_P99_US = {8: 150.0, 512: 300.0}
TARGET_COUNTS = (8, 64, 512)
#: Targets of the overhead runs: enough that every strategy has a real choice to make.
OVERHEAD_TARGETS = 8
#: Decisions timed per strategy and target count (after a warm-up).
LATENCY_SAMPLES = 2000
LATENCY_WARMUP = 200
#: Decisions per variant before the next variant takes its turn.
LATENCY_CHUNK = 100


@dataclass
class Bench:
    """What every section gets: a private Redis, its URL, and the run's options."""

    url: str
    client: redis.Redis
    n: int
    rounds: int
    seed: int = 7
    quality_seconds: float = 10.0
    log: Callable[[str], None] = print


@dataclass
class Section:
    name: str
    data: dict[str, Any]
    markdown: list[str] = field(default_factory=list)


#: Agent type per overhead variant: same-length names and the same kwargs, so every variant
#: publishes messages of the same size; each type's own strategy picks (no per-call option).
SINGLE_TYPE = "bench-s"


def _variant_type(strategy: str) -> str:
    return f"bench-{known_strategies().index(strategy)}"


def _settings() -> Settings:
    agents = {SINGLE_TYPE: AgentType(name=SINGLE_TYPE)}
    for strategy in known_strategies():
        name = _variant_type(strategy)
        agents[name] = AgentType(name=name, dispatch="instance", strategy=strategy)
    return load_settings(agents=agents)


def _register(client: redis.Redis, agent_type: str, count: int, rng: random.Random) -> list[str]:
    """``count`` live direct-queue targets with varied capacity, usage and latency."""
    queues = []
    for n in range(count):
        queue = f"agent.{agent_type}.default.{n}@bench-host"
        register_target(
            client,
            agent_type,
            queue,
            capacity=rng.choice((1, 2, 4)),
            cpu_percent=rng.uniform(0, 90),
            mem_percent=rng.uniform(0, 40),
        )
        on_task_done(client, agent_type, queue, rng.lognormvariate(5.5, 0.6), True)
        queues.append(queue)
    return queues


# -- overhead ---------------------------------------------------------------------------------


def _celery_app(url: str) -> Celery:
    app = Celery("routing-bench", broker=url, set_as_current=False)
    app.conf.update(
        task_serializer="json",
        accept_content=["json"],
        task_create_missing_queues=True,
        task_default_queue=keys.MAINTENANCE_QUEUE,
        broker_transport_options={"queue_order_strategy": "priority"},
    )

    @app.task(name=AGENT_TASK)
    def agent(agent_type: str, prompt: str, options: dict[str, Any] | None = None) -> None:
        """Never runs here: the benchmark only publishes."""

    return app


def overhead(bench: Bench) -> Section:
    client = bench.client
    settings = _settings()
    for strategy in known_strategies():
        _register(client, _variant_type(strategy), OVERHEAD_TARGETS, random.Random(bench.seed))
    config = RoutingConfig.from_settings(settings)
    router = make_router(
        settings, lambda: redis.Redis.from_url(bench.url, decode_responses=True), config
    )
    app = _celery_app(bench.url)
    task = app.tasks[AGENT_TASK]
    bare_router = app.amqp.Router()
    app.conf.task_routes = (router,)
    app.amqp.flush_routes()
    routed_router = app.amqp.Router()
    fixed = "bench.fixed"

    variants: dict[str, tuple[Any, dict[str, Any]]] = {"bare": (bare_router, {"queue": fixed})}
    variants["single_target"] = (routed_router, {})
    for name in known_strategies():
        variants[name] = (routed_router, {})

    def kwargs_for(name: str) -> dict[str, Any]:
        agent_type = SINGLE_TYPE if name in ("single_target", "bare") else _variant_type(name)
        return {"agent_type": agent_type, "prompt": "p" * 200, "options": {"tenant": "t1"}}

    block = max(1, bench.n // bench.rounds)
    elapsed = {name: 0.0 for name in variants}
    cpu = {name: 0.0 for name in variants}
    blocks: dict[str, list[float]] = {name: [] for name in variants}
    published = {name: 0 for name in variants}
    lua_calls = {name: 0 for name in variants}
    for name in variants:  # warm-up: connections, queue declarations, script cache
        router_obj, extra = variants[name]
        app.amqp.router = router_obj
        for _ in range(50):
            task.apply_async(kwargs=kwargs_for(name), **extra)
    bench.log(f"overhead: {bench.rounds} rounds x {block} publishes x {len(variants)} variants")
    order = list(variants)
    for rnd in range(bench.rounds):
        random.Random(bench.seed + rnd).shuffle(order)
        for name in order:
            router_obj, extra = variants[name]
            app.amqp.router = router_obj
            kwargs = kwargs_for(name)
            calls_before, redis_cpu = _redis_counters(client)
            gc.collect()
            cpu_start = time.process_time()
            start = time.perf_counter()
            for _ in range(block):
                task.apply_async(kwargs=kwargs, **extra)
            took = time.perf_counter() - start
            cpu[name] += time.process_time() - cpu_start
            calls_after, redis_cpu_after = _redis_counters(client)
            cpu[name] += redis_cpu_after - redis_cpu
            lua_calls[name] += calls_after - calls_before
            elapsed[name] += took
            blocks[name].append(block / took)
            published[name] += block
        _drop_messages(client)
        if (rnd + 1) % max(1, bench.rounds // 10) == 0:
            bench.log(f"  round {rnd + 1}/{bench.rounds} done")
    router.close()
    app.close()

    bare_rate = published["bare"] / elapsed["bare"]
    bare_cpu = cpu["bare"] / published["bare"]
    rows = {}
    for name in variants:
        rate = published[name] / elapsed[name]
        paired = [r / b for r, b in zip(blocks[name], blocks["bare"], strict=True)]
        cpu_each = cpu[name] / published[name]
        rows[name] = {
            "published": published[name],
            "throughput_per_s": round(rate, 1),
            "ratio_vs_bare": round(rate / bare_rate, 4),
            "median_block_ratio": round(statistics.median(paired), 4),
            "cpu_us_per_publish": round(cpu_each * 1e6, 1),
            "cpu_ratio_vs_bare": round(bare_cpu / cpu_each, 4),
            "lua_calls_per_1000": round(1000 * lua_calls[name] / published[name], 1),
        }
    routed = {k: v for k, v in rows.items() if k != "bare"}
    worst = min(v["ratio_vs_bare"] for v in routed.values())
    worst_cpu = min(v["cpu_ratio_vs_bare"] for v in routed.values())
    data = {
        "n_per_variant": bench.n,
        "rounds": bench.rounds,
        "targets": OVERHEAD_TARGETS,
        "batch_max": config.batch_max,
        "batch_max_age_s": config.batch_max_age_s,
        "variants": rows,
        "worst_ratio": worst,
        "worst_cpu_ratio": worst_cpu,
        "goal_ratio": GOAL_RATIO,
        "goal_met": worst >= GOAL_RATIO,
    }
    md = [
        "## Overhead: publish throughput, routed vs bare `apply_async`",
        "",
        f"{bench.n:,} publishes per variant in {bench.rounds} interleaved rounds (block order "
        f"shuffled each round), one Celery app, one Redis; {OVERHEAD_TARGETS} live "
        "direct-queue targets for the strategies; `single_target` is an agent type with one "
        "pool queue (nothing to choose). Goal: routed / bare >= "
        f"{GOAL_RATIO} for every strategy.",
        "",
        "| variant | publishes/s | ratio vs bare | median block ratio | CPU µs / publish "
        "| CPU ratio | Lua calls / 1,000 |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, row in rows.items():
        md.append(
            f"| {name} | {row['throughput_per_s']:,.0f} | {row['ratio_vs_bare']:.3f} | "
            f"{row['median_block_ratio']:.3f} | {row['cpu_us_per_publish']:.0f} | "
            f"{row['cpu_ratio_vs_bare']:.3f} | {row['lua_calls_per_1000']:.1f} |"
        )
    md += [
        "",
        f"Worst ratio: **{worst:.3f}** (goal >= {GOAL_RATIO}: "
        f"{'met' if worst >= GOAL_RATIO else 'NOT met'}). *Ratio* is total throughput over "
        "all rounds; *median block ratio* pairs each block with the bare block of the same "
        "round; *CPU* is the producer's plus the Redis server's CPU time per publish, which "
        "other load on the machine disturbs much less than wall time (*CPU ratio* = bare CPU "
        "/ variant CPU).",
        "",
        "A producer reserves decisions in adaptive batches (up to "
        f"{config.batch_max}, handed back after {config.batch_max_age_s * 1000:.0f} ms if "
        "unused); each batch is one atomic Lua call that makes its decisions one after another "
        "and counts each in flight, so a burst of publishes shares one round trip.",
        "",
    ]
    return Section("overhead", data, md)


def _redis_counters(client: redis.Redis) -> tuple[int, float]:
    """(EVALSHA calls so far, CPU seconds the Redis server has used so far)."""
    info = client.info("all")
    calls = int(info.get("cmdstat_evalsha", {}).get("calls", 0))
    return calls, float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


def _drop_messages(client: redis.Redis) -> None:
    names = [k for k in client.scan_iter("agent.*")] + [k for k in client.scan_iter("bench.*")]
    if names:
        client.delete(*names)


# -- latency ----------------------------------------------------------------------------------


def latency(bench: Bench) -> Section:
    client = bench.client
    rng = random.Random(bench.seed)
    client.config_set("slowlog-log-slower-than", 0)
    client.config_set("slowlog-max-len", LATENCY_CHUNK + 10)
    variants = [(s, False) for s in known_strategies()] + [("least_connections", True)]
    ping_client = _ping(client)
    rows: dict[str, dict[str, Any]] = {}
    labels = [s + (" + affinity" if affine else "") for s, affine in variants]
    for count in TARGET_COUNTS:
        agent_type = f"lat{count}"
        _register(client, agent_type, count, rng)
        group = keyspace.group(agent_type, Level.INSTANCE)
        fallback = keys.pool_queue(agent_type, "default")
        seen: dict[str, list[float]] = {label: [] for label in labels}
        inside: dict[str, list[float]] = {label: [] for label in labels}
        for chunk in range((LATENCY_WARMUP + LATENCY_SAMPLES) // LATENCY_CHUNK):
            # Variants take turns in short chunks, so load from elsewhere hits all alike.
            for (strategy, affine), label in zip(variants, labels, strict=True):
                client.slowlog_reset()
                took = []
                for _ in range(LATENCY_CHUNK):
                    key = f"session-{rng.randrange(10_000)}" if affine else None
                    start = time.perf_counter()
                    decide(client, group, strategy, fallback, affinity_key=key)
                    took.append((time.perf_counter() - start) * 1e6)
                if chunk * LATENCY_CHUNK < LATENCY_WARMUP:
                    continue
                seen[label] += took
                inside[label] += [
                    float(e["duration"])
                    for e in client.slowlog_get(LATENCY_CHUNK + 10)
                    if _command(e).upper().startswith("EVALSHA")
                ]
        for label in labels:
            row = rows.setdefault(label, {})
            row[str(count)] = {
                "client_p50_us": round(percentile(seen[label], 0.5), 1),
                "client_p99_us": round(percentile(seen[label], 0.99), 1),
                "redis_p50_us": round(percentile(inside[label], 0.5), 1),
                "redis_p99_us": round(percentile(inside[label], 0.99), 1),
            }
            bench.log(f"latency: {count:>3} targets  {label:<32} {row[str(count)]}")
    client.config_set("slowlog-log-slower-than", 10_000)
    goals = {}
    for count, goal in GOAL_P99_US.items():
        worst_client = max(r[str(count)]["client_p99_us"] for r in rows.values())
        worst_redis = max(r[str(count)]["redis_p99_us"] or 0.0 for r in rows.values())
        goals[str(count)] = {
            "goal_p99_us": goal,
            "worst_client_p99_us": worst_client,
            "worst_redis_p99_us": worst_redis,
            "met_in_redis": worst_redis <= goal,
            "met_at_client": worst_client <= goal,
        }
    data = {"samples": LATENCY_SAMPLES, "ping_us": ping_client, "strategies": rows, "goals": goals}
    md = [
        "## Decision latency",
        "",
        f"{LATENCY_SAMPLES:,} single decisions (count 1) per row after {LATENCY_WARMUP} "
        f"warm-up, the rows taking turns in chunks of {LATENCY_CHUNK}; targets with mixed "
        "capacity, usage and latency. *client*: the Python call "
        "(redis-py EVALSHA round trip included); *redis*: execution time of the script inside "
        "Redis (SLOWLOG). For scale, a bare PING round trip here: "
        f"p50 {ping_client['p50_us']:.0f} µs, p99 {ping_client['p99_us']:.0f} µs.",
        "",
        "| strategy | " + " | ".join(f"{c} targets p50 / p99 (client)" for c in TARGET_COUNTS)
        + " | " + " | ".join(f"{c} p50 / p99 (redis)" for c in TARGET_COUNTS) + " |",
        "|---|" + "---:|" * (2 * len(TARGET_COUNTS)),
    ]  # fmt: skip
    for label, per in rows.items():
        client_cells = [
            f"{per[str(c)]['client_p50_us']:.0f} / {per[str(c)]['client_p99_us']:.0f}"
            for c in TARGET_COUNTS
        ]
        redis_cells = [
            f"{per[str(c)]['redis_p50_us']:.0f} / {per[str(c)]['redis_p99_us']:.0f}"
            for c in TARGET_COUNTS
        ]
        md.append(f"| {label} | " + " | ".join(client_cells + redis_cells) + " |")
    md.append("")
    for count, g in goals.items():
        md.append(
            f"* p99 goal at {count} targets: <= {g['goal_p99_us']:.0f} µs. Worst strategy: "
            f"{g['worst_redis_p99_us']:.0f} µs in Redis "
            f"({'met' if g['met_in_redis'] else 'NOT met'}), {g['worst_client_p99_us']:.0f} µs "
            f"at the client ({'met' if g['met_at_client'] else 'NOT met'})."
        )
    md.append("")
    return Section("latency", data, md)


def _command(entry: dict[str, Any]) -> str:
    command = entry.get("command", b"")
    return command.decode(errors="replace") if isinstance(command, bytes) else str(command)


def _ping(client: redis.Redis, n: int = 2000) -> dict[str, float]:
    seen = []
    for _ in range(n):
        start = time.perf_counter()
        client.ping()
        seen.append((time.perf_counter() - start) * 1e6)
    return {"p50_us": round(percentile(seen, 0.5), 1), "p99_us": round(percentile(seen, 0.99), 1)}


# -- quality ----------------------------------------------------------------------------------


def quality(bench: Bench) -> Section:
    data, md = routing_quality.measure(
        bench.url, bench.client, bench.quality_seconds, bench.seed, bench.log
    )
    return Section("quality", data, md)


SECTIONS: dict[str, Callable[[Bench], Section]] = {
    "overhead": overhead,
    "latency": latency,
    "quality": quality,
}


# -- report -----------------------------------------------------------------------------------


def _machine() -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
        "load_avg_1m": round(os.getloadavg()[0], 2),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def write_report(sections: list[Section], machine: dict[str, Any], started: float) -> None:
    REPORTS.mkdir(parents=True, exist_ok=True)
    machine["load_avg_1m_end"] = round(os.getloadavg()[0], 2)
    doc = {
        "benchmark": "routing",
        "machine": machine,
        "duration_s": round(time.time() - started, 1),
        "sections": {s.name: s.data for s in sections},
    }
    (REPORTS / "routing.json").write_text(json.dumps(doc, indent=2) + "\n", "utf-8")
    md = [
        "# Routing benchmark",
        "",
        f"Machine: {machine['cpus']} CPUs shared with other work (1-minute load average "
        f"{machine['load_avg_1m']} at start, {machine['load_avg_1m_end']} at the end), "
        f"Python {machine['python']}, Redis {machine.get('redis', '?')} on localhost. Run time "
        f"{doc['duration_s']} s. Regenerate with `.venv/bin/python benchmarks/routing.py`.",
        "",
        "On a shared machine other processes take the CPU at random moments, which moves "
        "wall-clock figures by several percent between runs and inflates tail latencies; "
        "the paired (median block) and CPU-time ratios are the steadier views of the same "
        "overhead, and the PING round trip below shows the floor any client-side latency "
        "has here.",
        "",
    ]
    for section in sections:
        md += section.markdown
    (REPORTS / "routing.md").write_text("\n".join(md), "utf-8")


def _terminate(signum: int, _frame: Any) -> None:
    """SIGTERM unwinds like Ctrl-C, so every worker and redis-server is stopped."""
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=20_000, help="publishes per overhead variant")
    parser.add_argument("--rounds", type=int, default=100, help="interleaved overhead rounds")
    parser.add_argument("--sections", default=",".join(SECTIONS), help="comma-separated")
    parser.add_argument(
        "--quality-seconds", type=float, default=10.0,
        help="arrivals per run of quality scenario (a); (b) and pools run "
        f"{SHORT_RUN:g}x as long (60 gives (a) the issue's 30 s slowdown)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    if args.quality_seconds < 2:
        parser.error("--quality-seconds must be at least 2")
    signal.signal(signal.SIGTERM, _terminate)
    chosen = [s.strip() for s in args.sections.split(",") if s.strip()]
    unknown = [s for s in chosen if s not in SECTIONS]
    if unknown:
        parser.error(f"unknown section(s) {unknown}; known: {', '.join(SECTIONS)}")
    started = time.time()
    machine = _machine()
    with tempfile.TemporaryDirectory(prefix="routing-bench-") as tmp:
        server = EmbeddedRedis(Path(tmp), persistent=False).start()
        try:
            client = redis.Redis.from_url(server.url, decode_responses=True)
            machine["redis"] = client.info("server")["redis_version"]
            bench = Bench(server.url, client, args.n, args.rounds,
                          quality_seconds=args.quality_seconds)  # fmt: skip
            results = []
            for name in chosen:
                client.flushall()
                print(f"== {name}", flush=True)
                results.append(SECTIONS[name](bench))
            client.close()
        finally:
            server.stop()
    write_report(results, machine, started)
    print(f"wrote {REPORTS / 'routing.md'} and routing.json", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
