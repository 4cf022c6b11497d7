"""``/metrics``: the pools' live figures, rate-limit use and the bill (month-to-date cost,
budgets) in the Prometheus text format.

A custom collector reads Redis at scrape time, so every API replica reports the same
cluster-wide numbers and nothing is kept in process.
"""

from __future__ import annotations

from collections.abc import Iterator

import redis
from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry

from workers import inspect
from workers.dotted import load
from workers.rate_limits import RateLimiter, used_shares
from workers.settings import Settings

router = APIRouter(tags=["metrics"])
#: Collectors of the scheduler's concerns by "module:class", built with (client, settings):
#: ``workers`` never imports ``scheduler`` at module level.
SCHEDULER_COLLECTORS: list[str] = ["scheduler.costs.metrics:CostCollector"]


class PoolCollector(Collector):
    """Gauges per pool from one ``pool_snapshots`` read."""

    def __init__(self, client: redis.Redis, settings: Settings) -> None:
        self.client = client
        self.settings = settings

    def collect(self) -> Iterator[Metric]:
        snaps = inspect.pool_snapshots(self.client, self.settings)
        labels = ["pool"]
        instances = GaugeMetricFamily(
            "infra_mind_instances", "Worker instances by state", labels=["pool", "state"]
        )
        depth = GaugeMetricFamily("infra_mind_queue_depth", "Messages waiting", labels=labels)
        age = GaugeMetricFamily(
            "infra_mind_queue_oldest_age_seconds",
            "Age of the oldest waiting message",
            labels=labels,
        )
        flight = GaugeMetricFamily(
            "infra_mind_tasks_in_flight", "Queued plus running tasks", labels=labels
        )
        processed = GaugeMetricFamily(
            "infra_mind_tasks_processed", "Tasks run by the live instances", labels=labels
        )
        latency = GaugeMetricFamily(
            "infra_mind_task_latency_seconds", "Mean of the instances' run-time EWMA", labels=labels
        )
        for s in snaps:
            pool = f"{s.agent_type}.{s.pool}"
            instances.add_metric([pool, "active"], s.healthy)
            instances.add_metric([pool, "draining"], s.draining)
            depth.add_metric([pool], s.depth)
            age.add_metric([pool], s.oldest_age_s or 0.0)
            flight.add_metric([pool], s.in_flight)
            processed.add_metric([pool], s.processed)
            if s.latency_ms is not None:
                latency.add_metric([pool], s.latency_ms / 1000)
        yield from (instances, depth, age, flight, processed, latency)


class RateLimitCollector(Collector):
    """Share used of each provider rate-limit group (the fuller of requests and tokens)."""

    def __init__(self, limiter: RateLimiter, settings: Settings) -> None:
        self.limiter = limiter
        self.settings = settings

    def collect(self) -> Iterator[Metric]:
        used = GaugeMetricFamily(
            "infra_mind_rate_limit_used_ratio", "Share of the rate limit in use", labels=["group"]
        )
        for name, share in used_shares(self.limiter, self.settings).items():
            used.add_metric([name], share)
        yield used


@router.get("/metrics", response_class=Response)
async def metrics(request: Request) -> Response:
    state = request.app.state
    registry = CollectorRegistry(auto_describe=False)
    registry.register(PoolCollector(state.redis, state.settings))
    limiter = getattr(state, "rate_limiter", None)
    if limiter is None:  # one connection pool for every scrape
        limiter = state.rate_limiter = RateLimiter(state.redis)
    registry.register(RateLimitCollector(limiter, state.settings))
    for target in SCHEDULER_COLLECTORS:
        registry.register(load(target)(state.redis, state.settings))
    body = await run_in_threadpool(generate_latest, registry)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
