"""The scaling decision: a pure function of a pool's signals, its policy and recent history.

Asymmetric on purpose (as Kubernetes' HPA behaviour): growing is urgent and cheap to undo,
shrinking is neither. Up: at once, in proportional jumps of at most ``max_step_up``, then a
cooldown so the new capacity can boot before it is judged. Down: only when every
recommendation in the stabilization window allows it, by at most ``max_step_down``, never
below the busy instances, never on stale or incomplete signals, never under CPU or memory
pressure, and not within the down cooldown of the last change.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

from scheduler.autoscale.policy import scheduled_min
from scheduler.autoscale.signals import PoolSignals
from workers.settings import ScalingPolicy

#: Capacity ordered now serves about one boot plus one up-cooldown later, so the trend
#: is projected that far ahead.
PREDICTION_HORIZON_S = 30.0
#: Guard against float noise turning an exact quotient like 2.0000000001 into one more instance.
EPSILON = 1e-9


class Direction(StrEnum):
    UP = "up"
    DOWN = "down"
    HOLD = "hold"


@dataclass(frozen=True, slots=True)
class Decision:
    """One decision for one pool: what was seen, what is wanted, and why, in plain words.

    ``current`` is the size the actuator holds, ``actual`` the healthy instances seen in the
    heartbeats, ``recommendation`` the size the signals ask for before step limits,
    stabilization and cooldowns (the stabilization window compares these). ``applied`` and
    ``error`` are filled in by the job once the actuator has run.
    """

    agent_type: str
    pool: str
    at: float
    current: int
    desired: int
    actual: int
    recommendation: int
    direction: Direction
    reason: str
    inputs: dict[str, Any] = field(default_factory=dict)
    applied: bool = False
    error: str = ""

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["direction"] = str(self.direction)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Decision:
        known = set(cls.__dataclass_fields__)
        kwargs = {k: v for k, v in data.items() if k in known}
        kwargs["direction"] = Direction(kwargs["direction"])
        return cls(**kwargs)


@dataclass(frozen=True, slots=True)
class Recommendation:
    """The size the signals ask for, each signal's own answer, and which one drove it."""

    value: int
    floor: int
    raw: int
    by_backlog: int
    by_latency: int | None
    by_trend: int | None
    why: str


def _ceil(value: float) -> int:
    return max(0, math.ceil(value - EPSILON))


def _driver(signals: PoolSignals, policy: ScalingPolicy, by: dict[str, int | None]) -> str:
    """Plain words for the signal that asks for the most instances."""
    backlog, latency, trend = by["backlog"], by["latency"], by["trend"]
    if trend is not None and trend > max(backlog or 0, latency or 0):
        return (
            f"backlog rising {signals.backlog_slope:.1f}/s; in {PREDICTION_HORIZON_S:g} s "
            f"it needs {trend}"
        )
    if latency is not None and latency >= (backlog or 0) and signals.oldest_age_s is not None:
        return (
            f"oldest message waited {signals.oldest_age_s:.1f} s "
            f"(target {policy.target_queue_latency_s:g} s): {latency} instance(s)"
        )
    return (
        f"backlog {signals.backlog} at {signals.capacity_per_instance} tasks x "
        f"{policy.target_utilization:.0%} per instance needs {backlog}"
    )


def recommend(
    signals: PoolSignals, policy: ScalingPolicy, now: float, *, current: int
) -> Recommendation:
    """desired = max(by latency, by backlog ÷ (capacity × target utilization)[, by trend]).

    By latency scales the current size by how far the oldest message is past its target,
    which gives proportional jumps. A pool at zero wakes when the queue reaches the
    activation threshold or a message has waited the target latency.
    """
    per_instance = max(1, signals.capacity_per_instance) * policy.target_utilization
    by_backlog = _ceil(signals.backlog / per_instance)
    by_latency = None
    if signals.oldest_age_s is not None and signals.queue_depth > 0:
        by_latency = _ceil(max(current, 1) * signals.oldest_age_s / policy.target_queue_latency_s)
    by_trend = None
    slope = signals.backlog_slope
    if policy.predictive and slope is not None and slope > 0:
        projected = signals.backlog + slope * PREDICTION_HORIZON_S
        reactive = max(by_backlog, by_latency or 0)
        by_trend = min(_ceil(projected / per_instance), reactive + policy.max_step_up)
    raw = max(by_backlog, by_latency or 0, by_trend or 0)
    why = _driver(
        signals, policy, {"backlog": by_backlog, "latency": by_latency, "trend": by_trend}
    )
    floor = min(max(policy.min, scheduled_min(policy, now)), policy.max)
    if floor == 0 and current == 0:
        waking = signals.queue_depth >= policy.activation_queue_depth or (
            signals.oldest_age_s is not None
            and signals.oldest_age_s >= policy.target_queue_latency_s
        )
        if waking:
            raw, why = max(raw, 1), f"waking from zero: {why}"
        else:
            raw = 0
            why = (
                f"{signals.queue_depth} queued, below the activation threshold of "
                f"{policy.activation_queue_depth}"
            )
    value = min(max(raw, floor), policy.max)
    if raw > policy.max:
        why += f", capped at the maximum of {policy.max}"
    elif raw < floor:
        why += f", kept at the minimum of {floor}"
    return Recommendation(value, floor, raw, by_backlog, by_latency, by_trend, why)


