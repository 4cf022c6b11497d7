"""What the router has been doing: per target and per strategy, read from Redis.

Shared by ``infra-mind lb stats`` and any Python caller; read-only.
"""

from __future__ import annotations

import math
from typing import Any

import redis

from workers import keys
from workers.routing import keyspace
from workers.routing.keyspace import Level
from workers.routing.scripts import text
from workers.settings import Settings


def _num(value: str | None, default: float = 0.0) -> float:
    try:
        return float(value) if value is not None else default
    except ValueError:
        return default


def _decode(mapping: dict[Any, Any]) -> dict[str, str]:
    return {text(k): text(v) for k, v in mapping.items()}


def _target_row(
    queue: str,
    fields: dict[str, str],
    in_flight: int,
    alive: bool,
    last: str | None,
    now_ms: float,
    tau_ms: float,
) -> dict[str, Any]:
    done = int(_num(fields.get("done")))
    ewma = None
    if done:
        age = now_ms - _num(fields.get("t0"), now_ms)
        ewma = round(_num(fields.get("e0")) * math.exp(-max(age, 0.0) / tau_ms), 3)
    row: dict[str, Any] = {
        "queue": queue,
        "state": "active" if alive else fields.get("state", "unknown"),
        "alive": alive,
        "pool": fields.get("pool", ""),
        "instance": fields.get("instance") or None,
        "capacity": int(_num(fields.get("cap"), 1)),
        "in_flight": in_flight,
        "decisions": int(_num(fields.get("decisions"))),
        "completed": done,
        "failed": int(_num(fields.get("failed"))),
        "ewma_latency_ms": ewma,
        "last_pick_at": None if last is None else _num(last) / 1000,
        "cpu_percent": _num(fields.get("cpu")),
        "mem_percent": _num(fields.get("mem")),
        "manual": fields.get("manual") == "1",
    }
    if fields.get("level") == Level.POOL.value:
        row["instances"] = int(_num(fields.get("instances")))
    return row


def _strategy_rows(raw: dict[str, str]) -> dict[str, dict[str, Any]]:
    rows: dict[str, dict[str, Any]] = {}
    for field, value in raw.items():
        name, _, what = field.partition(":")
        if not what or name in ("affinity", "pick"):
            continue
        row = rows.setdefault(name, {"decisions": 0, "last_target": None, "last_pick_at": None})
        if what == "decisions":
            row["decisions"] = int(_num(value))
        elif what == "last":
            row["last_target"] = value
        elif what == "last_ms":
            row["last_pick_at"] = _num(value) / 1000
    return rows


def group_stats(
    client: redis.Redis, agent_type: str, level: Level, now_ms: float
) -> dict[str, Any]:
    group = keyspace.group(agent_type, level)
    queues = sorted(text(q) for q in client.smembers(f"{group}:known"))
    with client.pipeline(transaction=False) as pipe:
        pipe.hgetall(f"{group}:stats")
        pipe.hgetall(f"{group}:meta")
        pipe.zrange(f"{group}:alive", 0, -1)
        for queue in queues:
            pipe.hgetall(keyspace.target(queue))
        if queues:
            pipe.hmget(keys.INFLIGHT, queues)
        replies = pipe.execute()
    raw_stats, meta = _decode(replies[0]), _decode(replies[1])
    alive = {text(q) for q in replies[2]}
    counts = replies[3 + len(queues)] if queues else []
    tau_ms = _num(meta.get("tau_ms"), 10_000.0)
    targets = [
        _target_row(
            q, _decode(replies[3 + i]), int(_num(text(counts[i]) if counts[i] else None)),
            q in alive, raw_stats.get(f"pick:{q}"), now_ms, tau_ms,
        )
        for i, q in enumerate(queues)
    ]  # fmt: skip
    return {
        "agent_type": agent_type,
        "level": level.value,
        "targets": targets,
        "live_targets": len(alive),
        "strategies": _strategy_rows(raw_stats),
        "fallbacks": int(_num(raw_stats.get("fallback"))),
        "affinity": {
            outcome: int(_num(raw_stats.get(f"affinity:{outcome}")))
            for outcome in ("hit", "spill", "none")
        },
    }


def stats(client: redis.Redis, settings: Settings, now: float | None = None) -> dict[str, Any]:
    """Per agent type: the routing settings, and per group its targets and strategies.

    The group the type routes over (its ``dispatch``) is always listed; the other level
    only when it has targets. ``now`` in seconds (None: the Redis server's clock).
    """
    if now is None:
        seconds, micros = client.time()
        now = seconds + micros / 1_000_000
    agents: dict[str, Any] = {}
    for name, agent in settings.agents.items():
        routed = Level.INSTANCE if agent.dispatch == "instance" else Level.POOL
        groups = []
        for level in Level:
            data = group_stats(client, name, level, now * 1000)
            data["routed"] = level is routed
            if level is routed or data["targets"]:
                groups.append(data)
        agents[name] = {
            "strategy": agent.strategy,
            "dispatch": agent.dispatch,
            "pools": list(agent.pools),
            "groups": groups,
        }
    return {"generated_at": now, "agents": agents}
