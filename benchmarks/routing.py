"""Routing benchmark: what the router costs on publish, and how fast one decision is.

Sections (run all by default, or pick with ``--sections``):

* ``overhead``: publish throughput of N agent tasks through a Celery app's ``apply_async``
  with each strategy's router vs a bare ``apply_async`` to a fixed queue: same app, same
  Redis, measured side by side in interleaved blocks so machine noise hits all alike.
* ``latency``: one decision (one Lua call) at 8, 64 and 512 live targets, p50/p99 seen by
  the client (round trip included) and inside Redis (SLOWLOG execution time).
* ``quality``: real ``celery worker`` processes behind each strategy and behind the
  shared-queue pull baseline, one seeded arrival trace replayed per variant: (a) instances
  of different speed, one slowing down 10x mid-run; (b) equal instances; and a pool-level
  scenario (a fast and a slow pool). Latency percentiles from the task events, throughput,
  Jain's fairness over utilization. Service times come from ``benchmarks/routing_speed.py``.

A section is a function ``(Bench) -> Section``; add one to ``SECTIONS`` and it is run and
written into the same report.

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
import shutil
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
import redis
from celery import Celery

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.routing_speed import SPEED_KEY, instance_key  # noqa: E402
from workers import keys  # noqa: E402
from workers.redis_server import EmbeddedRedis  # noqa: E402
from workers.routing import keyspace  # noqa: E402
from workers.routing.config import RoutingConfig  # noqa: E402
from workers.routing.decision import decide  # noqa: E402
from workers.routing.keyspace import Level  # noqa: E402
from workers.routing.router import AGENT_TASK, make_router  # noqa: E402
from workers.routing.strategies import known_strategies  # noqa: E402
from workers.routing.targets import (  # noqa: E402
    on_heartbeat,
    on_task_done,
    register_target,
)
from workers.settings import AgentType, Settings, load_settings  # noqa: E402
from workers.submit import submit  # noqa: E402
from workers.supervisor import Supervisor  # noqa: E402

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


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


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
                "client_p50_us": round(_pct(seen[label], 0.5), 1),
                "client_p99_us": round(_pct(seen[label], 0.99), 1),
                "redis_p50_us": round(_pct(inside[label], 0.5), 1),
                "redis_p99_us": round(_pct(inside[label], 0.99), 1),
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
    return {"p50_us": round(_pct(seen, 0.5), 1), "p99_us": round(_pct(seen, 0.99), 1)}


# -- quality ----------------------------------------------------------------------------------

#: Agent type of the instance-level scenarios: four solo instances with direct queues.
QUALITY_TYPE = "bench"
#: Agent type of the pool-level scenario: pools ``fast`` and ``slow`` of two instances each.
TIERS_TYPE = "tiers"
#: Service time at speed 1 (the issue's reference: lognormal, mean 50 ms, spread = mean).
SERVICE_MEAN_MS = 50.0
SERVICE_SPREAD_MS = 50.0
#: Offered load as a share of the nominal capacity (the issue's reference: 70 %).
QUALITY_LOAD = 0.7
#: Scenario (a): how many times slower than speed 1 each instance is.
HETERO_SPEEDS = (1.0, 1.0, 2.0, 4.0)
#: Scenario (a): this instance (1-based) turns this much slower for the middle half of the run.
SLOW_INSTANCE = 2
SLOWDOWN = 10.0
#: Pool-level scenario: service time multiplier of the slow pool.
SLOW_POOL_SPEED = 3.0
#: Run length of (b) and of the pool-level scenario relative to (a)'s ``--quality-seconds``.
SHORT_RUN = 0.6
#: After the last arrival, tasks get this long to finish; the rest is counted unfinished.
DRAIN_S = 2.5
#: In-progress tasks of a purged run are waited for at most this long.
QUIESCE_S = 20.0
#: The baseline: one shared pool queue that idle instances pull from (prefetch 1).
PULL = "pull"
#: Warm-up tasks per instance (first task of a process loads the tokenizer and prices).
WARM_UP_TASKS = 5
#: Kombu's hash of delivered, unacknowledged messages (Redis transport).
UNACKED = "unacked"

QUALITY_AGENTS = f"""\
[agents.{QUALITY_TYPE}]
provider = "benchmarks.routing_speed:factory"
latency = {{ mean_ms = {SERVICE_MEAN_MS}, spread_ms = {SERVICE_SPREAD_MS} }}
cache_responses = false
dispatch = "instance"
scaling = {{ min = 4, max = 4 }}

