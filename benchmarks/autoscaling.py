"""Autoscaling side by side: four ways of sizing one pool, fed the same arrival trace at once.

Real ``celery worker`` processes run the simulated provider (sleep-based lognormal service
time, mean 0.5 s). One seeded arrival trace (idle → 20x burst for 60 s → idle → ramp → idle,
about four minutes) is replayed in parallel against four configurations, each with its own
redis-server and queue:

* ``static-max``  8 instances x concurrency 1, always;
* ``static-min``  1 instance x concurrency 1, always;
* ``celery``      one prefork worker with Celery's own ``--autoscale=8,1``;
* ``ours``        min 1, max 8, concurrency 1, the autoscale job every ``--interval`` s
                  driving the same supervisor ``infra-mind up`` uses.

Reports worker-seconds (process-seconds provisioned during the trace), queue-wait percentiles
(from the task events), tasks lost and duplicated, scaling actions, direction changes and the
reaction time to the burst, and checks the goals of the autoscaler against them.

    .venv/bin/python benchmarks/autoscaling.py [--seed 4] [--interval 2] [--time-scale 1]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
import redis

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from scheduler.autoscale.actuators.local import LocalActuator  # noqa: E402
from scheduler.autoscale.job import run_job  # noqa: E402
from workers import keys  # noqa: E402
from workers.app import create_app  # noqa: E402
from workers.children import die_with_parent  # noqa: E402
from workers.redis_server import EmbeddedRedis  # noqa: E402
from workers.settings import Settings, load_settings  # noqa: E402
from workers.submit import submit  # noqa: E402
from workers.supervisor import ProcessKind, Supervisor  # noqa: E402

REPORTS = Path(__file__).resolve().parent / "reports"
AGENT = "bench"
POOL = "default"
QUEUE = keys.pool_queue(AGENT, POOL)
MAX_INSTANCES = 8
#: Goals of the autoscaler (issue "Autoscaler", section Benchmark).
GOAL_P95_WAIT_S = 5.0
GOAL_WS_RATIO = 0.6
GOAL_REACTION_S = 10.0
#: Process counts are sampled this often; worker-seconds integrate these samples.
TICK_S = 0.25
#: The supervisors reconcile this often (``infra-mind up`` uses 1 s).
SUPERVISE_S = 0.5
#: Progress line period.
PROGRESS_S = 10.0
#: After the trace, wait at most this long for queued tasks before stopping everything.
DRAIN_MAX_S = 60.0
#: Warm-shutdown grace of the workers at the end (tasks last a few seconds at most).
SHUTDOWN_GRACE_S = 15.0
#: Leftover Celery messages live in this kombu hash until acked (restored on warm shutdown).
KOMBU_UNACKED = "unacked"

AGENTS_TOML = """\
[agents.{agent}]
model = "gpt-4o-mini"
latency = {{ mean_ms = {mean_ms}, spread_ms = {spread_ms} }}
cache_responses = false

[agents.{agent}.scaling]
{scaling}

