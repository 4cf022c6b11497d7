"""The local actuator: spawns and stops real ``celery worker`` processes to match desired counts.

`infra-mind up` runs :meth:`Supervisor.run` in the foreground. Each pool gets the instance
count the autoscaler wrote to Redis (clamped to its policy), else its minimum. Crashed
processes come back with a backoff; a stop is a warm shutdown (the worker finishes what it
runs, unacked messages go back to the queue) with a kill after the grace period. Children
get SIGTERM from the kernel if the supervisor itself dies, so nothing is left orphaned.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

import redis

from workers import defaults, keys
from workers.children import die_with_parent
from workers.routing import instance_queue
from workers.settings import AgentType, Settings

log = logging.getLogger(__name__)


class ProcessKind(StrEnum):
    AGENT = "agent"
    MAINTENANCE = "maintenance"
    BEAT = "beat"
    FLOWER = "flower"
    API = "api"


@dataclass
class Managed:
    """One supervised process and its restart bookkeeping."""

    name: str
    kind: ProcessKind
    argv: list[str]
    log_path: Path
    agent_type: str = ""
    pool: str = ""
    index: int = 0
    proc: subprocess.Popen[bytes] | None = None
    crashes: int = 0
    next_start: float = 0.0
    stopping_since: float | None = None
    started_at: float = 0.0

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


def celery_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "celery", *args]


@dataclass
class Supervisor:
    """Keeps the worker processes of every pool at their desired counts."""

    settings: Settings
    redis_url: str
    log_dir: Path
    with_maintenance: bool = True
    with_beat: bool = True
    with_flower: bool = True
    flower_auth: str = ""
    with_api: bool = False
    api_token: str = ""
    extra_env: dict[str, str] = field(default_factory=dict)
    clock: Callable[[], float] = time.monotonic
    managed: dict[str, Managed] = field(default_factory=dict)
    _client: redis.Redis | None = None
    _stopped: threading.Event = field(default_factory=threading.Event)

    @property
    def client(self) -> redis.Redis:
        if self._client is None:
            self._client = redis.Redis.from_url(self.redis_url, decode_responses=True)
        return self._client

    # -- what should run ---------------------------------------------------------------
    def desired(self, agent: AgentType, pool: str) -> int:
        """The autoscaler's count for a pool, clamped to its policy (runtime overrides
        included); the policy minimum when the autoscaler has not decided yet."""
        low, high = self.bounds(agent, pool)
        try:
            raw = self.client.get(keys.desired_instances(agent.name, pool))
        except redis.RedisError:
            raw = None
        want = int(raw) if raw is not None and str(raw).lstrip("-").isdigit() else low
        return max(low, min(high, want))

    def bounds(self, agent: AgentType, pool: str) -> tuple[int, int]:
        policy = agent.policy(pool)
        low, high = policy.min, policy.max
        try:
            raw = self.client.get(keys.scale_policy_override(agent.name, pool))
            override = json.loads(raw) if raw else {}
        except (redis.RedisError, ValueError):
            override = {}
        if isinstance(override, dict):
            low = int(override.get("min", low))
            high = int(override.get("max", high))
        return low, max(low, high)

    def agent_spec(self, agent: AgentType, pool: str, index: int) -> Managed:
        name = keys.instance_name(agent.name, pool, index, "%h")
        cfg = agent.pools[pool]
        queues = [keys.pool_queue(agent.name, pool)]
        if agent.dispatch == "instance":
            # Celery expands %h in the node name only; the direct queue needs the real host.
            host = socket.gethostname()
            queues.append(instance_queue(keys.instance_name(agent.name, pool, index, host)))
        argv = celery_argv(
            "-A", "workers.app", "worker",
            "-n", name,
            "-Q", ",".join(queues),
            "-P", self.settings.worker_pool,
            "-c", str(cfg.concurrency),
            "-l", self.settings.log_level,
            "--without-gossip", "--without-mingle", "-E",
        )  # fmt: skip
        return Managed(
            name=name.split("@")[0],
            kind=ProcessKind.AGENT,
            argv=argv,
            log_path=self.log_dir / f"{name.split('@')[0]}.log",
            agent_type=agent.name,
            pool=pool,
            index=index,
        )

    def service_specs(self) -> list[Managed]:
        specs = []
        level = self.settings.log_level
        if self.with_maintenance:
            argv = celery_argv(
                "-A", "workers.app", "worker", "-n", "maintenance.1@%h",
                "-Q", keys.MAINTENANCE_QUEUE, "-P", "threads", "-c", "2", "-l", level,
                "--without-gossip", "--without-mingle", "-E",
            )  # fmt: skip
            specs.append(
                Managed(
                    "maintenance", ProcessKind.MAINTENANCE, argv, self.log_dir / "maintenance.log"
                )
            )
        if self.with_beat:
            schedule = self.settings.state_dir.resolve() / "beat-schedule"
            argv = celery_argv("-A", "scheduler.beat", "beat", "-s", str(schedule), "-l", level)
            specs.append(Managed("beat", ProcessKind.BEAT, argv, self.log_dir / "beat.log"))
        if self.with_flower:
            argv = celery_argv(
                "-A", "workers.app", "flower",
                f"--address={self.settings.flower_address}", f"--port={self.settings.flower_port}",
            )  # fmt: skip
            specs.append(Managed("flower", ProcessKind.FLOWER, argv, self.log_dir / "flower.log"))
        if self.with_api:
            argv = [sys.executable, "-m", "workers.api"]
            specs.append(Managed("api", ProcessKind.API, argv, self.log_dir / "api.log"))
        return specs

    # -- process control -----------------------------------------------------------------
    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(self.extra_env)
        env["REDIS_URL"] = self.redis_url
        env["INFRA_MIND_STATE_DIR"] = str(self.settings.state_dir.resolve())
        if self.flower_auth:
            env["FLOWER_BASIC_AUTH"] = self.flower_auth
        if self.api_token:
            env["INFRA_MIND_API_TOKEN"] = self.api_token
        return env

    def spawn(self, item: Managed) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        with open(item.log_path, "ab") as logfile:
            item.proc = subprocess.Popen(
                item.argv,
                stdin=subprocess.DEVNULL,
                stdout=logfile,
                stderr=subprocess.STDOUT,
                env=self.env(),
                start_new_session=True,
                preexec_fn=die_with_parent,
            )
        item.started_at = self.clock()
        item.stopping_since = None
        self.managed[item.name] = item
        log.info("started %s (pid %s)", item.name, item.proc.pid)

    def begin_stop(self, item: Managed) -> None:
        """Warm shutdown: the worker stops consuming, finishes running tasks, then exits."""
        if item.alive and item.stopping_since is None and item.proc is not None:
            item.proc.send_signal(signal.SIGTERM)
            item.stopping_since = self.clock()

    def _finish_stops(self) -> None:
        now = self.clock()
        for name, item in list(self.managed.items()):
            if item.stopping_since is None:
                continue
            if not item.alive:
                del self.managed[name]
            elif now - item.stopping_since > self.settings.shutdown_grace_s and item.proc:
                log.warning("%s did not stop in time; killing it", name)
                item.proc.kill()

    def _restart_crashed(self) -> None:
        now = self.clock()
        for item in self.managed.values():
            if item.stopping_since is not None or item.alive:
                continue
            if item.next_start == 0.0:
                item.crashes += 1
                delay = min(
                    defaults.RESTART_BACKOFF_MAX_S,
                    defaults.RESTART_BACKOFF_S * 2 ** (item.crashes - 1),
                )
                item.next_start = now + delay
                code = item.proc.returncode if item.proc else None
                log.warning("%s exited (%s); restarting in %.0f s", item.name, code, delay)
            elif now >= item.next_start:
                item.next_start = 0.0
                self.spawn(item)

    def _scale_pools(self) -> None:
        for agent, pool in self.settings.pools():
            running = sorted(
                (
                    m
                    for m in self.managed.values()
                    if m.kind is ProcessKind.AGENT
                    and m.agent_type == agent.name
                    and m.pool == pool
                    and m.stopping_since is None
                ),
                key=lambda m: m.index,
            )
            want = self.desired(agent, pool)
            if len(running) < want:
                used = {
                    m.index
                    for m in self.managed.values()
                    if m.agent_type == agent.name and m.pool == pool
                }
                index = 1
                for _ in range(want - len(running)):
                    while index in used:
                        index += 1
                    used.add(index)
                    self.spawn(self.agent_spec(agent, pool, index))
            elif len(running) > want:
                for item in self.pick_for_scale_in(running, len(running) - want):
                    self.begin_stop(item)

    def pick_for_scale_in(self, running: list[Managed], count: int) -> list[Managed]:
        """Idle instances first (from heartbeats), then the newest."""
        active: dict[str, int] = {}
        for item in running:
            try:
                node = keys.heartbeat(f"{item.name}@{socket.gethostname()}")
                active[item.name] = int(self.client.hget(node, "active") or 0)
            except (redis.RedisError, ValueError):
                active[item.name] = 0
        ranked = sorted(running, key=lambda m: (active[m.name], -m.index))
        return ranked[:count]

    def step(self) -> None:
        """One reconcile pass: finish stops, restart crashes, match desired counts."""
        self._finish_stops()
        self._restart_crashed()
        self._scale_pools()

    def start(self) -> None:
        for spec in self.service_specs():
            self.spawn(spec)
        self._scale_pools()

    def run(self, stop: threading.Event, interval_s: float = 1.0) -> None:
        """Reconcile every ``interval_s`` until ``stop`` is set, then stop everything."""
        self.start()
        try:
            while not stop.wait(interval_s):
                self.step()
        finally:
            self.stop_all()

    def stop_all(self) -> None:
        """Beat first (nothing new is scheduled), then everything else at once, warm.

        Stopping in parallel bounds the whole shutdown by one grace period.
        """
        if self._stopped.is_set():
            return
        self._stopped.set()
        beat = [m for m in self.managed.values() if m.kind is ProcessKind.BEAT]
        rest = [m for m in self.managed.values() if m.kind is not ProcessKind.BEAT]
        self._stop_group(beat, grace_s=5.0)
        self._stop_group(rest, grace_s=self.settings.shutdown_grace_s)
        self.managed.clear()
        if self._client is not None:
            self._client.close()

    def _stop_group(self, items: list[Managed], grace_s: float) -> None:
        for item in items:
            self.begin_stop(item)
        deadline = time.monotonic() + grace_s
        for item in items:
            if item.proc is None:
                continue
            try:
                item.proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("%s did not stop in time; killing it", item.name)
                item.proc.kill()
                item.proc.wait()

    def pids(self) -> list[int]:
        return [m.proc.pid for m in self.managed.values() if m.proc is not None]