[agents.{QUALITY_TYPE}.pools.default]
concurrency = 1

[agents.{TIERS_TYPE}]
provider = "benchmarks.routing_speed:factory"
latency = {{ mean_ms = {SERVICE_MEAN_MS}, spread_ms = {SERVICE_SPREAD_MS} }}
cache_responses = false
scaling = {{ min = 2, max = 2 }}

[agents.{TIERS_TYPE}.pools.fast]
concurrency = 1

[agents.{TIERS_TYPE}.pools.slow]
concurrency = 1
speed = {SLOW_POOL_SPEED}
"""


@dataclass(frozen=True)
class Scenario:
    """One quality scenario: an agent type, its instances' speeds and the variants run."""

    key: str
    title: str
    agent_type: str
    seconds: float
    #: (instance key, times slower than speed 1) of every instance, in name order.
    members: tuple[tuple[str, float], ...]
    variants: tuple[str, ...]
    baseline: str
    #: Speeds go to the provider's speed hash (False: the pool's ``speed`` applies them).
    hash_speeds: bool = True
    #: (instance key, factor, start s, end s): a temporary slowdown.
    slowdown: tuple[str, float, float, float] | None = None
    #: Weights of weighted_round_robin by instance key (default: capacity, all equal).
    weights: dict[str, float] = field(default_factory=dict)

    @property
    def capacity_per_s(self) -> float:
        return sum(1000.0 / (SERVICE_MEAN_MS * speed) for _, speed in self.members)

    @property
    def capacity_during_slowdown(self) -> float:
        if self.slowdown is None:
            return self.capacity_per_s
        name, factor = self.slowdown[0], self.slowdown[1]
        return sum(
            1000.0 / (SERVICE_MEAN_MS * speed * (factor if n == name else 1.0))
            for n, speed in self.members
        )

    @property
    def rate_per_s(self) -> float:
        return QUALITY_LOAD * self.capacity_per_s

    @property
    def pools(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for name, _ in self.members:
            out.setdefault(name.split(".")[1], []).append(name)
        return out


def _scenarios(seconds: float) -> list[Scenario]:
    bench = [f"{QUALITY_TYPE}.default.{n}" for n in range(1, 5)]
    slow = bench[SLOW_INSTANCE - 1]
    hetero = tuple(zip(bench, HETERO_SPEEDS, strict=True))
    short = round(seconds * SHORT_RUN, 1)
    strategies = tuple(known_strategies())
    return [
        Scenario(
            "heterogeneous",
            "(a) heterogeneous: instances 1x, 1x, 2x, 4x slower; instance "
            f"{SLOW_INSTANCE} {SLOWDOWN:g}x slower for the middle half of the run",
            QUALITY_TYPE, seconds, hetero, (PULL, *strategies), PULL,
            slowdown=(slow, SLOWDOWN, seconds / 4, 3 * seconds / 4),
            weights={name: 4.0 / speed for name, speed in hetero},
        ),
        Scenario(
            "homogeneous", "(b) homogeneous: four instances at 1x", QUALITY_TYPE, short,
            tuple((name, 1.0) for name in bench), (PULL, *strategies), PULL,
        ),
        Scenario(
            "pools",
            f"pool level: pools fast (2 x 1x) and slow (2 x {SLOW_POOL_SPEED:g}x), "
            "dispatch = pool",
            TIERS_TYPE, short,
            tuple((f"{TIERS_TYPE}.fast.{n}", 1.0) for n in (1, 2))
            + tuple((f"{TIERS_TYPE}.slow.{n}", SLOW_POOL_SPEED) for n in (1, 2)),
            ("round_robin", "least_connections", "response_time"), "round_robin",
            hash_speeds=False,
        ),
    ]  # fmt: skip


def _arrivals(rate: float, seconds: float, seed: int) -> list[float]:
    """Poisson arrival offsets (s) at ``rate`` per second over ``seconds``, fixed by ``seed``."""
    rng = random.Random(seed)
    out, t = [], rng.expovariate(rate)
    while t < seconds:
        out.append(t)
        t += rng.expovariate(rate)
    return out


@dataclass
class Cluster:
    """The worker instances of every quality scenario, on the benchmark's Redis."""

    client: redis.Redis
    settings: Settings
    pull_settings: Settings
    sup: Supervisor
    host: str

    def direct_queues(self, scenario: Scenario) -> list[str]:
        return [f"{keyspace.DIRECT_QUEUE_PREFIX}{n}@{self.host}" for n, _ in scenario.members]

    def queues(self, scenario: Scenario) -> list[str]:
        pools = [keys.pool_queue(scenario.agent_type, p) for p in scenario.pools]
        return pools + self.direct_queues(scenario)


def _start_cluster(bench: Bench, work: Path) -> Cluster:
    agents = work / "agents.toml"
    agents.write_text(QUALITY_AGENTS, "utf-8")
    common = {"redis_url": bench.url, "agents_file": agents, "state_dir": work / "state"}
    settings = load_settings(**common, worker_pool="solo", shutdown_grace_s=10)
    pull_settings = load_settings(**common)
    only = pull_settings.agents[QUALITY_TYPE]
    pull_settings.agents[QUALITY_TYPE] = only.model_copy(update={"dispatch": "pool"})
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    env = {
        "INFRA_MIND_AGENTS_FILE": str(agents),
        "INFRA_MIND_STATE_DIR": str(settings.state_dir),
        "INFRA_MIND_WORKER_POOL": "solo",
        "PYTHONPATH": path,
    }
    sup = Supervisor(settings=settings, redis_url=bench.url, log_dir=work / "logs",
                     with_maintenance=False, with_beat=False, with_flower=False,
                     extra_env=env)  # fmt: skip
    cluster = Cluster(bench.client, settings, pull_settings, sup, "")
    want = sum(settings.agent(a.name).policy(p).min for a, p in settings.pools())
    deadline = time.monotonic() + 90
    try:
        sup.start()
        while bench.client.zcard(keys.INSTANCES) < want:
            if time.monotonic() > deadline:
                raise RuntimeError("quality: workers did not start within 90 s")
            sup.step()
            time.sleep(0.1)
    except BaseException:
        sup.stop_all()
        raise
    names = bench.client.zrange(keys.INSTANCES, 0, -1)
    cluster.host = str(names[0]).split("@", 1)[1]
    return cluster


def _warm_up(cluster: Cluster, scenarios: list[Scenario]) -> None:
    """A few tasks on every instance: a process's first task loads tokenizer and prices."""
    from workers.app import create_app

    app = create_app(cluster.settings)
    total = 0
    for sc in scenarios[0], scenarios[-1]:
        for i in range(WARM_UP_TASKS * len(sc.members)):
            submit(sc.agent_type, f"warm-up {i}", app=app, strategy="round_robin")
            total += 1
    _wait_events(cluster.client, total, time.time() + 30)
    _close_app(app)


def _close_app(app: Celery) -> None:
    for route in app.conf.task_routes or ():
        if hasattr(route, "close"):
            route.close()
    app.close()


def _wait_events(client: redis.Redis, count: int, until: float) -> bool:
    while client.xlen(keys.EVENTS_STREAM) < count:
        if time.time() >= until:
            return False
        time.sleep(0.05)
    return True


def _quiesce(cluster: Cluster, scenario: Scenario) -> int:
    """Purge what is still queued, then wait for the tasks being run; returns purged."""
    client = cluster.client
    purged = 0
    for queue in cluster.queues(scenario):
        for key in keys.priority_queue_keys(queue):
            purged += int(client.llen(key))
            client.delete(key)
    deadline = time.time() + QUIESCE_S
    while client.hlen(UNACKED) and time.time() < deadline:
        time.sleep(0.05)
    return purged


def _reset(cluster: Cluster, scenario: Scenario, variant: str) -> None:
    """Fresh routing state (as after a start), no events, the scenario's speeds."""
    client = cluster.client
    stale = list(client.scan_iter(f"{keyspace.LB_PREFIX}:*", count=1000))
    client.delete(keys.INFLIGHT, keys.EVENTS_STREAM, SPEED_KEY, *stale)
    if scenario.hash_speeds:
        client.hset(SPEED_KEY, mapping={name: speed for name, speed in scenario.members})
    for name in client.zrange(keys.INSTANCES, 0, -1):
        beat = client.hgetall(keys.heartbeat(str(name)))
        if beat:
            on_heartbeat(client, beat)
    if variant == "weighted_round_robin" and scenario.weights:
        for name, queue in zip(
            (n for n, _ in scenario.members), cluster.direct_queues(scenario), strict=True
        ):
            register_target(client, scenario.agent_type, queue, weight=scenario.weights[name],
                            ttl_s=cluster.settings.heartbeat_ttl_s)  # fmt: skip


def _run(
    cluster: Cluster, scenario: Scenario, variant: str, arrivals: list[float], seed: int
) -> dict[str, Any]:
    """Replay the trace with one variant; measure from the task events."""
    from workers.app import create_app

    client = cluster.client
    _reset(cluster, scenario, variant)
    app = create_app(cluster.pull_settings if variant == PULL else cluster.settings)
    strategy = None if variant == PULL else variant
    changes: list[tuple[float, str, float]] = []
    if scenario.slowdown is not None:
        name, factor, start, end = scenario.slowdown
        base = dict(scenario.members)[name]
        changes = [(start, name, base * factor), (end, name, base)]
    sent: dict[str, float] = {}
    late = 0.0
    psutil.cpu_percent(None)
    t0 = time.time() + 0.2
    for i, offset in enumerate(arrivals):
        while changes and changes[0][0] <= offset:
            at, name, speed = changes.pop(0)
            _sleep_until(t0 + at)
            client.hset(SPEED_KEY, name, speed)
        _sleep_until(t0 + offset)
        now = time.time()
        late = max(late, now - (t0 + offset))
        handle = submit(scenario.agent_type, f"routing quality {seed} task {i}", app=app,
                        strategy=strategy)  # fmt: skip
        sent[handle.id] = now
    for at, name, speed in changes:
        _sleep_until(t0 + at)
        client.hset(SPEED_KEY, name, speed)
    cutoff = t0 + max(scenario.seconds, arrivals[-1]) + DRAIN_S
    _close_app(app)
    _wait_events(client, len(sent), cutoff)
    cpu = psutil.cpu_percent(None)
    purged = _quiesce(cluster, scenario)
    events = [f for _, f in client.xrange(keys.EVENTS_STREAM, "-", "+") if f["task_id"] in sent]
    return _measure(scenario, events, sent, t0, cutoff, purged, late, cpu)


def _sleep_until(when: float) -> None:
    delay = when - time.time()
    if delay > 0:
        time.sleep(delay)


def _jain(values: list[float]) -> float:
    """Jain's fairness index: 1 when all are equal, 1/n when one takes everything."""
    total, squares = sum(values), sum(v * v for v in values)
    return 1.0 if squares == 0 else total * total / (len(values) * squares)


def _measure(
    scenario: Scenario,
    events: list[dict[str, str]],
    sent: dict[str, float],
    t0: float,
    cutoff: float,
    purged: int,
    late: float,
    cpu: float,
) -> dict[str, Any]:
    done = {e["task_id"] for e in events}
    finished = [float(e["queue_wait_ms"]) + float(e["run_ms"]) for e in events]
    # A task that did not finish by the cutoff counts with its age then: a lower bound.
    censored = [(cutoff - at) * 1000 for tid, at in sent.items() if tid not in done]
    ends = [float(e["finished_at"]) for e in events]
    end = max(ends) if ends else cutoff
    window_ms = max(1.0, (end - t0) * 1000)
    busy = {name: 0.0 for name, _ in scenario.members}
    tasks = {name: 0 for name, _ in scenario.members}
    for e in events:
        name = instance_key(e["instance"])
        busy[name] = busy.get(name, 0.0) + float(e["run_ms"])
        tasks[name] = tasks.get(name, 0) + 1
    util = {name: busy[name] / window_ms for name in busy}
    if scenario.hash_speeds:
        units = list(util.values())
    else:  # pool level: the utilization of each pool (mean of its instances)
        units = [statistics.fmean(util[n] for n in members)
                 for members in scenario.pools.values()]  # fmt: skip
    everything = sorted([(v, False) for v in finished] + [(v, True) for v in censored])
    row: dict[str, Any] = {
        "submitted": len(sent),
        "completed": len(events),
        "unfinished": len(censored),
        "purged": purged,
        "mean_ms": round(statistics.fmean(v for v, _ in everything), 1) if everything else None,
        "throughput_per_s": round(len(events) / max(1e-3, end - t0), 1),
        "jain_utilization": round(_jain(units), 3),
        "utilization": {k: round(v, 3) for k, v in util.items()},
        "tasks": tasks,
        "max_publish_lateness_ms": round(late * 1000, 1),
        "machine_cpu_percent": cpu,
    }
    for q in (0.5, 0.95, 0.99):
        value = _pct([v for v, _ in everything], q) if everything else 0.0
        lower = any(c < value for c in censored) or value in censored
        row[f"p{round(q * 100)}_ms"] = round(value, 1)
        row[f"p{round(q * 100)}_lower_bound"] = lower
    return row


def quality(bench: Bench) -> Section:
    scenarios = _scenarios(bench.quality_seconds)
    work = Path(tempfile.mkdtemp(prefix="routing-quality-"))
    cluster: Cluster | None = None
    results: dict[str, dict[str, dict[str, Any]]] = {}
    finished = False
    try:
        started = time.time()
        cluster = _start_cluster(bench, work)
        _warm_up(cluster, scenarios)
        bench.log(f"quality: workers ready and warm in {time.time() - started:.1f} s")
        for sc in scenarios:
            arrivals = _arrivals(sc.rate_per_s, sc.seconds, bench.seed)
            bench.log(f"quality: {sc.key}: {len(arrivals)} tasks over {sc.seconds:g} s "
                      f"({sc.rate_per_s:.1f}/s, {QUALITY_LOAD:.0%} of capacity)")  # fmt: skip
            rows = results.setdefault(sc.key, {})
            for variant in sc.variants:
                rows[variant] = _run(cluster, sc, variant, arrivals, bench.seed)
                row = rows[variant]
                bench.log(
                    f"  {variant:<22} p50 {row['p50_ms']:7.0f}  p95 {row['p95_ms']:7.0f}  "
                    f"p99 {row['p99_ms']:7.0f} ms  done {row['completed']}/{row['submitted']}"
                    f"  jain {row['jain_utilization']:.2f}  cpu {row['machine_cpu_percent']:.0f}%"
                )
        finished = True
    finally:
        if cluster is not None:
            cluster.sup.stop_all()
        if finished:
            shutil.rmtree(work, ignore_errors=True)
        else:
            bench.log(f"quality: worker logs kept in {work / 'logs'}")
    return _quality_section(scenarios, results)


#: The issue's goals for the quality scenarios (p99 ratios against the pull baseline).
GOAL_HETERO_RATIO = 1.5
GOAL_HOMO_RATIO = 1.15
GOAL_HETERO_STRATEGIES = ("response_time", "p2c")


def _cell(row: dict[str, Any], q: str) -> str:
    mark = "≥ " if row[f"{q}_lower_bound"] else ""
    return f"{mark}{row[f'{q}_ms']:,.0f}"


def _goals(results: dict[str, dict[str, dict[str, Any]]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    hetero, homo = results.get("heterogeneous"), results.get("homogeneous")
    if hetero:
        pull = hetero[PULL]["p99_ms"]
        best = min(GOAL_HETERO_STRATEGIES, key=lambda s: hetero[s]["p99_ms"])
        ratio = hetero[best]["p99_ms"] / pull
        out["heterogeneous"] = {
            "goal": f"best of response_time/p2c p99 <= {GOAL_HETERO_RATIO} x pull",
            "best": best, "ratio": round(ratio, 3), "met": ratio <= GOAL_HETERO_RATIO,
        }  # fmt: skip
    if homo:
        pull = homo[PULL]["p99_ms"]
        best = min((v for v in homo if v != PULL), key=lambda s: homo[s]["p99_ms"])
        ratio = homo[best]["p99_ms"] / pull
        out["homogeneous"] = {
            "goal": f"best push strategy p99 <= {GOAL_HOMO_RATIO} x pull",
            "best": best, "ratio": round(ratio, 3), "met": ratio <= GOAL_HOMO_RATIO,
        }  # fmt: skip
    pull_wins = [k for k in ("heterogeneous", "homogeneous") if k in results
                 and min(results[k], key=lambda v: results[k][v]["p99_ms"]) == PULL]  # fmt: skip
    out["pull_lowest_p99_in"] = pull_wins
    return out


def _quality_section(
    scenarios: list[Scenario], results: dict[str, dict[str, dict[str, Any]]]
) -> Section:
    goals = _goals(results)
    data: dict[str, Any] = {
        "service_ms": {"mean": SERVICE_MEAN_MS, "spread": SERVICE_SPREAD_MS},
        "load": QUALITY_LOAD,
        "drain_s": DRAIN_S,
        "scenarios": {
            sc.key: {
                "title": sc.title, "seconds": sc.seconds, "rate_per_s": round(sc.rate_per_s, 2),
                "capacity_per_s": round(sc.capacity_per_s, 2), "baseline": sc.baseline,
                "speeds": dict(sc.members), "slowdown": sc.slowdown,
                "wrr_weights": sc.weights or None, "variants": results.get(sc.key, {}),
            }
            for sc in scenarios if sc.key in results
        },
        "goals": goals,
    }  # fmt: skip
    md = [
        "## Quality: latency of real workers behind each strategy",
        "",
        "Real `celery worker` processes (solo pool, one task at a time, prefetch 1, late ack) "
        "started by the same supervisor `infra-mind up` uses; every task goes through "
        "`submit`, the Celery router and the default agent handler (tokens, pricing, events), "
        "and completions feed the router's counters. Service time is a sleep: lognormal, "
        f"mean {SERVICE_MEAN_MS:.0f} ms, spread {SERVICE_SPREAD_MS:.0f} ms at speed 1, times "
        "the instance's slowness. Each task's service time is drawn from its prompt, so every "
        "variant of a scenario replays the same Poisson arrival trace (fixed seed) with the "
        f"same work per task; offered load is {QUALITY_LOAD:.0%} of the nominal capacity. "
        "Variants run one after another on the same worker processes; routing state, "
        "counters and events are reset between them. *pull* is the shared-queue baseline: "
        'one pool queue that idle instances pull from (`dispatch = "pool"`); the '
        'strategies push to per-instance direct queues (`dispatch = "instance"`, strategy '
        "per call).",
        "",
        "Latency = queue wait + run time from the task events on `im:events` (publish to "
        "finish). Tasks still unfinished "
        f"{DRAIN_S:g} s after the last arrival are purged and counted with their age at that "
        "moment; a percentile marked ≥ is then a lower bound. *tasks/s*: tasks completed ÷ "
        "time from the first publish to the last finish. *Jain* is Jain's fairness index "
        "over the instances' utilization (busy time ÷ wall time, i.e. work received ÷ "
        "capacity): 1 means every instance carried work in proportion to its speed; in the "
        "pool-level scenario it is taken over the two pools.",
        "",
        f"Run length: {scenarios[0].seconds:g} s of arrivals for (a), "
        f"{scenarios[-1].seconds:g} s for the others, so that the whole benchmark stays "
        "within six minutes here (`--quality-seconds` sets (a); 60 gives it the full 30 s "
        "slowdown). A p99 therefore rests on the three or four slowest of a few hundred "
        "tasks: on this shared machine, repeated runs moved the pull baseline's p99 by "
        "about 15 % and single strategies' p99 by up to about 60 % in (a), so read "
        "differences of that size as ties.",
        "",
        "What each side can see: pull is work-conserving (no task waits while an instance "
        "is idle, and a slow instance takes a task only when it is free). A push strategy "
        "commits each task to one instance's queue at publish time without knowing how long "
        "the task in progress there will still run; with service times this variable "
        "(spread = mean), a task that lands behind a long one waits for it even when another "
        "instance frees up at once. Only response_time sees speed (peak EWMA of finished "
        "tasks' run time); least_connections, p2c and resource see in-flight counts "
        "(resource also CPU and memory, which a sleeping task does not move); round_robin "
        "and weighted_round_robin see nothing live, so an instance whose share exceeds its "
        "capacity builds a queue that only the end of the run stops. Between pools "
        "(last scenario) there is no shared queue: the router is the only balancer there, "
        "while the instances inside each pool still pull.",
        "",
    ]
    for sc in scenarios:
        rows = results.get(sc.key)
        if not rows:
            continue
        base = rows[sc.baseline]
        n = base["submitted"]
        md += [
            f"### {sc.title}",
            "",
            f"{n} tasks over {sc.seconds:g} s ({sc.rate_per_s:.1f}/s; nominal capacity "
            f"{sc.capacity_per_s:.1f}/s).",
        ]
        if sc.slowdown:
            name, factor, start, end = sc.slowdown
            md[-1] += (f" `{name}` runs {factor:g}x slower from {start:g} s to {end:g} s, "
                       f"leaving {sc.capacity_during_slowdown:.1f}/s of capacity "
                       f"(offered load {sc.rate_per_s / sc.capacity_during_slowdown:.0%} of "
                       "it meanwhile).")  # fmt: skip
        if sc.weights:
            weights = ", ".join(f"{w:g}" for w in sc.weights.values())
            md[-1] += f" weighted_round_robin gets the nominal speeds as weights ({weights})."
        names = [k.rsplit(".", 2)[-2] + "." + k.rsplit(".", 1)[-1] for k, _ in sc.members]
        md += [
            "",
            f"| variant | p50 ms | p95 ms | p99 ms | p99 ÷ {sc.baseline} | done | tasks/s "
            f"| Jain | utilization ({', '.join(names)}) | machine CPU |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---|---:|",
        ]
        for variant, row in rows.items():
            util = " / ".join(f"{u:.2f}" for u in row["utilization"].values())
            ratio = row["p99_ms"] / base["p99_ms"] if base["p99_ms"] else float("nan")
            md.append(
                f"| {variant} | {_cell(row, 'p50')} | {_cell(row, 'p95')} | {_cell(row, 'p99')}"
                f" | {'≥ ' if row['p99_lower_bound'] else ''}{ratio:.2f} "
                f"| {row['completed']}/{row['submitted']} "
                f"| {row['throughput_per_s']:.1f} | {row['jain_utilization']:.2f} | {util} "
                f"| {row['machine_cpu_percent']:.0f} % |"
            )
        best = min(rows, key=lambda v: rows[v]["p99_ms"])
        md += ["", f"Lowest p99: **{best}** ({_cell(rows[best], 'p99')} ms)."]
        goal = goals.get(sc.key)
        if goal:
            md[-1] += (f" Goal ({goal['goal']}): {goal['best']} at {goal['ratio']:.2f} x pull, "
                       f"**{'met' if goal['met'] else 'NOT met'}**.")  # fmt: skip
        md.append("")
    wins = goals["pull_lowest_p99_in"]
    if len(wins) == 2:
        md += ["**The shared-queue pull baseline has the lowest p99 in both scenarios.** "
               "Push routing does not beat idle workers pulling from one queue here; "
               "`dispatch = \"pool\"` stays the default.", ""]  # fmt: skip
    elif wins:
        md += [f"The pull baseline has the lowest p99 in: {', '.join(wins)}.", ""]
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
