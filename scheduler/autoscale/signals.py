"""What the autoscaler knows about one pool, read from Redis only.

Queue depth and the age of the oldest message come from the broker's lists: kombu's Redis
transport LPUSHes JSON messages and consumers pop from the right, so the oldest message of
each priority sub-list sits at index -1 and carries the ``im_sent_at`` header stamped at
publish. Instances come from the registry sorted set and their heartbeat hashes; rates and the
backlog trend come from the successive samples kept by :mod:`scheduler.autoscale.samples`.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import redis

from scheduler.autoscale import samples
from workers import keys
from workers.heartbeat import InstanceState
from workers.inspect import sent_at
from workers.settings import Settings

#: An instance registered within this many heartbeat TTLs but no longer beating counts as
#: lost: the pool's picture is incomplete, so scale-in waits. Older entries are forgotten.
LOST_WINDOW_TTLS = 5.0
#: Tasks after which an instance's moving-average run time (weight 0.2 per task) has all but
#: forgotten its first, warm-up task (0.8 ** 10 ≈ 0.1).
WARM_TASKS = 10


@dataclass(frozen=True, slots=True)
class PoolSignals:
    """One reading of a pool. Counts are instances or messages; rates are per second.

    ``reserved`` and ``active`` sum the healthy (non-draining) instances only: work held by a
    draining instance finishes there or goes back to the queue. ``new_instance_starts`` are
    the start times (first heartbeat) of instances that appeared since the previous recorded
    reading; with the time of the scale-up that ordered them they give the boot time.
    ``service_time_s`` is the healthy instances' mean task run time, averaged over the rate
    window (None before any finished a task); with the rates it gives the load in busy slots.
    ``last_arrival_rate`` and ``last_completion_rate`` cover only the interval since the
    previous recorded reading.
    ``problems`` lists, in plain words, why the reading is incomplete; the decision refuses to
    scale in while it is not empty.
    """

    agent_type: str
    pool: str
    queue: str
    timestamp: float
    queue_depth: int = 0
    depth_by_priority: tuple[int, ...] = ()
    oldest_age_s: float | None = None
    reserved: int = 0
    active: int = 0
    instances: int = 0
    draining: int = 0
    busy: int = 0
    lost: int = 0
    capacity_per_instance: int = 1
    utilization: float | None = None
    cpu_percent: float | None = None
    memory_percent: float | None = None
    arrival_rate: float | None = None
    completion_rate: float | None = None
    backlog_slope: float | None = None
    last_arrival_rate: float | None = None
    last_completion_rate: float | None = None
    service_time_s: float | None = None
    heartbeat_age_s: float | None = None
    max_age_s: float = 6.0
    new_instance_starts: tuple[float, ...] = ()
    problems: tuple[str, ...] = field(default_factory=tuple)

    @property
    def backlog(self) -> int:
        """Messages waiting plus those held by healthy instances."""
        return self.queue_depth + self.reserved + self.active

    def stale_reason(self, now: float) -> str | None:
        """Why this reading must not drive a scale-in, or None when it is complete and fresh."""
        age = now - self.timestamp
        if age > self.max_age_s:
            return f"signals are {age:.0f} s old"
        if self.heartbeat_age_s is not None and self.heartbeat_age_s > self.max_age_s:
            return f"newest heartbeat is {self.heartbeat_age_s:.0f} s old"
        if self.problems:
            return "; ".join(self.problems)
        return None

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["depth_by_priority"] = list(self.depth_by_priority)
        out["problems"] = list(self.problems)
        out["new_instance_starts"] = list(self.new_instance_starts)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PoolSignals:
        known = {f for f in cls.__dataclass_fields__}
        kwargs = {k: v for k, v in data.items() if k in known}
        kwargs["depth_by_priority"] = tuple(kwargs.get("depth_by_priority", ()))
        kwargs["problems"] = tuple(kwargs.get("problems", ()))
        kwargs["new_instance_starts"] = tuple(kwargs.get("new_instance_starts", ()))
        return cls(**kwargs)


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """The fields of one heartbeat hash the autoscaler uses."""

    instance: str
    state: str
    concurrency: int
    active: int
    reserved: int
    completed: int
    cpu_percent: float | None
    memory_percent: float | None
    run_time_ms: float | None
    started_at: float
    updated_at: float
    #: Summed run time of the instance's finished tasks (None from an older worker).
    run_ms_total: float | None = None


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _float(raw: dict[str, str], name: str) -> float | None:
    value = raw.get(name)
    if value in (None, ""):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def parse_heartbeat(instance: str, data: dict[Any, Any], score: float) -> Heartbeat:
    """A heartbeat hash as typed values; raises ValueError on a malformed number."""
    raw = {_text(k): _text(v) for k, v in data.items()}
    return Heartbeat(
        instance=instance,
        state=raw.get("state", InstanceState.ACTIVE),
        concurrency=max(1, int(raw.get("concurrency") or 1)),
        active=max(0, int(raw.get("active") or 0)),
        reserved=max(0, int(raw.get("reserved") or 0)),
        completed=int(raw.get("processed") or 0) + int(raw.get("failed") or 0),
        cpu_percent=_float(raw, "cpu_percent"),
        memory_percent=_float(raw, "mem_percent"),
        run_time_ms=_float(raw, "ewma_latency_ms"),
        started_at=_float(raw, "started_at") or 0.0,
        updated_at=_float(raw, "updated_at") or score,
        run_ms_total=_float(raw, "run_ms_total"),
    )


def read_queue(client: redis.Redis, queue: str) -> tuple[tuple[int, ...], float | None, bool]:
    """Depth of each priority sub-list, the oldest sent-at stamp, and whether one lacked it."""
    lists = keys.priority_queue_keys(queue)
    pipe = client.pipeline(transaction=False)
    for key in lists:
        pipe.llen(key)
        pipe.lindex(key, -1)
    replies = pipe.execute()
    depths = tuple(int(n) for n in replies[0::2])
    stamps: list[float] = []
    unstamped = False
    for depth, tail in zip(depths, replies[1::2], strict=True):
        if depth == 0:
            continue
        stamp = sent_at(tail)
        if stamp is None:
            unstamped = True
        else:
            stamps.append(stamp)
    return depths, (min(stamps) if stamps else None), unstamped


def read_heartbeats(
    client: redis.Redis, agent_type: str, pool: str, now: float, ttl_s: float
) -> tuple[list[Heartbeat], int, list[str]]:
    """Beating instances of the pool, the number recently lost, and malformed-entry notes."""
    since = now - ttl_s * LOST_WINDOW_TTLS
    members = client.zrangebyscore(keys.INSTANCES, since, "+inf", withscores=True)
    mine: list[tuple[str, float]] = []
    for member, score in members:
        name = _text(member)
        parsed = keys.parse_instance(name)
        if parsed is not None and parsed[:2] == (agent_type, pool):
            mine.append((name, float(score)))
    pipe = client.pipeline(transaction=False)
    for name, _ in mine:
        pipe.hgetall(keys.heartbeat(name))
    hashes = pipe.execute() if mine else []
    beats: list[Heartbeat] = []
    lost = 0
    notes: list[str] = []
    for (name, score), data in zip(mine, hashes, strict=True):
        if not data:
            lost += 1
            continue
        try:
            beat = parse_heartbeat(name, data, score)
        except ValueError:
            notes.append(f"heartbeat of {name} is malformed")
            continue
        if now - beat.updated_at > ttl_s:
            lost += 1
        else:
            beats.append(beat)
    return beats, lost, notes


def _mean(values: list[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return sum(known) / len(known) if known else None


def _service_time(beats: list[Heartbeat]) -> float | None:
    """Mean task run time in seconds, each instance weighted by the tasks it has finished (up
    to ``WARM_TASKS``); an instance that finished nothing yet reports 0 and is left out.

    An instance's moving average starts at its first task, worker warm-up included, and
    takes about ten tasks to forget it: a freshly started instance must not set the pool's
    run time.
    """
    weighted = [
        (max(1, min(b.completed, WARM_TASKS)), b.run_time_ms) for b in beats if b.run_time_ms
    ]
    total = sum(w for w, _ in weighted)
    if not total:
        return None
    return sum(w * ms for w, ms in weighted) / total / 1000


def read_signals(
    client: redis.Redis,
    agent_type: str,
    pool: str,
    settings: Settings,
    now: float,
    *,
    record: bool = True,
) -> PoolSignals:
    """Read one pool's signals; with ``record`` also keep this reading as a rate sample.

    Only the autoscale job records (under its lock); displays read with ``record=False`` so
    they never disturb the sample series.
    """
    queue = keys.pool_queue(agent_type, pool)
    ttl = settings.heartbeat_ttl_s
    depths, oldest, unstamped = read_queue(client, queue)
    beats, lost, problems = read_heartbeats(client, agent_type, pool, now, ttl)
    healthy = [b for b in beats if b.state != InstanceState.DRAINING]
    configured = settings.agents.get(agent_type)
    fallback_capacity = configured.pools[pool].concurrency if configured else 1
    capacity = max((b.concurrency for b in healthy), default=fallback_capacity)
    active = sum(b.active for b in healthy)
    if lost:
        problems.append(f"{lost} instance(s) stopped beating")
    if unstamped and oldest is None:
        problems.append("queued messages carry no sent-at header")
    depth = sum(depths)
    rates, appeared = samples.update(
        client,
        agent_type,
        pool,
        now,
        backlog=depth + sum(b.active + b.reserved for b in beats),
        counters={b.instance: (b.completed, b.started_at) for b in beats},
        run_totals={b.instance: b.run_ms_total for b in beats if b.run_ms_total is not None},
        record=record,
        service_s=_service_time(healthy),
    )
    return PoolSignals(
        agent_type=agent_type,
        pool=pool,
        queue=queue,
        timestamp=now,
        queue_depth=depth,
        depth_by_priority=depths,
        oldest_age_s=max(0.0, now - oldest) if oldest is not None else None,
        reserved=sum(b.reserved for b in healthy),
        active=active,
        instances=len(healthy),
        draining=len(beats) - len(healthy),
        busy=sum(1 for b in healthy if b.active + b.reserved > 0),
        lost=lost,
        capacity_per_instance=capacity,
        utilization=active / (len(healthy) * capacity) if healthy else None,
        cpu_percent=_mean([b.cpu_percent for b in healthy]),
        memory_percent=_mean([b.memory_percent for b in healthy]),
        arrival_rate=rates.arrival_rate,
        completion_rate=rates.completion_rate,
        backlog_slope=rates.backlog_slope,
        last_arrival_rate=rates.last_arrival_rate,
        last_completion_rate=rates.last_completion_rate,
        service_time_s=rates.service_time_s,
        heartbeat_age_s=max((now - b.updated_at for b in beats), default=None),
        new_instance_starts=appeared,
        max_age_s=ttl,
        problems=tuple(problems),
    )
