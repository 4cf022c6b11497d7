"""A simulated provider for the routing benchmark: per-task work, per-instance live speed.

The quality scenarios of ``benchmarks/routing_quality.py`` need (a) instances of different speed
inside one pool, and one instance that slows down mid-run (``PoolConfig.speed`` is per pool
and fixed at start), and (b) every configuration to replay the *same* tasks, so that the
difference between two configurations is the routing and not the dice.

So the service time of a task is drawn once from its prompt (lognormal with the agent type's
``latency`` mean and spread, seeded by a hash of the prompt: the same task costs the same
everywhere), then multiplied by the pool's ``speed`` and by the running instance's factor in
the hash :data:`SPEED_KEY` (field ``<type>.<pool>.<n>``; missing: 1), read at every call so a
change takes effect at the next task. Text and token counts come from the simulated provider.

Load it by dotted path: ``provider = "benchmarks.routing_speed:factory"`` (the repository
root must be importable by the workers).
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import random
import time

import redis

from workers import runtime
from workers.providers.base import Completion, CompletionRequest
from workers.providers.simulated import SimulatedProvider, lognormal_ms
from workers.settings import Settings

#: Hash of speed factors by instance name without the host (``bench.default.3`` -> ``4``).
SPEED_KEY = "im:bench:routing:speed"


def instance_key(instance: str) -> str:
    """The hash field of an instance: its name without ``@host``."""
    return instance.split("@", 1)[0]


def base_service_ms(prompt: str, mean_ms: float, spread_ms: float) -> float:
    """The task's own service time at speed 1: a lognormal draw seeded by the prompt."""
    seed = hashlib.sha256(prompt.encode()).digest()
    return lognormal_ms(mean_ms, spread_ms, random.Random(seed))


class InstanceSpeedProvider:
    """Sleeps the task's service time x pool speed x instance factor, then answers."""

    name = "simulated"

    def __init__(self, client: redis.Redis) -> None:
        self._text = SimulatedProvider(sleep=False)
        self._client = client

    def factor(self) -> float:
        rt = runtime.installed()
        if rt is None:
            return 1.0
        raw = self._client.hget(SPEED_KEY, instance_key(rt.instance))
        try:
            return float(raw) if raw is not None else 1.0
        except ValueError:
            return 1.0

    def complete(self, request: CompletionRequest) -> Completion:
        delay_ms = base_service_ms(request.prompt, request.latency_mean_ms,
                                   request.latency_spread_ms)  # fmt: skip
        time.sleep(delay_ms * request.speed * self.factor() / 1000.0)
        return self._text.complete(dataclasses.replace(request, latency_mean_ms=0.0))


def factory(settings: Settings) -> InstanceSpeedProvider:
    url = settings.redis_url or os.environ.get("REDIS_URL") or ""
    return InstanceSpeedProvider(redis.Redis.from_url(url, decode_responses=True))
