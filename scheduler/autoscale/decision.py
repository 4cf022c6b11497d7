"""The scaling decision: a pure function of a pool's signals, its policy and recent history.

Asymmetric on purpose (as Kubernetes' HPA behaviour): growing is urgent and cheap to undo,
shrinking is neither. Up: at once, in proportional jumps of at most ``max_step_up``, then a
cooldown so the new capacity can boot before it is judged, cut short when the load alone
asks for twice the size (or the maximum) or every ordered instance already runs. Down: only
when every recommendation in the stabilization window allows it, by at most
``max_step_down`` (an idle pool goes straight to the window's highest recommendation), never
below the busy instances, never on stale or incomplete signals, never under CPU or memory
pressure, and not within the down cooldown of the last change. For one window after a
scale-in the queue alone does not reverse it: a scale-up then needs the rates or the latency
target (see :mod:`scheduler.autoscale.load`), which keeps direction changes to about one per
window.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

from scheduler.autoscale.recommendation import Recommendation, recommend
from scheduler.autoscale.signals import PoolSignals
from workers.settings import ScalingPolicy

__all__ = ["Decision", "Direction", "Recommendation", "decide", "recommend"]

#: A load at least this many times the current size (or the maximum) skips what is left of
#: the up cooldown: a burst the last step cannot cover, not noise.
BURST_FACTOR = 2


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


def _cooldown_left(
    history: Sequence[Decision], now: float, cooldown_s: float, directions: set[Direction]
) -> float:
    changes = [d.at for d in history if d.applied and d.direction in directions and d.at <= now]
    return cooldown_s - (now - max(changes)) if changes else 0.0


def _cooldown_skip(
    signals: PoolSignals, policy: ScalingPolicy, rec: Recommendation, current: int
) -> str | None:
    """Why the rest of the up cooldown need not be waited out, or None.

    Only the load counts: the age of the oldest message falls only once the backlog is
    worked off, so a latency-driven step always lets the last one take effect first.
    """
    if rec.by_load > current and rec.by_load >= BURST_FACTOR * current:
        return f"load asks for {rec.by_load}, at least {BURST_FACTOR}x the current {current}"
    if rec.by_load > current and rec.by_load >= policy.max:
        return f"load asks for {rec.by_load}, the maximum of {policy.max} or more"
    if rec.by_load > current and signals.instances >= current:
        return f"all {current} ordered instance(s) are running and the load asks for more"
    return None


def _scale_up(
    signals: PoolSignals,
    policy: ScalingPolicy,
    rec: Recommendation,
    history: Sequence[Decision],
    now: float,
    current: int,
    budget_blocked: bool,
    rate_limited: str = "",
) -> tuple[int, str]:
    if budget_blocked:
        return current, f"budget exhausted: scale-up to {rec.value} refused ({rec.why})"
    if rate_limited:
        return current, f"{rate_limited}: scale-up to {rec.value} refused ({rec.why})"
    notes = [rec.why]
    left = _cooldown_left(history, now, policy.cooldown_up_s, {Direction.UP})
    if left > 0:
        skip = _cooldown_skip(signals, policy, rec, current)
        if skip is None:
            return current, f"scale-up to {rec.value} waits {left:.0f} s of cooldown ({rec.why})"
        notes.append(f"cooldown cut short: {skip}")
    desired = min(rec.value, current + policy.max_step_up)
    if desired < rec.value:
        notes.append(f"step limit {policy.max_step_up}")
    return desired, "; ".join(notes)


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
    # An idle pool has nothing to settle after a scale-in and no work to move, so it goes
    # straight to what the window allows; only a scale-up's cooldown still applies.
    idle = signals.queue_depth + signals.reserved == 0 and signals.busy == 0
    after = {Direction.UP} if idle else {Direction.UP, Direction.DOWN}
    left = _cooldown_left(history, now, policy.cooldown_down_s, after)
    if left > 0:
        return current, f"scale-in to {high} waits {left:.0f} s of cooldown"
    step = current if idle else policy.max_step_down
    desired = max(high, current - step, signals.busy, rec.floor)
    if desired >= current:
        return current, f"scale-in refused: {signals.busy} instance(s) busy"
    notes = [rec.why, f"no higher recommendation in {policy.stabilization_s:g} s"]
    if idle:
        notes.append("idle, so without step limit")
    elif desired > high:
        notes.append(f"step limit {policy.max_step_down}, {signals.busy} busy")
    return desired, "; ".join(notes)


def _settling(history: Sequence[Decision], policy: ScalingPolicy, now: float) -> bool:
    """Whether the last change was a scale-in less than a stabilization window ago."""
    changes = [d for d in history if d.applied and d.direction != Direction.HOLD and d.at <= now]
    last = max(changes, key=lambda d: d.at, default=None)
    return (
        last is not None
        and last.direction == Direction.DOWN
        and now - last.at <= policy.stabilization_s
    )


def decide(
    signals: PoolSignals,
    policy: ScalingPolicy,
    history: Sequence[Decision],
    now: float,
    *,
    current: int,
    budget_blocked: bool = False,
    rate_limited: str = "",
) -> Decision:
    """Decide the size of one pool. ``history`` is this pool's recent decisions, any order.

    ``current`` is the size the actuator holds now. ``budget_blocked`` refuses any growth
    except back up to the minimum, and so does ``rate_limited`` (why the provider's rate
    limit is full: more instances would only wait for it). Raises ``ConfigError`` for a
    malformed time-of-day range.
    """
    history = [d for d in history if (d.agent_type, d.pool) == (signals.agent_type, signals.pool)]
    rec = recommend(signals, policy, now, current=current, settling=_settling(history, policy, now))
    if current > policy.max:
        desired, reason = policy.max, f"above the maximum of {policy.max}"
    elif current < rec.floor:
        desired, reason = rec.floor, f"below the minimum of {rec.floor}"
    elif rec.value > current:
        desired, reason = _scale_up(
            signals, policy, rec, history, now, current, budget_blocked, rate_limited
        )
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
        "by_rate": rec.by_rate,
        "by_latency": rec.by_latency,
        "by_trend": rec.by_trend,
        "raw": rec.raw,
        "budget_blocked": budget_blocked,
        "rate_limited": rate_limited,
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
