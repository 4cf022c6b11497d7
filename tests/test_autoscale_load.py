"""Table tests of the load terms and of the rules that keep the pool from flapping.

Readings here are of a pool whose instances run one task at a time for about half a second,
as in the autoscaling benchmark: one instance serves two tasks a second, 1.4 at the 70 %
target utilization.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from scheduler.autoscale import load
from scheduler.autoscale.decision import Decision, Direction, decide
from scheduler.autoscale.signals import PoolSignals
from workers.settings import ScalingPolicy

NOW = datetime(2024, 5, 6, 10, 0, tzinfo=UTC).timestamp()


def sig(**kw: Any) -> PoolSignals:
    """A fresh, complete reading of cto.default: concurrency 1, 0.5 s per task, a quiet
    0.6 tasks/s over the rate window and the last interval alike."""
    base: dict[str, Any] = {
        "agent_type": "cto",
        "pool": "default",
        "queue": "agent.cto.default",
        "timestamp": NOW,
        "capacity_per_instance": 1,
        "instances": 1,
        "heartbeat_age_s": 1.0,
        "max_age_s": 6.0,
        "service_time_s": 0.5,
        "arrival_rate": 0.6,
        "last_arrival_rate": 0.6,
        "completion_rate": 0.6,
        "last_completion_rate": 0.6,
    }
    base.update(kw)
    return PoolSignals(**base)


def policy(**kw: Any) -> ScalingPolicy:
    return ScalingPolicy(
        **{"min": 1, "max": 8, "max_step_up": 8, "stabilization_s": 30, "cooldown_up_s": 10, **kw}
    )


def past(
    ago: float,
    recommendation: int,
    direction: Direction = Direction.HOLD,
    *,
    desired: int | None = None,
) -> Decision:
    """An applied decision ``ago`` seconds back (``desired`` defaults to the recommendation)."""
    return Decision(
        agent_type="cto",
        pool="default",
        at=NOW - ago,
        current=recommendation,
        desired=recommendation if desired is None else desired,
        actual=recommendation,
        recommendation=recommendation,
        direction=direction,
        reason="",
        applied=True,
    )


def rates(value: float) -> dict[str, float]:
    """The same rate over the window and the last interval, for arrivals and completions."""
    return {
        "arrival_rate": value,
        "last_arrival_rate": value,
        "completion_rate": value,
        "last_completion_rate": value,
    }


# (name, signals, policy, history, current, desired, direction, reason words)
CASES: list[tuple[str, PoolSignals, ScalingPolicy, list[Decision], int, int, str, str]] = [
    (
        "one running task on a quiet pool asks for nothing more",
        sig(active=1, busy=1),
        policy(),
        [],
        1,
        1,
        "hold",
        "at target",
    ),
    (
        "one message queued behind a busy slot is ordinary queueing",
        sig(queue_depth=1, oldest_age_s=0.2, active=1, busy=1),
        policy(),
        [],
        1,
        1,
        "hold",
        "at target",
    ),
    (
        "rates drive up: the flow at the target utilization",
        sig(instances=2, active=2, busy=2, **rates(4.0)),
        policy(),
        [],
        2,
        3,
        "up",
        "4.0 tasks/s x 0.50 s each at 1 tasks x 70% per instance needs 3",
    ),
    (
        "a spike in the last interval alone does not raise the rates",
        sig(arrival_rate=1.0, last_arrival_rate=6.0),
        policy(),
        [],
        1,
        1,
        "hold",
        "at target",
    ),
    (
        "completions keep a pool that works a queue off",
        sig(instances=4, active=4, busy=4, **{**rates(0.5), **{"completion_rate": 5.0}}),
        policy(),
        [],
        4,
        4,
        "hold",
        "",
    ),
    (
        "a load within the 10 % tolerance keeps the size",
        sig(instances=2, active=2, busy=2, **rates(3.0)),
        policy(),
        [],
        2,
        2,
        "hold",
        "at target",
    ),
    (
        "a forming queue: the fresh flow plus working the queue off in time",
        sig(instances=2, queue_depth=7, oldest_age_s=1.0, active=2, busy=2, **rates(3.0)),
        policy(),
        [],
        2,
        3,
        "up",
        "plus 7 queued worked off within 5 s needs 3",
    ),
    (
        "a sudden queue asks for its flow and its work-off, not for everything at once",
        sig(queue_depth=5, oldest_age_s=0.8, active=1, busy=1, last_arrival_rate=4.5),
        policy(),
        [],
        1,
        4,
        "up",
        "4.5 tasks/s x 0.50 s at 70% plus 5 queued worked off within 5 s needs 4",
    ),
    (
        "the next reading of a burst goes through the up cooldown to the maximum",
        sig(
            queue_depth=25,
            oldest_age_s=3.0,
            active=1,
            busy=1,
            arrival_rate=2.9,
            last_arrival_rate=11.5,
        ),
        policy(),
        [past(2, 4, Direction.UP)],
        4,
        8,
        "up",
        "cooldown cut short: load asks for 11, at least 2x the current 4",
    ),
    (
        "before any run time is known a waiting message sizes the backlog",
        sig(queue_depth=1, oldest_age_s=0.2, active=1, busy=1, service_time_s=None),
        policy(),
        [],
        1,
        3,
        "up",
        "backlog 2",
    ),
    (
        "after a scale-in the queue alone does not reverse it",
        sig(queue_depth=5, oldest_age_s=0.8, active=1, busy=1, last_arrival_rate=4.5),
        policy(),
        [past(10, 1, Direction.DOWN)],
        1,
        1,
        "hold",
        "at target",
    ),
    (
        "after a scale-in the latency target still grows the pool",
        sig(queue_depth=5, oldest_age_s=12.0, active=1, busy=1),
        policy(),
        [past(10, 1, Direction.DOWN)],
        1,
        3,
        "up",
        "oldest message waited 12.0 s",
    ),
    (
        "after a scale-in the rates still grow the pool",
        sig(instances=1, active=1, busy=1, **rates(3.0)),
        policy(),
        [past(10, 1, Direction.DOWN)],
        1,
        3,
        "up",
        "3.0 tasks/s",
    ),
    (
        "a scale-in older than the window no longer holds the queue back",
        sig(queue_depth=5, oldest_age_s=0.8, active=1, busy=1, last_arrival_rate=4.5),
        policy(),
        [past(40, 1, Direction.DOWN)],
        1,
        4,
        "up",
        "plus 5 queued",
    ),
    (
        "a burst cuts the up cooldown short",
        sig(queue_depth=10, oldest_age_s=1.0, active=1, busy=1, last_arrival_rate=6.0),
        policy(max_step_up=4),
        [past(4, 2, Direction.UP)],
        2,
        6,
        "up",
        "cooldown cut short: load asks for 6, at least 2x the current 2",
    ),
    (
        "a load asking for the maximum cuts the up cooldown short",
        sig(instances=2, active=2, busy=2, **rates(11.0)),
        policy(),
        [past(3, 5, Direction.UP)],
        5,
        8,
        "up",
        "cooldown cut short: load asks for 8, the maximum of 8 or more",
    ),
    (
        "every ordered instance running cuts the up cooldown short",
        sig(instances=3, active=3, busy=3, **rates(5.0)),
        policy(),
        [past(6, 3, Direction.UP)],
        3,
        4,
        "up",
        "cooldown cut short: all 3 ordered instance(s) are running",
    ),
    (
        "ordered instances still booting keep the up cooldown",
        sig(instances=2, active=2, busy=2, **rates(5.0)),
        policy(),
        [past(6, 3, Direction.UP)],
        3,
        3,
        "hold",
        "waits 4 s of cooldown",
    ),
    (
        "a load just short of twice the size keeps the up cooldown",
        sig(instances=2, active=2, busy=2, **rates(6.0)),
        policy(),
        [past(6, 3, Direction.UP)],
        3,
        3,
        "hold",
        "waits 4 s of cooldown",
    ),
    (
        "an idle pool goes straight to the window's highest recommendation",
        sig(instances=6),
        policy(max_step_down=1),
        [past(40, 6), past(20, 2)],
        6,
        2,
        "down",
        "idle, so without step limit",
    ),
    (
        "a busy pool keeps the step limit",
        sig(instances=6, active=1, busy=1),
        policy(max_step_down=1),
        [past(40, 6), past(20, 2)],
        6,
        5,
        "down",
        "step limit 1, 1 busy",
    ),
    (
        "an idle pool shrinks again without waiting out its last scale-in",
        sig(instances=3),
        policy(cooldown_down_s=30),
        [past(40, 8, Direction.UP), past(4, 1, Direction.DOWN, desired=3)],
        3,
        1,
        "down",
        "idle",
    ),
    (
        "a busy pool waits out the down cooldown after a scale-in",
        sig(instances=3, active=1, busy=1),
        policy(cooldown_down_s=30),
        [past(40, 8, Direction.UP), past(4, 1, Direction.DOWN, desired=3)],
        3,
        3,
        "hold",
        "waits 26 s of cooldown",
    ),
    (
        "an idle pool still waits out the cooldown of a scale-up",
        sig(instances=3),
        policy(cooldown_down_s=60),
        [past(40, 3, Direction.UP)],
        3,
        3,
        "hold",
        "waits 20 s of cooldown",
    ),
]


@pytest.mark.parametrize(
    ("signals", "pol", "history", "current", "desired", "direction", "words"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_load_rules(
    signals: PoolSignals,
    pol: ScalingPolicy,
    history: list[Decision],
    current: int,
    desired: int,
    direction: str,
    words: str,
) -> None:
    decision = decide(signals, pol, history, NOW, current=current)
    assert (decision.desired, decision.direction) == (desired, Direction(direction)), (
        decision.reason
    )
    assert words in decision.reason


@pytest.mark.parametrize(
    ("window", "last", "expected"),
    [(2.0, 5.0, 2.0), (5.0, 0.5, 0.5), (2.0, None, 2.0), (None, 3.0, 3.0), (None, None, None)],
)
def test_steady_flow_is_what_window_and_last_interval_agree_on(
    window: float | None, last: float | None, expected: float | None
) -> None:
    reading = sig(
        arrival_rate=window, last_arrival_rate=last, completion_rate=None, last_completion_rate=None
    )
    assert load.steady_flow(reading) == expected


def test_fresh_flow_takes_the_highest_rate() -> None:
    reading = sig(arrival_rate=1.0, last_arrival_rate=4.5, completion_rate=2.0)
    assert load.fresh_flow(reading) == 4.5


@pytest.mark.parametrize(
    ("value", "current", "expected"),
    [(2.15, 2, 2), (1.85, 2, 2), (2.25, 2, 3), (1.7, 2, 2), (0.3, 1, 1), (0.0, 0, 0), (3.0, 0, 3)],
)
def test_size_keeps_the_current_size_within_the_tolerance(
    value: float, current: int, expected: int
) -> None:
    assert load.size(value, current) == expected


def test_rates_need_a_run_time() -> None:
    assert load.by_rate(sig(service_time_s=None), policy(), 1) is None


def test_quiet_pool_at_concurrency_one_never_grows() -> None:
    """Every reading a quiet pool gives (nothing, one running, one running and one or two
    queued, rates up to twice the average) keeps one instance."""
    pol = policy()
    readings = [
        sig(),
        sig(active=1, busy=1),
        sig(queue_depth=1, oldest_age_s=0.3, active=1, busy=1),
        sig(queue_depth=2, oldest_age_s=0.6, active=1, busy=1),
        sig(active=1, busy=1, **rates(1.2)),
        sig(arrival_rate=0.6, last_arrival_rate=2.5),
    ]
    for reading in readings:
        assert decide(reading, pol, [], NOW, current=1).desired == 1, reading


def test_burst_then_quiet_changes_direction_once_and_sheds_at_once() -> None:
    """A burst grows the pool in one step; once quiet it holds a window, then drops to the
    minimum in one step; a later cluster of queued messages does not reverse that."""
    pol = policy(max_step_down=2, cooldown_down_s=10)
    history: list[Decision] = []
    current = 1
    changes: list[tuple[float, int]] = []
    for step in range(60):
        t = NOW + step * 2.0
        if 10 <= step < 20:  # the burst: a deep queue, twelve tasks a second
            reading = sig(queue_depth=30, oldest_age_s=2.0, active=current, busy=current)
            reading = PoolSignals.from_dict(
                {**reading.to_dict(), **rates(12.0), "instances": current}
            )
        elif step == 40:  # a cluster of five queued messages on the quiet pool
            reading = sig(queue_depth=5, oldest_age_s=0.8, active=1, busy=1, last_arrival_rate=3)
        else:
            reading = sig(instances=current)
        reading = PoolSignals.from_dict({**reading.to_dict(), "timestamp": t})
        decision = decide(reading, pol, history, t, current=current)
        decision = Decision.from_dict({**decision.to_dict(), "applied": True})
        history.insert(0, decision)
        if decision.desired != current:
            changes.append((t - NOW, decision.desired))
        current = decision.desired
    assert changes == [(20.0, 8), (70.0, 1)]
