"""Table tests of the pure scaling decision."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from scheduler.autoscale.decision import Decision, Direction, decide, recommend
from scheduler.autoscale.signals import PoolSignals
from workers.settings import ScalingPolicy

NOW = datetime(2024, 5, 6, 10, 0, tzinfo=UTC).timestamp()


def sig(**kw: Any) -> PoolSignals:
    """A fresh, complete reading of cto.default; capacity 4 per instance."""
    base: dict[str, Any] = {
        "agent_type": "cto",
        "pool": "default",
        "queue": "agent.cto.default",
        "timestamp": NOW,
        "capacity_per_instance": 4,
        "instances": 2,
        "heartbeat_age_s": 1.0,
        "max_age_s": 6.0,
    }
    base.update(kw)
    return PoolSignals(**base)


def policy(**kw: Any) -> ScalingPolicy:
    return ScalingPolicy(**{"min": 1, "max": 8, **kw})


def past(
    ago: float, recommendation: int, direction: Direction = Direction.HOLD, applied: bool = True
) -> Decision:
    return Decision(
        agent_type="cto",
        pool="default",
        at=NOW - ago,
        current=recommendation,
        desired=recommendation,
        actual=recommendation,
        recommendation=recommendation,
        direction=direction,
        reason="",
        applied=applied,
    )


# (name, signals, policy, history, current, budget_blocked, desired, direction, reason words)
CASES: list[tuple[str, PoolSignals, ScalingPolicy, list[Decision], int, bool, int, str, str]] = [
    (
        "latency drives a proportional jump",
        sig(queue_depth=3, oldest_age_s=15.0, active=2, busy=2),
        policy(),
        [],
        2,
        False,
        6,
        "up",
        "oldest message waited 15.0 s",
    ),
    (
        "utilization drives up when every slot is busy",
        sig(instances=3, queue_depth=2, oldest_age_s=1.0, active=12, busy=3, utilization=1.0),
        policy(),
        [],
        3,
        False,
        5,
        "up",
        "backlog 14",
    ),
    (
        "a jump is limited to max_step_up",
        sig(instances=1, queue_depth=100, oldest_age_s=2.0, active=4, busy=1),
        policy(max_step_up=3),
        [],
        1,
        False,
        4,
        "up",
        "step limit 3",
    ),
    (
        "the recommendation is capped at max",
        sig(instances=6, queue_depth=500, oldest_age_s=30.0, active=24, busy=6),
        policy(),
        [],
        6,
        False,
        8,
        "up",
        "capped at the maximum of 8",
    ),
    (
        "below the minimum goes straight to it",
        sig(instances=0),
        policy(min=3),
        [],
        0,
        False,
        3,
        "up",
        "below the minimum of 3",
    ),
    (
        "above the maximum goes straight down to it",
        sig(instances=10, active=10, busy=10),
        policy(max=6),
        [],
        10,
        False,
        6,
        "down",
        "above the maximum of 6",
    ),
    (
        "stabilization holds while a recent recommendation was higher",
        sig(instances=4),
        policy(),
        [past(30, 4), past(10, 1)],
        4,
        False,
        4,
        "hold",
        "highest recommendation in the last 60 s is 4",
    ),
    (
        "scale-in once the window only allows it, one step at a time while busy",
        sig(instances=4, active=1, busy=1),
        policy(),
        [past(90, 4), past(50, 1), past(5, 1)],
        4,
        False,
        3,
        "down",
        "no higher recommendation",
    ),
    (
        "scale-in never goes below the busy instances",
        sig(instances=4, active=3, busy=3),
        policy(max_step_down=4),
        [past(90, 4)],
        4,
        False,
        3,
        "down",
        "3 busy",
    ),
    (
        "busy instances refuse a scale-in entirely",
        sig(instances=3, active=3, busy=3),
        policy(max_step_down=4, target_utilization=1.0),
        [past(90, 3)],
        3,
        False,
        3,
        "hold",
        "3 instance(s) busy",
    ),
    (
        "the up cooldown holds a second latency-driven jump",
        sig(instances=2, queue_depth=10, oldest_age_s=20.0),
        policy(cooldown_up_s=10),
        [past(5, 6, Direction.UP)],
        6,
        False,
        6,
        "hold",
        "cooldown",
    ),
    (
        "an up that failed to apply starts no cooldown",
        sig(instances=2, queue_depth=40, oldest_age_s=20.0),
        policy(cooldown_up_s=10),
        [past(5, 6, Direction.UP, applied=False)],
        2,
        False,
        6,
        "up",
        "step limit 4",
    ),
    (
        "the down cooldown counts from the last change either way",
        sig(instances=4),
        policy(stabilization_s=0, cooldown_down_s=60),
        [past(30, 4, Direction.UP)],
        4,
        False,
        4,
        "hold",
        "scale-in to 1 waits 30 s of cooldown",
    ),
    (
        "stale signals block scale-in",
        sig(instances=4, timestamp=NOW - 20),
        policy(stabilization_s=0),
        [],
        4,
        False,
        4,
        "hold",
        "signals are 20 s old",
    ),
    (
        "a lost instance blocks scale-in",
        sig(instances=4, lost=1, problems=("1 instance(s) stopped beating",)),
        policy(stabilization_s=0),
        [],
        4,
        False,
        4,
        "hold",
        "stopped beating",
    ),
    (
        "missing heartbeats block scale-in",
        sig(instances=0, heartbeat_age_s=None),
        policy(stabilization_s=0),
        [],
        3,
        False,
        3,
        "hold",
        "no heartbeats",
    ),
    (
        "stale signals still allow scale-up",
        sig(instances=2, queue_depth=30, oldest_age_s=12.0, timestamp=NOW - 20),
        policy(),
        [],
        2,
        False,
        6,
        "up",
        "",
    ),
    (
        "high CPU blocks scale-in",
        sig(instances=4, cpu_percent=95.0),
        policy(stabilization_s=0),
        [],
        4,
        False,
        4,
        "hold",
        "CPU at 95 %",
    ),
    (
        "high memory blocks scale-in",
        sig(instances=4, memory_percent=93.0),
        policy(stabilization_s=0, memory_high=90),
        [],
        4,
        False,
        4,
        "hold",
        "memory at 93 %",
    ),
    (
        "an idle pool scales to zero",
        sig(instances=1),
        policy(min=0, scale_to_zero=True, stabilization_s=0),
        [],
        1,
        False,
        0,
        "down",
        "",
    ),
    (
        "a zero pool stays asleep below the activation threshold",
        sig(instances=0, queue_depth=2, oldest_age_s=1.0),
        policy(min=0, scale_to_zero=True, activation_queue_depth=5),
        [],
        0,
        False,
        0,
        "hold",
        "below the activation threshold of 5",
    ),
    (
        "a zero pool wakes at the activation threshold",
        sig(instances=0, queue_depth=5, oldest_age_s=1.0),
        policy(min=0, scale_to_zero=True, activation_queue_depth=5),
        [],
        0,
        False,
        2,
        "up",
        "waking from zero",
    ),
    (
        "a zero pool wakes when a message waited the target latency",
        sig(instances=0, queue_depth=1, oldest_age_s=6.0),
        policy(min=0, scale_to_zero=True, activation_queue_depth=5),
        [],
        0,
        False,
        2,
        "up",
        "waking from zero",
    ),
    (
        "a blocked budget refuses scale-up",
        sig(queue_depth=30, oldest_age_s=12.0),
        policy(),
        [],
        2,
        True,
        2,
        "hold",
        "budget exhausted",
    ),
    (
        "a blocked budget still restores the minimum",
        sig(instances=0),
        policy(min=2),
        [],
        0,
        True,
        2,
        "up",
        "below the minimum",
    ),
    (
        "a time-of-day minimum raises the floor",
        sig(instances=1),
        policy(schedule_min={"09:00-18:00": 3}),
        [],
        1,
        False,
        3,
        "up",
        "below the minimum of 3",
    ),
    (
        "a time-of-day minimum outside its hours does nothing",
        sig(instances=1),
        policy(schedule_min={"22:00-06:00": 3}),
        [],
        1,
        False,
        1,
        "hold",
        "at target",
    ),
    (
        "predictive pre-scaling follows a rising backlog, capped",
        sig(queue_depth=2, oldest_age_s=0.5, active=2, busy=2, backlog_slope=2.0),
        policy(predictive=True),
        [],
        2,
        False,
        6,
        "up",
        "backlog rising 2.0/s",
    ),
    (
        "without predictive the same trend is ignored",
        sig(queue_depth=2, oldest_age_s=0.5, active=2, busy=2, backlog_slope=2.0),
        policy(),
        [],
        2,
        False,
        2,
        "hold",
        "at target",
    ),
]


@pytest.mark.parametrize(
    ("signals", "pol", "history", "current", "blocked", "desired", "direction", "words"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_decision_table(
    signals: PoolSignals,
    pol: ScalingPolicy,
    history: list[Decision],
    current: int,
    blocked: bool,
    desired: int,
    direction: str,
    words: str,
) -> None:
    decision = decide(signals, pol, history, NOW, current=current, budget_blocked=blocked)
    assert (decision.desired, decision.direction) == (desired, Direction(direction)), (
        decision.reason
    )
    assert words in decision.reason
    assert decision.actual == signals.instances
    assert decision.inputs["signals"]["queue_depth"] == signals.queue_depth


def test_history_of_other_pools_is_ignored() -> None:
    other = Decision(
        agent_type="research",
        pool="default",
        at=NOW - 10,
        current=8,
        desired=8,
        actual=8,
        recommendation=8,
        direction=Direction.UP,
        reason="",
        applied=True,
    )
    busy = sig(instances=4, active=1, busy=1)
    decision = decide(busy, policy(stabilization_s=30), [other], NOW, current=4)
    assert decision.desired == 3


def test_recommendation_reports_each_signal() -> None:
    rec = recommend(sig(queue_depth=10, oldest_age_s=10.0, active=4), policy(), NOW, current=2)
    assert (rec.by_backlog, rec.by_latency, rec.by_trend) == (5, 4, None)
    assert rec.value == 5


def test_decision_round_trips_through_a_dict() -> None:
    decision = decide(sig(queue_depth=3, oldest_age_s=15.0), policy(), [], NOW, current=2)
    again = Decision.from_dict(decision.to_dict())
    assert again == decision
    assert PoolSignals.from_dict(decision.inputs["signals"]) == sig(
        queue_depth=3, oldest_age_s=15.0
    )


def test_flapping_load_changes_direction_at_most_once_per_window() -> None:
    """An up burst then quiet: the pool grows at once and shrinks only after the window."""
    pol = policy(cooldown_up_s=10, cooldown_down_s=30, stabilization_s=60)
    history: list[Decision] = []
    current = 1
    directions: list[tuple[float, Direction]] = []
    for step in range(80):
        t = NOW + step * 5
        busy = 20 <= step * 5 < 80
        signals = sig(
            timestamp=t,
            instances=current,
            queue_depth=40 if busy else 0,
            oldest_age_s=12.0 if busy else None,
            active=min(current * 4, 40) if busy else 0,
            busy=current if busy else 0,
        )
        decision = decide(signals, pol, history, t, current=current)
        decision = Decision.from_dict({**decision.to_dict(), "applied": True})
        history.insert(0, decision)
        if decision.direction != Direction.HOLD:
            directions.append((t, decision.direction))
        current = decision.desired
    changes = [(t, d) for i, (t, d) in enumerate(directions) if i == 0 or directions[i - 1][1] != d]
    assert [d for _, d in changes] == [Direction.UP, Direction.DOWN]
    assert changes[1][0] - NOW >= 80 + 60
    assert current == 1
