"""The autoscale job: for every pool read signals, decide, carry out, record.

Run by the beat every ``autoscale_interval_s`` on the maintenance queue. Safe to run twice:
a Redis lock keeps concurrent runs apart and a run that comes within half an interval of
the last one (a duplicate beat, a second maintenance worker) skips, so each interval gets
one decision per pool. Safe to kill: nothing is half-written that the next run relies on.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import redis
from pymongo.database import Database

from scheduler.autoscale import history
from scheduler.autoscale.actuators.base import Actuator
from scheduler.autoscale.decision import Decision, Direction, decide
from scheduler.autoscale.policy import effective_policy, record_boot_time
from scheduler.autoscale.signals import PoolSignals, read_signals
from workers import keys
from workers.budget_guard import hard_budget_block
from workers.errors import InfraMindError
from workers.keys import pool_id
from workers.lock import RedisLock
from workers.rate_limits import Buckets, RateLimiter
from workers.settings import Settings

log = logging.getLogger(__name__)

#: A run within this fraction of an interval after the previous one is a duplicate beat.
DUPLICATE_FRACTION = 0.5
#: The lock outlives any normal run (a few Redis reads per pool plus actuator calls) but
#: frees itself quickly if a worker dies holding it.
MIN_LOCK_TTL_S = 30.0
#: An instance starting longer than this after a scale-up is not counted as booted by it.
BOOT_MEASURE_MAX_S = 120.0
#: The last-run mark expires so a long-stopped autoscaler leaves nothing behind.
LAST_RUN_TTL_S = 3600

BudgetCheck = Callable[[str], bool]
RateCheck = Callable[[str], str]
#: A rate limit this full refuses growth: new instances would only queue for it.
RATE_LIMIT_FULL = 0.95


def hard_budget_check(client: redis.Redis, settings: Settings, now: float) -> BudgetCheck:
    """The default budget check: an agent type whose hard budget is used up may not grow."""

    def blocked(agent_type: str) -> bool:
        return hard_budget_block(client, settings, agent_type, now=now) is not None

    return blocked


def rate_limit_check(client: redis.Redis, settings: Settings) -> RateCheck:
    """Why an agent type's provider rate limit refuses growth ("" when it does not)."""
    limiter: RateLimiter | None = None

    def full(agent_type: str) -> str:
        nonlocal limiter
        buckets = Buckets.of(settings.agent(agent_type))
        if buckets is None:
            return ""
        limiter = limiter or RateLimiter(client)
        share = limiter.used_share(buckets)
        if share < RATE_LIMIT_FULL:
            return ""
        return f"rate limit of {buckets.group} is {share:.0%} used"

    return full


def measure_boot_times(
    client: redis.Redis, signals: PoolSignals, past: list[Decision]
) -> list[float]:
    """Record how long new instances took from the scale-up that ordered them to their first
    heartbeat; ``scale set`` refuses an up cooldown shorter than the median of these."""
    ups = [d.at for d in past if d.applied and d.direction == Direction.UP]
    measured = []
    for started in signals.new_instance_starts:
        orders = [at for at in ups if at <= started]
        if orders and started - max(orders) <= BOOT_MEASURE_MAX_S:
            seconds = started - max(orders)
            record_boot_time(client, signals.agent_type, signals.pool, seconds)
            measured.append(seconds)
    return measured


def decide_pool(
    client: redis.Redis,
    settings: Settings,
    agent_type: str,
    pool: str,
    now: float,
    actuator: Actuator,
    budget_blocked: BudgetCheck | None = None,
    rate_limited: RateCheck | None = None,
) -> Decision:
    """One pool's decision, carried out when it changes the size (or none was set yet)."""
    policy = effective_policy(client, settings, agent_type, pool)
    signals = read_signals(client, agent_type, pool, settings, now)
    past = history.recent(client, agent_type, pool)
    measure_boot_times(client, signals, past)
    held = actuator.current(agent_type, pool)
    current = held if held is not None else signals.instances
    decision = decide(
        signals,
        policy,
        past,
        now,
        current=current,
        budget_blocked=budget_blocked(agent_type) if budget_blocked else False,
        rate_limited=rate_limited(agent_type) if rate_limited else "",
    )
    if decision.desired == current and held is not None:
        return decision
    try:
        actuator.apply(agent_type, pool, decision.desired)
    except InfraMindError as exc:
        log.warning("autoscale %s.%s: actuator failed: %s", agent_type, pool, exc)
        return replace(decision, error=str(exc))
    return replace(decision, applied=True)


