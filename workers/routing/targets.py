"""Targets come and go: heartbeats register them, drain and expiry remove them, completions
update their load and latency. Every function here is one Lua call (one round trip).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

import redis

from workers import keys
from workers.errors import InvalidInput
from workers.routing import keyspace
from workers.routing.config import DEFAULT_TTL_S, RoutingConfig
from workers.routing.keyspace import Level, instance_queue
from workers.routing.scripts import now_arg, script
from workers.settings import Settings

#: Queue names a manual target may use: what Celery and Redis keys take without quoting.
_QUEUE_RE = re.compile(r"^[A-Za-z0-9_.@:-]{1,200}$")


def _float(value: Any, default: float = 0.0) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return default
    return number if math.isfinite(number) else default


def on_heartbeat(
    client: redis.Redis,
    hb: Mapping[str, Any],
    *,
    default_ttl_s: float = DEFAULT_TTL_S,
    now_ms: float | None = None,
) -> None:
    """Register or refresh the beating instance's targets (idempotent, one round trip).

    ``hb`` is the heartbeat hash (``instance``, ``agent_type``, ``pool``, ``concurrency``,
    ``cpu_percent``, ``mem_percent``, ``state``, ``pid``, ``host``). Workers that are not
    agent instances (no ``<type>.<pool>.<n>@<host>`` name) are ignored.
    """
    instance = str(hb.get("instance") or "")
    parsed = keys.parse_instance(instance)
    if parsed is None or "@" not in instance:
        return
    agent_type = str(hb.get("agent_type") or parsed[0])
    pool = str(hb.get("pool") or parsed[1])
    capacity = max(1, int(_float(hb.get("concurrency"), 1)))
    script("heartbeat")(
        client,
        (
            keys.heartbeat(instance),
            keyspace.group(agent_type, Level.INSTANCE),
            keyspace.group(agent_type, Level.POOL),
        ),
        (
            instance,
            instance_queue(instance),
            keys.pool_queue(agent_type, pool),
            agent_type,
            pool,
            str(hb.get("host") or instance.split("@", 1)[1]),
            str(hb.get("pid") or ""),
            capacity,
            repr(_float(hb.get("cpu_percent"))),
            repr(_float(hb.get("mem_percent"))),
            str(hb.get("state") or "active"),
            now_arg(now_ms),
            int(default_ttl_s * 1000),
        ),
    )


def on_task_done(
    client: redis.Redis,
    agent_type: str,
    target_queue: str,
    latency_ms: float | None,
    ok: bool,
    *,
    now_ms: float | None = None,
) -> int:
    """A task delivered from ``target_queue`` finished: one less in flight there, and its
    latency feeds the queue's peak EWMA (``None``: it never ran, as when it was cancelled,
    and counts for nothing). Returns the queue's new in-flight count."""
    del agent_type  # the queue name identifies the target; kept for the hook's signature
    sample = "" if latency_ms is None else repr(_float(latency_ms))
    reply = script("done")(client, (), (target_queue, sample, "1" if ok else "0", now_arg(now_ms)))
    return int(reply)


def mark_draining(client: redis.Redis, instance: str, *, now_ms: float | None = None) -> None:
    """Stop routing to ``instance`` now (both its direct queue and its pool's share).

    It stays out on later heartbeats until a new process (another pid) takes the name.
    """
    parsed = keys.parse_instance(instance)
    queue = instance_queue(instance)
    assert parsed is not None  # instance_queue validated the name
    agent_type, pool, _ = parsed
    script("drain")(
        client,
        (keyspace.group(agent_type, Level.INSTANCE), keyspace.group(agent_type, Level.POOL)),
        (instance, queue, keys.pool_queue(agent_type, pool), now_arg(now_ms)),
    )


def _validate_weight(weight: float | None, what: str) -> None:
    if weight is not None and (not isinstance(weight, int | float) or not weight > 0):
        raise InvalidInput(f"routing weight of {what} must be > 0, got {weight!r}")


def register_target(
    client: redis.Redis,
    agent_type: str,
    queue: str,
    *,
    capacity: int = 1,
    pool: str | None = None,
    weight: float | None = None,
    ttl_s: float | None = None,
    cpu_percent: float = 0.0,
    mem_percent: float = 0.0,
    now_ms: float | None = None,
) -> None:
    """Register a target by hand, e.g. an instance running outside this system.

    ``queue`` is a direct queue (``agent.<instance>``, see :func:`instance_queue`) or a pool
    queue. Without ``ttl_s`` it stays until :func:`unregister_target`. Raises
    ``InvalidInput`` for a bad queue name, capacity < 1 or weight <= 0.
    """
    keyspace.group(agent_type, Level.POOL)  # validates the agent type
    if not isinstance(queue, str) or not _QUEUE_RE.match(queue):
        raise InvalidInput(f"invalid target queue {queue!r}")
    if not isinstance(capacity, int) or capacity < 1:
        raise InvalidInput(f"target capacity must be an integer >= 1, got {capacity!r}")
    _validate_weight(weight, queue)
    if ttl_s is not None and not ttl_s > 0:
        raise InvalidInput(f"target ttl_s must be > 0, got {ttl_s!r}")
    level = keyspace.level_of(queue)
    instance = ""
    if level is Level.INSTANCE:
        instance = queue.removeprefix(keyspace.DIRECT_QUEUE_PREFIX)
        parsed = keys.parse_instance(instance)
        if parsed is not None and pool is None:
            pool = parsed[1]
    script("register")(
        client,
        (keyspace.group(agent_type, level),),
        (
            queue,
            agent_type,
            level.value,
            pool or "",
            instance,
            capacity,
            "" if weight is None else repr(float(weight)),
            "" if ttl_s is None else int(ttl_s * 1000),
            repr(float(cpu_percent)),
            repr(float(mem_percent)),
            now_arg(now_ms),
        ),
    )


def unregister_target(
    client: redis.Redis, agent_type: str, queue: str, *, now_ms: float | None = None
) -> bool:
    """Take a target out of routing; False if it was never registered in that group."""
    group = keyspace.group(agent_type, keyspace.level_of(queue))
    return bool(script("unregister")(client, (group,), (queue, now_arg(now_ms))))


def configure_groups(
    client: redis.Redis,
    settings: Settings,
    config: RoutingConfig,
    agent_types: list[str] | None = None,
    *,
    now_ms: float | None = None,
) -> None:
    """Write latency decay, resource step and pool weights of each agent type's groups."""
    for name in agent_types if agent_types is not None else list(settings.agents):
        agent = settings.agent(name)
        pairs: list[str] = []
        for pool, cfg in agent.pools.items():
            _validate_weight(cfg.weight, f"pool {name}.{pool}")
            pairs += [pool, "" if cfg.weight is None else repr(float(cfg.weight))]
        for level in Level:
            script("configure")(
                client,
                (keyspace.group(name, level),),
                (
                    repr(float(config.decay_s * 1000)),
                    repr(float(config.resource_step)),
                    repr(float(config.initial_latency_ms)),
                    now_arg(now_ms),
                    *pairs,
                ),
            )
