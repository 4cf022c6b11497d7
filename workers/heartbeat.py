"""The instance heartbeat: every few seconds a hash in Redis with a TTL, plus a registry entry.

A missing hash means a dead instance: the router stops sending to it and the autoscaler stops
counting it within one TTL. Reading ``active`` and ``processed`` here is what status, routing
and scaling build on.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

import psutil
import redis

from workers import keys

log = logging.getLogger(__name__)


class InstanceState(StrEnum):
    ACTIVE = "active"
    DRAINING = "draining"


@dataclass
class InstanceStats:
    """Task counters of one worker process; updated from task signals in any thread."""

    ewma_alpha: float = 0.2
    active: int = 0
    processed: int = 0
    failed: int = 0
    ewma_latency_ms: float = 0.0
    #: Run time of every finished task, summed: the autoscaler divides its growth by the
    #: growth of ``processed + failed`` for the exact mean run time of recent tasks.
    run_ms_total: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def started(self) -> None:
        with self._lock:
            self.active += 1

    def finished(self, latency_ms: float, ok: bool) -> None:
        with self._lock:
            self.active = max(0, self.active - 1)
            self.processed += 1
            self.run_ms_total += latency_ms
            if not ok:
                self.failed += 1
            if self.ewma_latency_ms == 0.0:
                self.ewma_latency_ms = latency_ms
            else:
                a = self.ewma_alpha
                self.ewma_latency_ms = a * latency_ms + (1 - a) * self.ewma_latency_ms

    def snapshot(self) -> dict[str, float | int]:
        with self._lock:
            return {
                "active": self.active,
                "processed": self.processed,
                "failed": self.failed,
                "ewma_latency_ms": round(self.ewma_latency_ms, 3),
                "run_ms_total": round(self.run_ms_total, 3),
            }


BeatHook = Callable[[redis.Redis, dict[str, str]], None]


class Heartbeat(threading.Thread):
    """Background thread writing ``im:hb:<instance>`` every ``interval`` seconds."""

    def __init__(
        self,
        client: redis.Redis,
        instance: str,
        meta: dict[str, str],
        stats: InstanceStats,
        interval_s: float,
        ttl_s: float,
        hooks: list[BeatHook] | None = None,
    ) -> None:
        super().__init__(name=f"heartbeat-{instance}", daemon=True)
        self.client = client
        self.instance = instance
        self.meta = meta
        self.stats = stats
        self.interval_s = interval_s
        self.ttl_ms = int(ttl_s * 1000)
        self.hooks = hooks or []
        self.state = InstanceState.ACTIVE
        self.started_at = time.time()
        self._stopping = threading.Event()
        self._proc = psutil.Process()
        self._proc.cpu_percent(None)

    def run(self) -> None:
        while not self._stopping.is_set():
            try:
                self.beat()
            except Exception:  # a missed beat must never kill the worker
                log.warning("heartbeat of %s failed", self.instance, exc_info=True)
            self._stopping.wait(self.interval_s)

    def fields(self) -> dict[str, str]:
        proc = self._proc
        with proc.oneshot():
            values: dict[str, object] = {
                "instance": self.instance,
                "pid": os.getpid(),
                "host": socket.gethostname(),
                **self.meta,
                **self.stats.snapshot(),
                "cpu_percent": proc.cpu_percent(None),
                "rss_bytes": proc.memory_info().rss,
                "mem_percent": round(proc.memory_percent(), 3),
                "open_files": proc.num_fds(),
                "threads": proc.num_threads(),
            }
        values["load_avg"] = round(os.getloadavg()[0], 3)
        values["state"] = self.state.value
        values["started_at"] = self.started_at
        values["updated_at"] = time.time()
        return {k: str(v) for k, v in values.items()}

    def beat(self) -> dict[str, str]:
        data = self.fields()
        key = keys.heartbeat(self.instance)
        with self.client.pipeline(transaction=False) as pipe:
            pipe.hset(key, mapping=data)
            pipe.pexpire(key, self.ttl_ms)
            pipe.zadd(keys.INSTANCES, {self.instance: float(data["updated_at"])})
            pipe.execute()
        for hook in self.hooks:
            hook(self.client, data)
        return data

    def drain(self) -> None:
        """Announce draining at once (not at the next beat) so routers stop sending."""
        self.state = InstanceState.DRAINING
        try:
            self.beat()
        except redis.RedisError:
            log.warning("could not announce draining of %s", self.instance)

    def stop(self, remove: bool = True) -> None:
        self._stopping.set()
        if remove:
            try:
                self.client.delete(keys.heartbeat(self.instance))
                self.client.zrem(keys.INSTANCES, self.instance)
            except redis.RedisError:
                log.warning("could not remove heartbeat of %s", self.instance)