def summary(decision: Decision) -> dict[str, Any]:
    """A decision without its inputs, small enough for a task result."""
    return {
        "pool": pool_id(decision.agent_type, decision.pool),
        "current": decision.current,
        "desired": decision.desired,
        "actual": decision.actual,
        "direction": str(decision.direction),
        "reason": decision.reason,
        "applied": decision.applied,
        "error": decision.error,
    }


def run_job(
    client: redis.Redis,
    settings: Settings,
    mongo_db: Database[Any] | None = None,
    *,
    now: float | None = None,
    actuator: Actuator,
    budget_blocked: BudgetCheck | None = None,
    min_gap_s: float | None = None,
) -> dict[str, Any]:
    """Decide every configured pool once; returns what was decided or why the run skipped.

    ``budget_blocked(agent_type)`` says whether a type's budget refuses growth (default: its
    hard budget is used up, :func:`hard_budget_check`). ``min_gap_s``
    overrides the duplicate-beat gap (half the interval). A pool whose policy, signals or
    actuator fails is reported under ``errors`` and the others still run.
    """
    now = time.time() if now is None else now
    gap = settings.autoscale_interval_s * DUPLICATE_FRACTION if min_gap_s is None else min_gap_s
    ttl_ms = int(max(MIN_LOCK_TTL_S, 2 * settings.autoscale_interval_s) * 1000)
    result: dict[str, Any] = {"at": now, "skipped": None, "decisions": [], "errors": {}}
    with RedisLock(client, keys.SCALE_LOCK, ttl_ms) as lock:
        if not lock.acquired:
            result["skipped"] = "another autoscale run holds the lock"
            return result
        last = client.get(keys.SCALE_LAST_RUN)
        if last is not None and 0 <= now - float(last) < gap:
            result["skipped"] = f"already decided {now - float(last):.1f} s ago"
            return result
        decisions: list[Decision] = []
        if budget_blocked is None:
            budget_blocked = hard_budget_check(client, settings, now)
        rate_limited = rate_limit_check(client, settings)
        for agent, pool in settings.pools():
            try:
                decisions.append(
                    decide_pool(
                        client, settings, agent.name, pool, now, actuator, budget_blocked,
                        rate_limited,
                    )
                )  # fmt: skip
            except InfraMindError as exc:
                log.warning("autoscale %s.%s: %s", agent.name, pool, exc)
                result["errors"][pool_id(agent.name, pool)] = str(exc)
        history.record(client, decisions, mongo_db)
        client.set(keys.SCALE_LAST_RUN, repr(now), ex=LAST_RUN_TTL_S)
        result["decisions"] = [summary(d) for d in decisions]
    return result


def run_scheduled(
    client: redis.Redis,
    settings: Settings,
    mongo_db: Database[Any] | None = None,
    *,
    now: float | None = None,
) -> dict[str, Any]:
    """The beat's entry point: :func:`run_job` with the actuator named in the settings."""
    from scheduler.autoscale.actuators import make_actuator

    options: dict[str, Any] = {}
    if settings.autoscale_actuator == "kubernetes":
        options["name_pattern"] = settings.kubernetes_deployment_pattern
        if settings.kubernetes_namespace:
            options["namespace"] = settings.kubernetes_namespace
    actuator = make_actuator(settings.autoscale_actuator, client, settings, **options)
    return run_job(client, settings, mongo_db, now=now, actuator=actuator)
