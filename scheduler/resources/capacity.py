"""Capacity planning (pure): when a pool hits its CPU, memory or backlog limit at the current
slope, how many instances the next hour needs, and what to do about it in plain words."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import pairwise

from scheduler.resources.samples import PoolSample
from scheduler.resources.trends import Direction, Trend, trend
from workers.settings import ScalingPolicy

HOUR_S = 3600.0
#: Slopes below these are noise, not a trend: CPU and memory in percentage points per hour,
#: backlog as a share of the pool's backlog limit per hour.
CPU_STABLE_PER_H = 2.0
MEMORY_STABLE_PER_H = 1.0
BACKLOG_STABLE_SHARE_PER_H = 0.05
#: A limit reached within this many hours is worth a recommendation.
ADVICE_HORIZON_H = 24.0


@dataclass(frozen=True)
class PoolPlan:
    pool: str
    name: str  # short display name: the agent type for its default pool
    instances: int
    cpu: Trend
    memory: Trend
    backlog: Trend
    throughput_per_s: float
    arrival_per_s: float
    backlog_limit: float | None
    hours_to_cpu: float | None
    hours_to_memory: float | None
    hours_to_backlog: float | None
    needed_next_hour: int | None
    advice: list[str] = field(default_factory=list)


def display_name(pool_id: str) -> str:
    agent_type, _, pool = pool_id.partition(".")
    return agent_type if pool == "default" else pool_id


def hours_to_limit(current: float | None, slope_per_h: float, limit: float) -> float | None:
    """Hours until ``current`` reaches ``limit`` at ``slope_per_h``: 0 if already there,
    None if it never will at this slope."""
    if current is None:
        return None
    if current >= limit:
        return 0.0
    if slope_per_h <= 0:
        return None
    return (limit - current) / slope_per_h


def rates(samples: Sequence[PoolSample]) -> list[tuple[float, float, float]]:
    """(time, throughput/s, arrivals/s) between consecutive samples.

    Throughput is the growth of the processed counters (a restart that lowers them counts
    as zero); arrivals are throughput plus the growth of the backlog.
    """
    out = []
    for prev, cur in pairwise(samples):
        dt = cur.ts - prev.ts
        if dt <= 0:
            continue
        done = max(0, cur.processed - prev.processed) / dt
        arrivals = max(0.0, done + (cur.backlog - prev.backlog) / dt)
        out.append((cur.ts, done, arrivals))
    return out


def instances_needed(
    arrival_per_s: float,
    service_s: float,
    concurrency: int,
    target_utilization: float,
    backlog: int = 0,
    horizon_s: float = HOUR_S,
) -> int:
    """Instances that serve ``arrival_per_s`` plus draining ``backlog`` within ``horizon_s``
    at ``target_utilization`` of their slots (Little's law: busy slots = rate × service)."""
    busy_slots = (arrival_per_s + backlog / horizon_s) * service_s
    return math.ceil(busy_slots / (concurrency * target_utilization) - 1e-9)


def plan_pool(samples: Sequence[PoolSample], policy: ScalingPolicy, concurrency: int) -> PoolPlan:
    """Trends, time to each limit and next hour's size of one pool from its recent samples."""
    samples = sorted(samples, key=lambda s: s.ts)
    last = samples[-1]
    with_instances = [s for s in samples if s.instances > 0]
    cpu = trend([(s.ts, s.cpu_percent) for s in with_instances], CPU_STABLE_PER_H)
    mem = trend([(s.ts, s.mem_percent) for s in with_instances], MEMORY_STABLE_PER_H)
    flow = rates(samples)
    throughput = flow[-1][1] if flow else 0.0
    arrival_trend = trend([(t, a) for t, _, a in flow], 0.0)
    arrivals = flow[-1][2] if flow else 0.0
    service_s = last.latency_ms / 1000 if last.latency_ms > 0 else None
    slots = last.capacity or concurrency * max(1, last.instances)
    limit = slots / service_s * policy.target_queue_latency_s if service_s else None
    backlog = trend(
        [(s.ts, float(s.backlog)) for s in samples],
        BACKLOG_STABLE_SHARE_PER_H * (limit or 1.0),
    )
    needed = None
    if service_s is not None:
        projected = max(0.0, arrivals + arrival_trend.slope_per_h)  # the rate an hour from now
        needed = max(
            policy.min,
            instances_needed(
                projected, service_s, concurrency, policy.target_utilization, last.backlog
            ),
        )
    plan = PoolPlan(
        pool=last.pool,
        name=display_name(last.pool),
        instances=last.instances,
        cpu=cpu,
        memory=mem,
        backlog=backlog,
        throughput_per_s=throughput,
        arrival_per_s=arrivals,
        backlog_limit=limit,
        hours_to_cpu=_when(cpu, policy.cpu_high),
        hours_to_memory=_when(mem, policy.memory_high),
        hours_to_backlog=_when(backlog, limit) if limit is not None else None,
        needed_next_hour=needed,
    )
    plan.advice.extend(advice(plan, policy))
    return plan


def _when(t: Trend, limit: float) -> float | None:
    if t.direction is not Direction.INCREASING and (t.last is None or t.last < limit):
        return None
    return hours_to_limit(t.last, t.slope_per_h, limit)


def _eta(hours: float) -> str:
    if hours <= 0:
        return "now"
    if hours < 1:
        return f"in ~{max(1, round(hours * 60))} min"
    return f"in ~{round(hours)} h"


def advice(plan: PoolPlan, policy: ScalingPolicy) -> list[str]:
    """Plain-words recommendations for one pool (empty when nothing needs attention)."""
    out = []
    for what, t, hours, limit in (
        ("memory", plan.memory, plan.hours_to_memory, policy.memory_high),
        ("CPU", plan.cpu, plan.hours_to_cpu, policy.cpu_high),
    ):
        if hours is None or hours > ADVICE_HORIZON_H:
            continue
        if hours == 0:
            out.append(f"{plan.name}: {what} at {t.last:.0f} %, at or above its {limit:.0f} % "
                       "limit; raise max or investigate")  # fmt: skip
        else:
            out.append(f"{plan.name}: {what} rising {t.slope_per_h:.0f} %/h, reaches "
                       f"{limit:.0f} % {_eta(hours)}; raise max or investigate")  # fmt: skip
    h = plan.hours_to_backlog
    if h is not None and h <= ADVICE_HORIZON_H and plan.backlog_limit is not None:
        out.append(
            f"{plan.name}: backlog {plan.backlog.last:.0f} growing "
            f"{plan.backlog.slope_per_h:.0f}/h, passes {plan.backlog_limit:.0f} (queue latency "
            f"over {policy.target_queue_latency_s:g} s) {_eta(h)}; raise max"
        )
    if plan.needed_next_hour is not None and plan.needed_next_hour > policy.max:
        out.append(
            f"{plan.name}: the next hour needs ~{plan.needed_next_hour} instances, above max "
            f"{policy.max}; raise max"
        )
    return out