[agents.{agent}.pools.{pool}]
concurrency = 1
"""


# -- the arrival trace -----------------------------------------------------------------------
@dataclass(frozen=True)
class Phase:
    """A stretch of the trace whose rate goes linearly from ``x_from`` to ``x_to`` x base."""

    name: str
    start: float
    end: float
    x_from: float
    x_to: float

    def rate(self, t: float, base: float) -> float:
        frac = (t - self.start) / (self.end - self.start)
        return base * (self.x_from + (self.x_to - self.x_from) * frac)


def build_phases(scale: float) -> list[Phase]:
    """idle 20 s, burst 20x for 60 s, idle 60 s, ramp 1x→10x over 60 s, idle 40 s."""
    shape = [("idle", 20, 1, 1), ("burst", 60, 20, 20), ("idle", 60, 1, 1),
             ("ramp", 60, 1, 10), ("idle", 40, 1, 1)]  # fmt: skip
    phases, t = [], 0.0
    for name, length, x_from, x_to in shape:
        phases.append(Phase(name, t, t + length * scale, x_from, x_to))
        t += length * scale
    return phases


def phase_at(phases: list[Phase], t: float) -> Phase:
    return next((p for p in phases if p.start <= t < p.end), phases[-1])


def build_arrivals(phases: list[Phase], base: float, seed: int) -> list[float]:
    """A non-homogeneous Poisson process (thinning), fixed by ``seed``."""
    rnd = random.Random(seed)
    peak = base * max(max(p.x_from, p.x_to) for p in phases)
    end, t, out = phases[-1].end, 0.0, []
    while True:
        t += rnd.expovariate(peak)
        if t >= end:
            return out
        if rnd.random() * peak < phase_at(phases, t).rate(t, base):
            out.append(t)


# -- one configuration under test ----------------------------------------------------------------
@dataclass
class Config:
    """One configuration: its redis-server, workers, submitted tasks and measurements."""

    name: str
    label: str
    scaling: dict[str, Any]
    celery_autoscale: bool = False
    autoscaled: bool = False
    redis: EmbeddedRedis | None = None
    settings: Settings | None = None
    client: redis.Redis | None = None
    sup: Supervisor | None = None
    proc: subprocess.Popen[bytes] | None = None
    app: Any = None
    submitted: list[tuple[str, float]] = field(default_factory=list)
    submit_errors: int = 0
    max_lateness_s: float = 0.0
    procs: list[tuple[float, int]] = field(default_factory=list)
    depth: list[tuple[float, int]] = field(default_factory=list)
    spawns: list[tuple[float, str, int]] = field(default_factory=list)
    decisions: list[dict[str, Any]] = field(default_factory=list)
    known_pids: set[int] = field(default_factory=set)
    log_path: Path | None = None

    def live_processes(self) -> tuple[int, list[tuple[str, int]]]:
        """Worker processes provisioned now, and (instance, pid) of each."""
        if self.sup is not None:
            found = [
                (m.name, m.proc.pid) for m in list(self.sup.managed.values())
                if m.kind is ProcessKind.AGENT and m.alive and m.proc is not None
            ]  # fmt: skip
            return len(found), found
        if self.proc is None or self.proc.poll() is not None:
            return 0, []
        try:
            kids = psutil.Process(self.proc.pid).children()
        except psutil.Error:
            return 0, []
        found = [(f"{AGENT}.{POOL}.1", k.pid) for k in kids if k.is_running()]
        return len(found), found

    def queue_depth(self) -> int:
        assert self.client is not None
        pipe = self.client.pipeline(transaction=False)
        for key in keys.priority_queue_keys(QUEUE):
            pipe.llen(key)
        return int(sum(pipe.execute()))


def configurations(args: argparse.Namespace) -> list[Config]:
    ours = {
        "min": 1,
        "max": MAX_INSTANCES,
        "target_queue_latency_s": args.target_latency,
        "target_utilization": args.target_utilization,
        "max_step_up": args.max_step_up,
        "max_step_down": args.max_step_down,
        "cooldown_up_s": args.cooldown_up,
        "cooldown_down_s": args.cooldown_down,
        "stabilization_s": args.stabilization,
    }
    return [
        Config("static-max", f"static max ({MAX_INSTANCES} x 1)",
               {"min": MAX_INSTANCES, "max": MAX_INSTANCES}),
        Config("static-min", "static min (1 x 1)", {"min": 1, "max": 1}),
        Config("celery", f"celery --autoscale={MAX_INSTANCES},1 (prefork)",
               {"min": 1, "max": MAX_INSTANCES}, celery_autoscale=True),
        Config("ours", f"ours (min 1, max {MAX_INSTANCES}, every {args.interval:g} s)", ours,
               autoscaled=True),
    ]  # fmt: skip


def toml_scaling(scaling: dict[str, Any]) -> str:
    return "\n".join(f"{k} = {json.dumps(v)}" for k, v in scaling.items())


def child_env(cfg: Config) -> dict[str, str]:
    assert cfg.settings is not None
    return {
        "INFRA_MIND_AGENTS_FILE": str(cfg.settings.agents_file),
        "INFRA_MIND_STATE_DIR": str(cfg.settings.state_dir),
    }


def start_config(cfg: Config, work: Path, args: argparse.Namespace) -> None:
    """Its own redis-server, then its workers (supervisor, or one Celery autoscale worker).

    Called from the main thread: children get SIGTERM if the thread that forked them dies.
    """
    home = work / cfg.name
    cfg.redis = EmbeddedRedis(home / "redis", persistent=False).start()
    agents = home / "agents.toml"
    agents.write_text(
        AGENTS_TOML.format(agent=AGENT, pool=POOL, mean_ms=args.mean_ms,
                           spread_ms=args.spread_ms, scaling=toml_scaling(cfg.scaling))
    )  # fmt: skip
    cfg.settings = load_settings(
        redis_url=cfg.redis.url,
        agents_file=agents,
        state_dir=home / "state",
        autoscale_interval_s=args.interval,
        shutdown_grace_s=SHUTDOWN_GRACE_S,
    )
    cfg.client = redis.Redis.from_url(cfg.redis.url, decode_responses=True)
    cfg.app = create_app(cfg.settings)
    cfg.log_path = home / "logs" / "celery-autoscale.log"
    if cfg.celery_autoscale:
        env = {k: v for k, v in os.environ.items() if not k.startswith("INFRA_MIND_")}
        env.update(child_env(cfg), REDIS_URL=cfg.redis.url)
        argv = [
            sys.executable, "-m", "celery", "-A", "workers.app", "worker",
            "-P", "prefork", f"--autoscale={MAX_INSTANCES},1", "-Q", QUEUE,
            "-n", keys.instance_name(AGENT, POOL, 1, "%h"), "-l", "INFO",
            "--without-gossip", "--without-mingle",
        ]  # fmt: skip
        cfg.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(cfg.log_path, "ab") as logfile:
            cfg.proc = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=logfile, stderr=subprocess.STDOUT,
                env=env, cwd=ROOT, start_new_session=True, preexec_fn=die_with_parent,
            )  # fmt: skip
        return
    cfg.sup = Supervisor(
        settings=cfg.settings,
        redis_url=cfg.redis.url,
        log_dir=home / "logs",
        with_maintenance=False,
        with_beat=False,
        with_flower=False,
        extra_env=child_env(cfg),
    )
    cfg.sup.start()


def wait_ready(configs: list[Config], timeout: float = 90.0) -> None:
    """Until every configuration's initial workers beat (and Celery's has its pool child)."""
    deadline = time.monotonic() + timeout
    for cfg in configs:
        assert cfg.client is not None
        want = int(cfg.scaling["min"])
        while True:
            beating = cfg.client.zcard(keys.INSTANCES)
            ready = beating >= (1 if cfg.celery_autoscale else want)
            if cfg.celery_autoscale:
                ready = ready and cfg.live_processes()[0] >= 1
            if ready:
                break
            if cfg.sup is not None:
                cfg.sup.step()
            if time.monotonic() > deadline:
                raise RuntimeError(f"{cfg.name}: workers did not start within {timeout:.0f} s")
            time.sleep(0.1)


def stop_config(cfg: Config) -> None:
    """Warm shutdown (running tasks finish, reserved ones go back to the queue), then kill."""
    if cfg.sup is not None:
        cfg.sup.stop_all()
    if cfg.proc is not None and cfg.proc.poll() is None:
        try:
            kids = psutil.Process(cfg.proc.pid).children(recursive=True)
        except psutil.Error:
            kids = []
        cfg.proc.send_signal(signal.SIGTERM)
        try:
            cfg.proc.wait(SHUTDOWN_GRACE_S)
        except subprocess.TimeoutExpired:
            cfg.proc.kill()
            cfg.proc.wait()
        _gone, alive = psutil.wait_procs(kids, timeout=5)
        for kid in alive:
            kid.kill()
    if cfg.app is not None:
        cfg.app.close()
        cfg.app = None


def stop_all(configs: list[Config]) -> None:
    """Stop every configuration's workers in parallel, then their redis-servers."""
    threads = [threading.Thread(target=stop_config, args=(c,)) for c in configs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def stop_redis(configs: list[Config]) -> None:
    for cfg in configs:
        if cfg.client is not None:
            cfg.client.close()
        if cfg.redis is not None:
            cfg.redis.stop()


# -- driving the trace -----------------------------------------------------------------------
def submitter(cfg: Config, arrivals: list[float], t0: float, stop: threading.Event) -> None:
    """Publish one task per arrival at its time; a late publish goes at once (and is noted)."""
    for i, offset in enumerate(arrivals):
        delay = t0 + offset - time.time()
        if delay > 0 and stop.wait(delay):
            return
        if stop.is_set():
            return
        cfg.max_lateness_s = max(cfg.max_lateness_s, -delay)
        try:
            handle = submit(AGENT, f"autoscaling benchmark task {i}", app=cfg.app)
        except Exception as exc:  # counted and reported; the run goes on
            cfg.submit_errors += 1
            print(f"  {cfg.name}: submit failed: {exc}", flush=True)
            continue
        cfg.submitted.append((handle.id, time.time()))


def sample_processes(cfg: Config, now: float) -> None:
    """Record the live process count and any process not seen before (a spawn)."""
    count, found = cfg.live_processes()
    for name, pid in found:
        if pid not in cfg.known_pids:
            cfg.known_pids.add(pid)
            cfg.spawns.append((now, name, pid))
    cfg.procs.append((now, count))


def autoscale(cfg: Config, actuator: LocalActuator, now: float) -> None:
    assert cfg.client is not None and cfg.settings is not None
    result = run_job(cfg.client, cfg.settings, now=now, actuator=actuator, min_gap_s=0)
    for d in result["decisions"]:
        cfg.decisions.append({"t": now, **d})
    for pool, error in result["errors"].items():
        print(f"  ours: autoscale error on {pool}: {error}", flush=True)


def progress_line(configs: list[Config], elapsed: float, phases: list[Phase], base: float) -> str:
    phase = phase_at(phases, min(elapsed, phases[-1].end - 1e-9))
    name = phase.name if elapsed < phases[-1].end else "drain"
    rate = phase.rate(elapsed, base) if name != "drain" else 0.0
    parts = []
    for cfg in configs:
        n = cfg.procs[-1][1] if cfg.procs else 0
        q = cfg.depth[-1][1] if cfg.depth else 0
        assert cfg.client is not None
        done = cfg.client.xlen(keys.EVENTS_STREAM)
        parts.append(f"{cfg.name} {n}p q{q} {done}/{len(cfg.submitted)}")
    return f"[{elapsed:5.0f}s {name:5} {rate:4.1f}/s] " + " | ".join(parts)


def drive(
    configs: list[Config],
    arrivals: list[float],
    phases: list[Phase],
    args: argparse.Namespace,
    cpu: list[float],
) -> tuple[float, float]:
    """Replay the trace against all configurations at once; returns (t0, end of measurement).

    ``cpu`` receives the machine's CPU busy percentage once a second during the trace.
    """
    psutil.cpu_percent(None)
    stop = threading.Event()
    t0 = time.time() + 1.0
    threads = [
        threading.Thread(target=submitter, args=(c, arrivals, t0, stop), daemon=True)
        for c in configs
    ]
    for t in threads:
        t.start()
    ours = [c for c in configs if c.autoscaled]
    actuators = {c.name: LocalActuator(c.client) for c in ours if c.client is not None}
    trace_end = t0 + phases[-1].end
    # Half an interval off the trace's phase boundaries: the burst meets the job at the
    # expected delay (interval / 2), neither the best nor the worst case.
    next_scale = t0 + args.interval / 2
    next_supervise = next_depth = next_print = 0.0
    try:
        while True:
            now = time.time()
            if now >= next_supervise:
                next_supervise = now + SUPERVISE_S
                for cfg in configs:
                    if cfg.sup is not None:
                        cfg.sup.step()
            for cfg in configs:
                sample_processes(cfg, now)
            if now >= next_depth:
                next_depth = now + 1.0
                for cfg in configs:
                    cfg.depth.append((now, cfg.queue_depth()))
                if now <= trace_end:
                    cpu.append(psutil.cpu_percent(None))
            if now >= next_scale:
                next_scale += args.interval
                for cfg in ours:
                    autoscale(cfg, actuators[cfg.name], now)
            if now >= next_print and now >= t0:
                next_print = now + PROGRESS_S
                print(progress_line(configs, now - t0, phases, args.base_rate), flush=True)
            if now >= trace_end and all(not t.is_alive() for t in threads):
                done = all(
                    c.client is not None
                    and c.client.xlen(keys.EVENTS_STREAM) >= len(c.submitted)
                    and c.queue_depth() == 0
                    for c in configs
                )
                if done or now >= trace_end + DRAIN_MAX_S:
                    print(progress_line(configs, now - t0, phases, args.base_rate), flush=True)
                    return t0, now
            time.sleep(max(0.0, TICK_S - (time.time() - now)))
    finally:
        stop.set()


# -- measurements ------------------------------------------------------------------------------
def percentile(values: list[float], q: float) -> float | None:
    """Linear-interpolated percentile (q in 0..100); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    lo, hi = math.floor(pos), math.ceil(pos)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def integrate(series: list[tuple[float, int]], start: float, end: float) -> float:
    """Area under a step function sampled as (time, value) pairs, over [start, end]."""
    total = 0.0
    for (t, v), (t_next, _) in zip(series, [*series[1:], (end, 0)], strict=True):
        lo, hi = max(t, start), min(t_next, end)
        if hi > lo:
            total += v * (hi - lo)
    return total


def read_events(client: redis.Redis) -> list[dict[str, str]]:
    return [fields for _, fields in client.xrange(keys.EVENTS_STREAM, "-", "+")]


def pending_ids(client: redis.Redis) -> set[str]:
    """Task ids still queued (or unacked) after every worker stopped."""
    raw = []
    for key in keys.priority_queue_keys(QUEUE):
        raw += client.lrange(key, 0, -1)
    for value in client.hvals(KOMBU_UNACKED):
        try:
            raw.append(json.dumps(json.loads(value)[0]))
        except (ValueError, IndexError, TypeError):
            continue
    ids = set()
    for message in raw:
        try:
            ids.add(str(json.loads(message)["headers"]["id"]))
        except (ValueError, KeyError, TypeError):
            continue
    return ids


def scaling_actions(cfg: Config) -> list[tuple[float, str]]:
    """(time, up|down) of each scaling action.

    Ours: each applied decision that changed the size. Celery: each change of its sampled
    pool-process count (steps within one sample merge). Static: none by construction.
    """
    if cfg.autoscaled:
        return [
            (d["t"], d["direction"]) for d in cfg.decisions
            if d["applied"] and d["direction"] in ("up", "down")
        ]  # fmt: skip
    if cfg.celery_autoscale:
        out, last = [], None
        for t, n in cfg.procs:
            if last is not None and n != last:
                out.append((t, "up" if n > last else "down"))
            last = n
        return out
    return []


def direction_changes(actions: list[tuple[float, str]]) -> list[float]:
    return [t for (t, d), (_, prev) in zip(actions[1:], actions, strict=False) if d != prev]


def max_in_window(times: list[float], window: float) -> int:
    best = 0
    for i, start in enumerate(times):
        best = max(best, sum(1 for t in times[i:] if t - start <= window))
    return best


def reaction(cfg: Config, events: list[dict[str, str]], burst_at: float) -> dict[str, Any]:
    """Burst start → first order, first new process, first task started on a new process."""
    out: dict[str, Any] = {"decision_s": None, "spawn_s": None, "consuming_s": None,
                           "boot_s": []}  # fmt: skip
    if cfg.autoscaled:
        ups = [d["t"] for d in cfg.decisions if d["applied"] and d["direction"] == "up"]
        later = [t for t in ups if t >= burst_at]
        out["decision_s"] = later[0] - burst_at if later else None
    new = [(t, name) for t, name, _ in cfg.spawns if t >= burst_at]
    if not new:
        return out
    out["spawn_s"] = new[0][0] - burst_at
    if cfg.celery_autoscale:
        # A forked pool child takes the reserved message at once: spawning is consuming.
        out["consuming_s"] = out["spawn_s"]
        return out
    starts: dict[str, list[float]] = {}
    for ev in events:
        start = float(ev["finished_at"]) - float(ev["run_ms"]) / 1000
        starts.setdefault(ev["instance"].split("@", 1)[0], []).append(start)
    # The supervisor never runs two processes under one name, so a task started under the
    # name after the spawn ran on the new process.
    firsts = []
    for spawned, name in new:
        after = [s for s in starts.get(name, []) if s >= spawned]
        if after:
            out["boot_s"].append(round(min(after) - spawned, 3))
            firsts.append(min(after))
    out["consuming_s"] = min(firsts) - burst_at if firsts else None
    return out


def measure(
    cfg: Config,
    t0: float,
    end: float,
    phases: list[Phase],
    stabilization: float,
) -> dict[str, Any]:
    """Every figure of one configuration; call after its workers stopped."""
    assert cfg.client is not None
    events = read_events(cfg.client)
    per_task = Counter(ev["task_id"] for ev in events)
    submitted = {tid: at for tid, at in cfg.submitted}
    waiting = pending_ids(cfg.client) & (set(submitted) - set(per_task))
    lost = set(submitted) - set(per_task) - waiting
    first = {}
    for ev in events:
        first.setdefault(ev["task_id"], ev)
    waits = {tid: float(ev["queue_wait_ms"]) / 1000 for tid, ev in first.items()}
    # Unfinished tasks waited at least until the end: their waits are lower bounds.
    waits.update({tid: end - submitted[tid] for tid in waiting})
    trace_end = t0 + phases[-1].end
    by_phase: dict[str, float | None] = {}
    ws_by_phase: dict[str, float] = {}
    for p in phases:
        label = f"{p.name}@{p.start:.0f}s"
        ws_by_phase[label] = round(integrate(cfg.procs, t0 + p.start, t0 + p.end), 1)
        values = [
            w for tid, w in waits.items() if t0 + p.start <= submitted.get(tid, -1) < t0 + p.end
        ]
        by_phase[label] = percentile(values, 95)
    actions = scaling_actions(cfg)
    changes = direction_changes(actions)
    burst = next(p for p in phases if p.name == "burst")
    counts = [n for t, n in cfg.procs if t0 <= t <= trace_end]
    values = list(waits.values())
    return {
        "label": cfg.label,
        "policy": cfg.scaling,
        "submitted": len(submitted),
        "completed": len(per_task),
        "unfinished_at_end": len(waiting),
        "lost": len(lost),
        "duplicates": sum(n - 1 for n in per_task.values() if n > 1),
        "failed": sum(1 for ev in first.values() if ev.get("status") != "succeeded"),
        "submit_errors": cfg.submit_errors,
        "max_submit_lateness_s": round(cfg.max_lateness_s, 3),
        "worker_seconds": round(integrate(cfg.procs, t0, trace_end), 1),
        "mean_processes": round(sum(counts) / len(counts), 2) if counts else 0,
        "peak_processes": max(counts, default=0),
        "wait_p50_s": percentile(values, 50),
        "wait_p95_s": percentile(values, 95),
        "wait_p99_s": percentile(values, 99),
        "wait_max_s": max(values, default=None),
        "waits_are_lower_bounds": bool(waiting),
        "p95_wait_by_phase_s": by_phase,
        "worker_seconds_by_phase": ws_by_phase,
        "scaling_actions": len(actions),
        "scale_ups": sum(1 for _, d in actions if d == "up"),
        "scale_downs": sum(1 for _, d in actions if d == "down"),
        "direction_changes": len(changes),
        "max_direction_changes_per_window": max_in_window(changes, stabilization),
        "actions": [(round(t - t0, 2), d) for t, d in actions],
        "reaction": reaction(cfg, events, t0 + burst.start),
        "boot_times_recorded_by_job_s": [
            float(v) for v in cfg.client.lrange(keys.scale_boot_times(AGENT, POOL), 0, -1)
        ],
    }


# -- reporting ---------------------------------------------------------------------------------
def fmt_s(value: float | None, lower: bool = False) -> str:
    if value is None:
        return "—"
    return f"{'≥ ' if lower else ''}{value:.2f}"


def goals(results: dict[str, dict[str, Any]], args: argparse.Namespace) -> list[dict[str, Any]]:
    ours, smax = results["ours"], results["static-max"]
    react = ours["reaction"]
    boot = percentile(react["boot_s"], 50) if react["boot_s"] else None
    bound = args.interval + boot if boot is not None else None
    ratio = ours["worker_seconds"] / smax["worker_seconds"] if smax["worker_seconds"] else None
    consuming = react["consuming_s"]
    p95 = ours["wait_p95_s"]
    return [
        {"goal": f"p95 queue wait ≤ target ({GOAL_P95_WAIT_S:g} s)",
         "value": fmt_s(p95) + " s", "met": p95 is not None and p95 <= GOAL_P95_WAIT_S},
        {"goal": f"worker-seconds ≤ {GOAL_WS_RATIO} x static max",
         "value": f"{ratio:.2f} x" if ratio is not None else "—",
         "met": ratio is not None and ratio <= GOAL_WS_RATIO},
        {"goal": f"reaction ≤ interval + boot (here {fmt_s(bound)} s) and ≤ {GOAL_REACTION_S:g} s",
         "value": fmt_s(consuming) + " s",
         "met": consuming is not None and bound is not None
         and consuming <= bound and consuming <= GOAL_REACTION_S},
        {"goal": "0 tasks lost (and none run twice)",
         "value": f"{ours['lost']} lost, {ours['duplicates']} duplicates",
         "met": ours["lost"] == 0 and ours["duplicates"] == 0},
        {"goal": f"≤ 1 direction change per stabilization window ({args.stabilization:g} s)",
         "value": f"max {ours['max_direction_changes_per_window']} "
                  f"({ours['direction_changes']} in total)",
         "met": ours["max_direction_changes_per_window"] <= 1},
    ]  # fmt: skip


def timeline(
    configs: list[Config], t0: float, phases: list[Phase], base: float, step: float
) -> list[dict[str, Any]]:
    rows = []
    t = 0.0
    while t <= phases[-1].end + 1e-9:
        row: dict[str, Any] = {"t": round(t), "phase": phase_at(phases, t).name,
                               "rate": round(phase_at(phases, t).rate(t, base), 2)}  # fmt: skip
        for cfg in configs:
            procs = [n for at, n in cfg.procs if at <= t0 + t]
            depth = [n for at, n in cfg.depth if at <= t0 + t]
            row[cfg.name] = {"procs": procs[-1] if procs else 0, "queue": depth[-1] if depth else 0}
        rows.append(row)
        t += step
    return rows


def machine_note(cpu: list[float]) -> str:
    load = os.getloadavg()
    busy = f"{sum(cpu) / len(cpu):.0f} %" if cpu else "—"
    return (
        f"{psutil.cpu_count()} cores (shared with other jobs, noisy), "
        f"{psutil.virtual_memory().total / 2**30:.0f} GiB RAM, Python {platform.python_version()}; "
        f"CPU busy {busy} on average during the trace (everything on the machine), "
        f"load avg {load[0]:.1f} (1 min) / {load[1]:.1f} (5 min) at the end"
    )


def write_report(report: dict[str, Any]) -> None:
    REPORTS.mkdir(parents=True, exist_ok=True)
    (REPORTS / "autoscaling.json").write_text(json.dumps(report, indent=2) + "\n")
    res, p = report["results"], report["parameters"]
    names = list(res)
    burst_rate = 20 * p["base_rate"]
    busy = burst_rate * p["mean_ms"] / 1000
    lines = [
        "# Autoscaling: four ways of sizing one pool, side by side",
        "",
        f"Machine: {report['machine']}. All four configurations ran at the same time, so they "
        "competed for the same two cores; figures move between runs.",
        "",
        f"Trace (seed {p['seed']}): {report['trace']['description']}; "
        f"{report['trace']['tasks']} tasks, {report['trace']['duration_s']:.0f} s. "
        f"Service time: simulated provider, lognormal mean {p['mean_ms']:g} ms, spread "
        f"{p['spread_ms']:g} ms; one instance serves about {1000 / p['mean_ms']:.1f} tasks/s, "
        f"so the burst ({burst_rate:.1f}/s) needs ~{busy:.0f} busy instances and fits "
        f"{MAX_INSTANCES} at {busy / MAX_INSTANCES:.0%} utilization.",
        "",
        f"Ours: autoscale job every {p['interval']:g} s (production default 5 s), supervisor "
        f"reconcile every {SUPERVISE_S:g} s, policy `{json.dumps(res['ours']['policy'])}`. "
        "Celery: `--autoscale=8,1`, default keepalive (30 s) before shrinking.",
        "",
        "| | " + " | ".join(res[n]["label"] for n in names) + " |",
        "| --- | " + " | ".join("---:" for _ in names) + " |",
    ]  # fmt: skip

    def row(title: str, cell: Callable[[dict[str, Any]], str]) -> None:
        lines.append(f"| {title} | " + " | ".join(cell(res[n]) for n in names) + " |")

    smax = res["static-max"]["worker_seconds"]
    row("worker-seconds (trace)", lambda r: f"{r['worker_seconds']:.0f}")
    row("vs static max", lambda r: f"{r['worker_seconds'] / smax:.2f} x")
    row("mean / peak processes", lambda r: f"{r['mean_processes']:.1f} / {r['peak_processes']}")
    for q in ("p50", "p95", "p99"):
        row(
            f"{q} queue wait (s)",
            lambda r, q=q: fmt_s(r[f"wait_{q}_s"], r["waits_are_lower_bounds"]),
        )
    row("max queue wait (s)", lambda r: fmt_s(r["wait_max_s"], r["waits_are_lower_bounds"]))
    row("submitted / completed", lambda r: f"{r['submitted']} / {r['completed']}")
    row("unfinished at cutoff", lambda r: str(r["unfinished_at_end"]))
    row("lost / duplicates", lambda r: f"{r['lost']} / {r['duplicates']}")
    row(
        "scaling actions (up / down)",
        lambda r: f"{r['scaling_actions']} ({r['scale_ups']} / {r['scale_downs']})",
    )
    row(
        "direction changes (max per window)",
        lambda r: f"{r['direction_changes']} ({r['max_direction_changes_per_window']})",
    )
    row("reaction: first new process (s)", lambda r: fmt_s(r["reaction"]["spawn_s"]))
    row("reaction: first task on it (s)", lambda r: fmt_s(r["reaction"]["consuming_s"]))
    lines += ["", "By phase: p95 queue wait of the tasks submitted in it (s), and worker-seconds "
              "spent in it:", "",
              "| phase | " + " | ".join(f"{n} p95" for n in names) + " | "
              + " | ".join(f"{n} w-s" for n in names) + " |",
              "| --- | " + " | ".join("---:" for _ in names * 2) + " |"]  # fmt: skip
    for label in res["ours"]["p95_wait_by_phase_s"]:
        waits = [fmt_s(res[n]["p95_wait_by_phase_s"][label], res[n]["waits_are_lower_bounds"])
                 for n in names]  # fmt: skip
        spent = [f"{res[n]['worker_seconds_by_phase'][label]:.0f}" for n in names]
        lines.append(f"| {label} | " + " | ".join(waits + spent) + " |")
    react = res["ours"]["reaction"]
    lines += ["", "## Goals (ours)", "", "| goal | measured | met |", "| --- | --- | :---: |"]
    lines += [f"| {g['goal']} | {g['value']} | {'yes' if g['met'] else '**no**'} |"
              for g in report["goals"]]  # fmt: skip
    lines += ["", f"Reaction of ours: first scale-up decision {fmt_s(react['decision_s'])} s "
              f"after the burst began, first new process {fmt_s(react['spawn_s'])} s, first task "
              f"on a new process {fmt_s(react['consuming_s'])} s; boot (spawn → first task) of "
              f"the processes started after the burst: {react['boot_s']} s; boot times the "
              "autoscale job itself recorded (order → first heartbeat): "
              f"{res['ours']['boot_times_recorded_by_job_s']} s."]  # fmt: skip
    lines += ["", "## Timeline (processes p, queued q, sampled every "
              f"{report['timeline_step_s']:g} s)", "",
              "| t (s) | phase | rate/s | " + " | ".join(names) + " |",
              "| ---: | --- | ---: | " + " | ".join("---:" for _ in names) + " |"]  # fmt: skip
    for r in report["timeline"]:
        cells = " | ".join(f"{r[n]['procs']}p q{r[n]['queue']}" for n in names)
        lines.append(f"| {r['t']} | {r['phase']} | {r['rate']:.1f} | {cells} |")
    lines += ["", "## Scaling decisions of ours that changed the size", ""]
    lines += [f"- {d['t']:.1f} s: {d['current']} → {d['desired']} ({d['direction']}): {d['reason']}"
              for d in report["ours_decisions"]]  # fmt: skip
    lines += ["", "## How it is measured", "", *[f"- {m}" for m in report["method"]], ""]
    (REPORTS / "autoscaling.md").write_text("\n".join(lines))


METHOD = [
    "Each configuration has its own redis-server, queue and workers; one submitter thread per "
    "configuration publishes the same seeded arrivals at the same wall-clock offsets.",
    "Worker-seconds integrate the number of live worker processes over the trace (sampled every "
    f"{TICK_S:g} s): supervised instances (one process each, threads pool, concurrency 1, "
    "draining ones included until they exit); for Celery's prefork worker its pool child "
    "processes (the consumer parent is not counted).",
    "Queue wait is the task event's queue_wait_ms (publish stamp → task start). Tasks still "
    "queued when everything stops are counted with the wait up to that moment, so their "
    "figures are lower bounds (marked ≥).",
    "Lost = submitted − distinct tasks with an event − tasks still in the queue after all "
    "workers stopped (warm shutdown returns reserved messages). Duplicates = extra events for "
    "one task id.",
    "Scaling actions: ours = applied decisions that changed the size; Celery = changes of its "
    "sampled pool size (steps closer than one sample merge). Direction changes = consecutive "
    "actions in opposite directions; 'per window' is the most within any stabilization window.",
    "Reaction = burst start → first process started after it (and → first task run by such a "
    "process). Celery's forked child takes its reserved message at once.",
]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seed", type=int, default=4)
    ap.add_argument("--base-rate", type=float, default=0.6, help="tasks/s outside bursts")
    ap.add_argument("--mean-ms", type=float, default=500.0)
    ap.add_argument("--spread-ms", type=float, default=500.0)
    ap.add_argument("--time-scale", type=float, default=1.0, help="stretch the trace phases")
    ap.add_argument("--interval", type=float, default=2.0, help="autoscale job period (s)")
    ap.add_argument("--target-latency", type=float, default=GOAL_P95_WAIT_S)
    ap.add_argument("--target-utilization", type=float, default=0.7)
    ap.add_argument("--max-step-up", type=int, default=MAX_INSTANCES)
    ap.add_argument("--max-step-down", type=int, default=2)
    ap.add_argument("--cooldown-up", type=float, default=10.0)
    ap.add_argument("--cooldown-down", type=float, default=10.0)
    ap.add_argument("--stabilization", type=float, default=30.0)
    ap.add_argument("--keep-dir", action="store_true", help="keep worker logs and print where")
    return ap.parse_args(argv)


def _terminate(signum: int, _frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    phases = build_phases(args.time_scale)
    arrivals = build_arrivals(phases, args.base_rate, args.seed)
    configs = configurations(args)
    started = time.time()
    cpu: list[float] = []
    print(f"trace: {len(arrivals)} tasks over {phases[-1].end:.0f} s; "
          f"configurations: {', '.join(c.name for c in configs)}", flush=True)  # fmt: skip
    tmp = Path(tempfile.mkdtemp(prefix="im-autoscaling-"))
    stopped = False
    try:
        for cfg in configs:
            start_config(cfg, tmp, args)
        wait_ready(configs)
        print(f"workers ready after {time.time() - started:.1f} s", flush=True)
        t0, end = drive(configs, arrivals, phases, args, cpu)
        print("stopping workers (warm shutdown)...", flush=True)
        stop_all(configs)
        stopped = True
        results = {c.name: measure(c, t0, end, phases, args.stabilization) for c in configs}
    finally:
        if not stopped:
            print("stopping every child process...", flush=True)
            stop_all(configs)
        stop_redis(configs)
        if args.keep_dir:
            print(f"worker logs kept under {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    step = 10.0 * args.time_scale
    ours = next(c for c in configs if c.autoscaled)
    report = {
        "machine": machine_note(cpu),
        "host": socket.gethostname(),
        "wall_s": round(time.time() - started, 1),
        "parameters": vars(args),
        "trace": {
            "description": "idle 20 s → burst 20x for 60 s → idle 60 s → ramp 1x→10x over 60 s "
            "→ idle 40 s (x base rate, durations x time-scale)",
            "tasks": len(arrivals),
            "duration_s": phases[-1].end,
            "phases": [vars(p) for p in phases],
        },
        "results": results,
        "timeline_step_s": step,
        "timeline": timeline(configs, t0, phases, args.base_rate, step),
        "ours_decisions": [
            {**d, "t": round(d["t"] - t0, 2)}
            for d in ours.decisions
            if d["applied"] and d["direction"] != "hold"
        ],
        "method": METHOD,
    }
    report["goals"] = goals(results, args)
    write_report(report)
    print(f"\nwrote {REPORTS / 'autoscaling.md'} ({report['wall_s']:.0f} s)")
    for g in report["goals"]:
        print(f"  {'met ' if g['met'] else 'MISS'}  {g['goal']}: {g['value']}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("interrupted; every child process was stopped", file=sys.stderr)
        sys.exit(130)
