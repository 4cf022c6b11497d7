"""How many instances the load asks for, read from the rates and from the backlog.

The rates (arrivals or completions per second times the mean run time) are the load a pool
carries: slots kept busy on average, which at the target utilization is the size it needs.
They are smoothed, so a single unlucky poll does not grow the pool, and they follow the end
of a burst within one interval, so the stabilization window starts counting at once.

The backlog (queued plus running) reacts before the rates do, but it is one noisy count: at
the target utilization messages queue behind busy slots all the time, and ``backlog ÷
(capacity × target utilization)`` reads three instances from one running task and one
queued, or eight from a cluster of five arrivals. So the queue sizes the pool only while it
threatens the latency target, that is while it alone would keep its newest message waiting
``QUEUE_WAIT_FRACTION`` of the target on the current slots, and then by what it means: the
freshest flow at the target utilization plus the instances that work the queue off within
the target latency. A burst that keeps coming shows in the next reading's flow, and the
decision's burst rule lets that reading through the up cooldown. Before any run time is
known, ``backlog ÷ (capacity × target utilization)`` stands in whenever a message waits.
Otherwise the backlog only holds the instances that have work in hand.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from scheduler.autoscale.signals import PoolSignals
from workers.settings import ScalingPolicy

#: Guard against float noise turning an exact quotient like 2.0000000001 into one more instance.
EPSILON = 1e-9
#: A load within this fraction of the current size keeps it (Kubernetes' HPA uses the same
#: 10 %), so a reading a hair past a whole number of instances orders nobody.
TOLERANCE = 0.1
#: The queue starts to size the pool when it alone would keep its newest message waiting
#: this fraction of the target latency; below it, queueing is the ordinary kind (one task
#: queued behind each busy slot of half-second tasks is a tenth of a 5 s target).
QUEUE_WAIT_FRACTION = 0.3


@dataclass(frozen=True, slots=True)
class Term:
    """What one reading of the load asks for, in instances, and why in plain words."""

    instances: int
    words: str


def ceil_instances(value: float) -> int:
    return max(0, math.ceil(value - EPSILON))


def size(load: float, current: int) -> int:
    """Instances for a load counted in instances; within the tolerance of ``current``, current."""
    if current > 0 and abs(load / current - 1) <= TOLERANCE:
        return current
    return ceil_instances(load)


def _agreed(window: float | None, last: float | None) -> float | None:
    if window is None or last is None:
        return window if last is None else last
    return min(window, last)


def steady_flow(signals: PoolSignals) -> float | None:
    """Tasks per second that both the rate window and the last interval agree on.

    The lower of the two, for arrivals and for completions: a spike in one interval does
    not raise it, and the first quiet interval after a burst lowers it. The higher of
    arrivals and completions, so a pool working off a queue keeps what it needs.
    """
    known = [
        rate
        for rate in (
            _agreed(signals.arrival_rate, signals.last_arrival_rate),
            _agreed(signals.completion_rate, signals.last_completion_rate),
        )
        if rate is not None
    ]
    return max(known) if known else None


def fresh_flow(signals: PoolSignals) -> float:
    """The highest rate seen, last interval included: what a queue that is forming gets."""
    rates = (
        signals.arrival_rate,
        signals.last_arrival_rate,
        signals.completion_rate,
        signals.last_completion_rate,
    )
    return max((r for r in rates if r is not None), default=0.0)


def _per_instance(signals: PoolSignals, policy: ScalingPolicy) -> str:
    return f"{signals.capacity_per_instance} tasks x {policy.target_utilization:.0%} per instance"


def by_rate(signals: PoolSignals, policy: ScalingPolicy, current: int) -> Term | None:
    """The steady flow times the mean run time at the target utilization; None while either
    is unknown."""
    flow = steady_flow(signals)
    service = signals.service_time_s
    if flow is None or not service:
        return None
    capacity = max(1, signals.capacity_per_instance)
    n = size(flow * service / (capacity * policy.target_utilization), current)
    words = f"{flow:.1f} tasks/s x {service:.2f} s each at {_per_instance(signals, policy)}"
    return Term(n, f"{words} needs {n}")


def by_backlog(
    signals: PoolSignals, policy: ScalingPolicy, current: int, *, settling: bool = False
) -> Term:
    """What the backlog asks for (see the module notes). ``settling`` (a scale-in less than
    a stabilization window ago) leaves only the running work: a queue alone does not
    reverse a scale-in, the rates and the latency target still can."""
    capacity = max(1, signals.capacity_per_instance)
    running = Term(
        ceil_instances(signals.active / capacity), f"{signals.active} running at {capacity} each"
    )
    waiting = signals.queue_depth + signals.reserved
    if waiting == 0:
        return running
    if settling:
        return Term(running.instances, f"{running.words}; the queue waits out a recent scale-in")
    service = signals.service_time_s
    if not service:
        n = size(signals.backlog / (capacity * policy.target_utilization), current)
        return Term(n, f"backlog {signals.backlog} at {_per_instance(signals, policy)} needs {n}")
    target = policy.target_queue_latency_s
    if waiting * service / (max(current, 1) * capacity) < QUEUE_WAIT_FRACTION * target:
        return running
    flow = fresh_flow(signals)
    load = (flow * service / policy.target_utilization + waiting * service / target) / capacity
    n = size(load, current)
    return Term(
        n,
        f"{flow:.1f} tasks/s x {service:.2f} s at {policy.target_utilization:.0%} plus "
        f"{waiting} queued worked off within {target:g} s needs {n}",
    )
