"""The routing layer (DESIGN §3): which queue each agent task goes to.

Targets are pool queues or per-instance direct queues, kept live by heartbeats. A strategy
(one Lua file each) picks among the live targets in one atomic Lua call that also counts the
pick in flight; completions, drain, expiry and a periodic reconcile keep the counts honest.
"""

from __future__ import annotations

from workers.routing.config import RoutingConfig
from workers.routing.decision import AffinityOutcome, Decision, Status, decide
from workers.routing.keyspace import Level, instance_queue
from workers.routing.router import AGENT_TASK, Router, make_router
from workers.routing.strategies import known_strategies, register_strategy, resolve_strategy
from workers.routing.targets import (
    configure_groups,
    mark_draining,
    on_heartbeat,
    on_task_done,
    register_target,
    unregister_target,
)

__all__ = [
    "AGENT_TASK",
    "AffinityOutcome",
    "Decision",
    "Level",
    "Router",
    "RoutingConfig",
    "Status",
    "configure_groups",
    "decide",
    "instance_queue",
    "known_strategies",
    "make_router",
    "mark_draining",
    "on_heartbeat",
    "on_task_done",
    "register_strategy",
    "register_target",
    "resolve_strategy",
    "unregister_target",
]
