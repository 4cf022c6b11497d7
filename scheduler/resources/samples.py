"""Resource samples from heartbeats: per instance, aggregated per pool and per host (pure)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from typing import Any


def _f(raw: Mapping[str, Any], name: str) -> float:
    try:
        return float(raw.get(name) or 0)
    except (TypeError, ValueError):
        return 0.0


@dataclass(frozen=True)
class InstanceSample:
    """One worker instance's latest heartbeat, parsed."""

    name: str
    agent_type: str
    pool: str
    host: str
    pid: int
    concurrency: int
    active: int
    processed: int
    failed: int
    cpu_percent: float
    rss_bytes: int
    mem_percent: float
    open_files: int
    threads: int
    load_avg: float
    ewma_latency_ms: float
    state: str
    started_at: float
    updated_at: float

    @property
    def pool_id(self) -> str:
        return f"{self.agent_type}.{self.pool}"


def parse_heartbeat(name: str, raw: Mapping[str, Any]) -> InstanceSample | None:
    """Parse a heartbeat hash; None when it lacks the agent type or pool (not an agent)."""
    if not raw.get("agent_type") or not raw.get("pool"):
        return None
    return InstanceSample(
        name=name,
        agent_type=str(raw["agent_type"]),
        pool=str(raw["pool"]),
        host=str(raw.get("host") or "?"),
        pid=int(_f(raw, "pid")),
        concurrency=max(1, int(_f(raw, "concurrency"))),
        active=int(_f(raw, "active")),
        processed=int(_f(raw, "processed")),
        failed=int(_f(raw, "failed")),
        cpu_percent=_f(raw, "cpu_percent"),
        rss_bytes=int(_f(raw, "rss_bytes")),
        mem_percent=_f(raw, "mem_percent"),
        open_files=int(_f(raw, "open_files")),
        threads=int(_f(raw, "threads")),
        load_avg=_f(raw, "load_avg"),
        ewma_latency_ms=_f(raw, "ewma_latency_ms"),
        state=str(raw.get("state") or "active"),
        started_at=_f(raw, "started_at"),
        updated_at=_f(raw, "updated_at"),
    )


@dataclass(frozen=True)
class PoolSample:
    """A pool at one moment: size, load, resources and queue backlog."""

    ts: float
    pool: str  # "<type>.<pool>"
    agent_type: str
    instances: int
    draining: int
    capacity: int  # task slots: sum of concurrency
    active: int
    processed: int  # sum of the instances' counters (they restart at 0 with an instance)
    failed: int
    cpu_percent: float  # mean over instances
    mem_percent: float  # highest instance: the first to hit a limit
    rss_bytes: int
    latency_ms: float  # mean EWMA task latency of instances that ran tasks
    backlog: int  # messages waiting in the pool queue

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PoolSample:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


@dataclass(frozen=True)
class HostSample:
    ts: float
    host: str
    instances: int
    cpu_percent: float  # sum over our instances on the host
    mem_percent: float  # sum over our instances
    rss_bytes: int
    load_avg: float
    open_files: int
    threads: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def pool_samples(
    instances: Iterable[InstanceSample],
    pools: Sequence[tuple[str, str]],
    backlogs: Mapping[str, int],
    ts: float,
) -> list[PoolSample]:
    """One sample per configured (agent type, pool), also for pools without instances."""
    by_pool: dict[str, list[InstanceSample]] = defaultdict(list)
    for inst in instances:
        by_pool[inst.pool_id].append(inst)
    out = []
    for agent_type, pool in pools:
        pid = f"{agent_type}.{pool}"
        members = by_pool.get(pid, [])
        busy = [m.ewma_latency_ms for m in members if m.ewma_latency_ms > 0]
        out.append(
            PoolSample(
                ts=ts,
                pool=pid,
                agent_type=agent_type,
                instances=len(members),
                draining=sum(m.state == "draining" for m in members),
                capacity=sum(m.concurrency for m in members),
                active=sum(m.active for m in members),
                processed=sum(m.processed for m in members),
                failed=sum(m.failed for m in members),
                cpu_percent=sum(m.cpu_percent for m in members) / len(members) if members else 0,
                mem_percent=max((m.mem_percent for m in members), default=0.0),
                rss_bytes=sum(m.rss_bytes for m in members),
                latency_ms=sum(busy) / len(busy) if busy else 0.0,
                backlog=int(backlogs.get(pid, 0)),
            )
        )
    return out


def host_samples(instances: Iterable[InstanceSample], ts: float) -> list[HostSample]:
    by_host: dict[str, list[InstanceSample]] = defaultdict(list)
    for inst in instances:
        by_host[inst.host].append(inst)
    return [
        HostSample(
            ts=ts,
            host=host,
            instances=len(members),
            cpu_percent=sum(m.cpu_percent for m in members),
            mem_percent=sum(m.mem_percent for m in members),
            rss_bytes=sum(m.rss_bytes for m in members),
            load_avg=max(m.load_avg for m in members),
            open_files=sum(m.open_files for m in members),
            threads=sum(m.threads for m in members),
        )
        for host, members in sorted(by_host.items())
    ]
