"""Reading the live state of pools from Redis: instances, queue depth, oldest message age.

`status`, `demo` and the autoscaler's signals read the same figures through these functions.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field

import redis

from workers import keys
from workers.settings import Settings

#: Header the app stamps at publish (mirrors ``workers.app.SENT_AT_HEADER``).
SENT_AT_HEADER = "im_sent_at"


@dataclass(frozen=True, slots=True)
class InstanceInfo:
    name: str
    agent_type: str
    pool: str
    state: str
    active: int
    processed: int
    failed: int
    concurrency: int
    ewma_latency_ms: float
    cpu_percent: float
    rss_bytes: int
    updated_at: float


@dataclass(slots=True)
class PoolSnapshot:
    agent_type: str
    pool: str
    queue: str
    depth: int = 0
    oldest_age_s: float | None = None
    instances: list[InstanceInfo] = field(default_factory=list)

    @property
    def healthy(self) -> int:
        return sum(1 for i in self.instances if i.state == "active")

    @property
    def draining(self) -> int:
        return sum(1 for i in self.instances if i.state == "draining")

    @property
    def active(self) -> int:
        return sum(i.active for i in self.instances)

    @property
    def in_flight(self) -> int:
        """Queued plus running: everything submitted to the pool and not finished."""
        return self.depth + self.active

    @property
    def processed(self) -> int:
        return sum(i.processed for i in self.instances)

    @property
    def latency_ms(self) -> float | None:
        values = [i.ewma_latency_ms for i in self.instances if i.ewma_latency_ms > 0]
        return sum(values) / len(values) if values else None

    def summary(self) -> dict[str, object]:
        """The pool's figures as JSON-ready values (``status --json`` and the API)."""
        return {
            "pool": f"{self.agent_type}.{self.pool}",
            "queue": self.queue,
            "healthy": self.healthy,
            "draining": self.draining,
            "depth": self.depth,
            "oldest_age_s": self.oldest_age_s,
            "in_flight": self.in_flight,
            "processed": self.processed,
            "latency_ms": self.latency_ms,
        }


def _num(raw: dict[str, str], name: str, kind: type = float) -> float | int:
    try:
        return kind(float(raw.get(name) or 0))
    except ValueError:
        return kind(0)


def read_instances(client: redis.Redis) -> list[InstanceInfo]:
    """Every agent instance whose heartbeat has not expired."""
    names = [
        n.decode() if isinstance(n, bytes) else n for n in client.zrange(keys.INSTANCES, 0, -1)
    ]
    if not names:
        return []
    with client.pipeline(transaction=False) as pipe:
        for name in names:
            pipe.hgetall(keys.heartbeat(name))
        hashes = pipe.execute()
    out = []
    for name, raw in zip(names, hashes, strict=True):
        parsed = keys.parse_instance(name)
        if not raw or parsed is None:
            continue
        raw = {
            (k.decode() if isinstance(k, bytes) else k): (v.decode() if isinstance(v, bytes) else v)
            for k, v in raw.items()
        }
        out.append(
            InstanceInfo(
                name=name,
                agent_type=parsed[0],
                pool=parsed[1],
                state=raw.get("state", "active"),
                active=int(_num(raw, "active", int)),
                processed=int(_num(raw, "processed", int)),
                failed=int(_num(raw, "failed", int)),
                concurrency=int(_num(raw, "concurrency", int)) or 1,
                ewma_latency_ms=float(_num(raw, "ewma_latency_ms")),
                cpu_percent=float(_num(raw, "cpu_percent")),
                rss_bytes=int(_num(raw, "rss_bytes", int)),
                updated_at=float(_num(raw, "updated_at")),
            )
        )
    return out


def sent_at(message: str | bytes | None) -> float | None:
    """The publish time stamped in a raw kombu message, or None if absent or unreadable."""
    if message is None:
        return None
    try:
        value = json.loads(message)["headers"][SENT_AT_HEADER]
        return float(value)
    except (ValueError, KeyError, TypeError):
        return None


def queue_state(client: redis.Redis, queue: str) -> tuple[int, float | None]:
    """Depth over all priority lists and the publish time of the oldest message."""
    lists = keys.priority_queue_keys(queue)
    with client.pipeline(transaction=False) as pipe:
        for key in lists:
            pipe.llen(key)
            pipe.lindex(key, -1)  # kombu LPUSHes and BRPOPs: the oldest message is last
        replies = pipe.execute()
    depth = sum(int(n) for n in replies[0::2])
    stamps = [s for s in (sent_at(m) for m in replies[1::2]) if s is not None]
    return depth, (min(stamps) if stamps else None)


def pool_snapshots(
    client: redis.Redis, settings: Settings, now: float | None = None
) -> list[PoolSnapshot]:
    now = time.time() if now is None else now
    instances = read_instances(client)
    out = []
    for agent, pool in settings.pools():
        queue = keys.pool_queue(agent.name, pool)
        depth, oldest = queue_state(client, queue)
        out.append(
            PoolSnapshot(
                agent_type=agent.name,
                pool=pool,
                queue=queue,
                depth=depth,
                oldest_age_s=None if oldest is None else max(0.0, now - oldest),
                instances=[i for i in instances if i.agent_type == agent.name and i.pool == pool],
            )
        )
    return out
