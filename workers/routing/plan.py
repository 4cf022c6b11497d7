"""How one agent task is routed: the settings and per-call options checked, turned into a plan.

Pure functions; the router caches plans per (agent type, strategy).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from workers import keys
from workers.errors import InvalidInput
from workers.routing import keyspace
from workers.routing.config import MAX_AFFINITY_KEY_BYTES
from workers.routing.keyspace import Level
from workers.routing.strategies import resolve_strategy
from workers.settings import AgentType, Settings


@dataclass(frozen=True, slots=True)
class Plan:
    """Where an agent type's tasks can go and how the choice is made."""

    agent_type: str
    group: str
    level: Level
    strategy: str
    #: Where tasks go when no target is live: the type's first pool queue.
    fallback_queue: str
    #: Set when there is nothing to choose (pool dispatch, one pool): the only queue.
    single_queue: str | None = None


def check_weights(agent: AgentType) -> None:
    """Raise ``InvalidInput`` for a pool weight <= 0 (settings built without validation)."""
    for pool, cfg in agent.pools.items():
        if cfg.weight is not None and not cfg.weight > 0:
            raise InvalidInput(
                f"routing weight of pool {agent.name}.{pool} must be > 0, got {cfg.weight!r}"
            )


def make_plan(settings: Settings, agent_type: str, strategy: str | None = None) -> Plan:
    """The plan for ``agent_type`` with the per-call ``strategy`` (None: the type's own).

    Raises ``UnknownAgent``, ``UnknownName`` (strategy) or ``InvalidInput`` (weights).
    """
    agent = settings.agent(agent_type)
    check_weights(agent)
    name = resolve_strategy(agent.strategy if strategy is None else strategy).name
    pools = list(agent.pools)
    fallback = keys.pool_queue(agent.name, pools[0])
    level = Level.INSTANCE if agent.dispatch == "instance" else Level.POOL
    single = fallback if level is Level.POOL and len(pools) == 1 else None
    return Plan(agent.name, keyspace.group(agent.name, level), level, name, fallback, single)


def call_options(kwargs: Mapping[str, Any] | None) -> tuple[str, str | None, str | None]:
    """(agent type, strategy, affinity key) from the agent task's kwargs.

    Raises ``InvalidInput`` for a non-text strategy or key, or a key over the size limit.
    """
    kwargs = kwargs or {}
    options = kwargs.get("options") or {}
    if not isinstance(options, Mapping):
        raise InvalidInput("task options must be a mapping")
    strategy = options.get("strategy")
    if strategy is not None and not isinstance(strategy, str):
        raise InvalidInput(f"routing strategy must be a name, got {strategy!r}")
    return (
        str(kwargs.get("agent_type") or ""),
        strategy,
        check_affinity_key(options.get("affinity_key")),
    )


def check_affinity_key(key: object) -> str | None:
    """The key if usable; None for no key; ``InvalidInput`` for a bad one."""
    if key is None or key == "":
        return None
    if not isinstance(key, str):
        raise InvalidInput(f"affinity key must be text, got {type(key).__name__}")
    size = len(key.encode("utf-8"))
    if size > MAX_AFFINITY_KEY_BYTES:
        raise InvalidInput(f"affinity key is {size} bytes; the limit is {MAX_AFFINITY_KEY_BYTES}")
    return key