def _cooldown_left(
    history: Sequence[Decision], now: float, cooldown_s: float, directions: set[Direction]
) -> float:
    changes = [d.at for d in history if d.applied and d.direction in directions and d.at <= now]
    return cooldown_s - (now - max(changes)) if changes else 0.0


def _scale_up(
    policy: ScalingPolicy,
    rec: Recommendation,
    history: Sequence[Decision],
    now: float,
    current: int,
    budget_blocked: bool,
) -> tuple[int, str]:
    if budget_blocked:
        return current, f"budget exhausted: scale-up to {rec.value} refused ({rec.why})"
    left = _cooldown_left(history, now, policy.cooldown_up_s, {Direction.UP})
    if left > 0:
        return current, f"scale-up to {rec.value} waits {left:.0f} s of cooldown ({rec.why})"
    desired = min(rec.value, current + policy.max_step_up)
    limit = f", step limit {policy.max_step_up}" if desired < rec.value else ""
    return desired, f"{rec.why}{limit}"


def _scale_down(
    signals: PoolSignals,
    policy: ScalingPolicy,
    rec: Recommendation,
    history: Sequence[Decision],
    now: float,
    current: int,
) -> tuple[int, str]:
    stale = signals.stale_reason(now)
    if stale is None and signals.instances + signals.draining == 0:
        stale = "no heartbeats from the pool"
    if stale is not None:
        return current, f"scale-in to {rec.value} refused: {stale}"
    for name, value, limit in (
        ("CPU", signals.cpu_percent, policy.cpu_high),
        ("memory", signals.memory_percent, policy.memory_high),
    ):
        if value is not None and value >= limit:
            return current, f"scale-in refused: {name} at {value:.0f} % (guard {limit:g} %)"
    window = [d.recommendation for d in history if 0 <= now - d.at <= policy.stabilization_s]
    high = max([rec.value, *window])
    if high >= current:
        return current, (
            f"stabilizing: highest recommendation in the last {policy.stabilization_s:g} s "
            f"is {high} ({rec.why})"
        )
    left = _cooldown_left(history, now, policy.cooldown_down_s, {Direction.UP, Direction.DOWN})
    if left > 0:
        return current, f"scale-in to {high} waits {left:.0f} s of cooldown"
    desired = max(high, current - policy.max_step_down, signals.busy, rec.floor)
    if desired >= current:
        return current, f"scale-in refused: {signals.busy} instance(s) busy"
    notes = [rec.why, f"no higher recommendation in {policy.stabilization_s:g} s"]
    if desired > high:
        notes.append(f"step limit {policy.max_step_down}, {signals.busy} busy")
    return desired, "; ".join(notes)


def decide(
    signals: PoolSignals,
    policy: ScalingPolicy,
    history: Sequence[Decision],
    now: float,
    *,
    current: int,
    budget_blocked: bool = False,
) -> Decision:
    """Decide the size of one pool. ``history`` is this pool's recent decisions, any order.

    ``current`` is the size the actuator holds now. ``budget_blocked`` refuses any growth
    except back up to the minimum. Raises ``ConfigError`` for a malformed time-of-day range.
    """
    history = [d for d in history if (d.agent_type, d.pool) == (signals.agent_type, signals.pool)]
    rec = recommend(signals, policy, now, current=current)
    if current > policy.max:
        desired, reason = policy.max, f"above the maximum of {policy.max}"
    elif current < rec.floor:
        desired, reason = rec.floor, f"below the minimum of {rec.floor}"
    elif rec.value > current:
        desired, reason = _scale_up(policy, rec, history, now, current, budget_blocked)
    elif rec.value < current:
        desired, reason = _scale_down(signals, policy, rec, history, now, current)
    else:
        limited = "holding at the maximum" if rec.raw > current else "at target"
        desired, reason = current, f"{limited}: {rec.why}"
    if desired > current:
        direction = Direction.UP
    elif desired < current:
        direction = Direction.DOWN
    else:
        direction = Direction.HOLD
    inputs = {
        "signals": signals.to_dict(),
        "policy": policy.model_dump(),
        "min_now": rec.floor,
        "by_backlog": rec.by_backlog,
        "by_latency": rec.by_latency,
        "by_trend": rec.by_trend,
        "raw": rec.raw,
        "budget_blocked": budget_blocked,
    }
    return Decision(
        agent_type=signals.agent_type,
        pool=signals.pool,
        at=now,
        current=current,
        desired=desired,
        actual=signals.instances,
        recommendation=rec.value,
        direction=direction,
        reason=reason,
        inputs=inputs,
    )
