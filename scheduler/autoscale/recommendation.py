"""The size the signals ask for, before step limits, stabilization and cooldowns.

The stabilization window compares these recommendations, so each one records what every
signal asked for and, in plain words, which one drove it.
"""

from __future__ import annotations

from dataclasses import dataclass

from scheduler.autoscale import load
from scheduler.autoscale.load import ceil_instances
from scheduler.autoscale.policy import scheduled_min
from scheduler.autoscale.signals import PoolSignals
from workers.settings import ScalingPolicy

#: Capacity ordered now serves about one boot plus one up-cooldown later, so the trend
#: is projected that far ahead.
PREDICTION_HORIZON_S = 30.0


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
    by_rate: int | None = None

    @property
    def by_load(self) -> int:
        """What the load alone (backlog or rates, not the age of the oldest message) asks for."""
        return max(self.by_backlog, self.by_rate or 0)


def _driver(
    signals: PoolSignals,
    policy: ScalingPolicy,
    backlog: load.Term,
    rate: load.Term | None,
    latency: int | None,
    trend: int | None,
) -> str:
    """Plain words for the signal that asks for the most instances."""
    by_rate = rate.instances if rate is not None else 0
    if trend is not None and trend > max(backlog.instances, by_rate, latency or 0):
        return (
            f"backlog rising {signals.backlog_slope:.1f}/s; in {PREDICTION_HORIZON_S:g} s "
            f"it needs {trend}"
        )
    if latency is not None and latency >= max(backlog.instances, by_rate):
        return (
            f"oldest message waited {signals.oldest_age_s or 0:.1f} s "
            f"(target {policy.target_queue_latency_s:g} s): {latency} instance(s)"
        )
    if rate is not None and rate.instances > backlog.instances:
        return rate.words
    return backlog.words


def recommend(
    signals: PoolSignals,
    policy: ScalingPolicy,
    now: float,
    *,
    current: int,
    settling: bool = False,
) -> Recommendation:
    """desired = max(by latency, by load ÷ (capacity × target utilization)[, by trend]).

    By latency scales the current size by how far the oldest message is past its target,
    which gives proportional jumps. The load comes from the rates and, while the queue
    threatens the latency target, from the backlog (:mod:`scheduler.autoscale.load`);
    ``settling`` is true for a stabilization window after a scale-in. A pool at zero wakes
    when the queue reaches the activation threshold or a message has waited the target.
    """
    backlog = load.by_backlog(signals, policy, current, settling=settling)
    rate = load.by_rate(signals, policy, current)
    by_rate = rate.instances if rate is not None else None
    by_latency = None
    if signals.oldest_age_s is not None and signals.queue_depth > 0:
        by_latency = ceil_instances(
            max(current, 1) * signals.oldest_age_s / policy.target_queue_latency_s
        )
    by_trend = None
    slope = signals.backlog_slope
    if policy.predictive and slope is not None and slope > 0:
        projected = signals.backlog + slope * PREDICTION_HORIZON_S
        per_instance = max(1, signals.capacity_per_instance) * policy.target_utilization
        reactive = max(backlog.instances, by_rate or 0, by_latency or 0)
        by_trend = min(ceil_instances(projected / per_instance), reactive + policy.max_step_up)
    raw = max(backlog.instances, by_rate or 0, by_latency or 0, by_trend or 0)
    why = _driver(signals, policy, backlog, rate, by_latency, by_trend)
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
    return Recommendation(value, floor, raw, backlog.instances, by_latency, by_trend, why, by_rate)
