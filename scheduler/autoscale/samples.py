"""Successive readings of a pool kept in Redis, and the rates and trend they give.

Arrivals are not counted anywhere on the hot path; they follow from the samples: what
arrived between two readings is the change of the backlog plus what completed, and
completions are the growth of the instances' processed + failed counters.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import redis

from workers import keys

#: Samples kept per pool: at the default 5 s interval about five minutes, more than any window.
MAX_SAMPLES = 64
#: Samples are kept this far back; the backlog slope looks back the whole minute (long enough
#: to smooth single polls for a 30 s projection).
RATE_WINDOW_S = 60.0
#: Arrival and completion rates look back at least this long: the load they give sizes the
#: pool, so they must follow the end of a burst within seconds, yet count enough arrivals
#: (ten seconds at one a second) that one unlucky poll does not read as a rise.
LOAD_WINDOW_S = 10.0
#: Two readings closer than this give no meaningful rate.
MIN_SPAN_S = 1.0
#: A pool that is no longer configured loses its samples after an hour.
SAMPLES_TTL_S = 3600


@dataclass(frozen=True, slots=True)
class Sample:
    """One reading: backlog, completions since the previous reading, per-instance counters.

    ``counters`` maps an instance to (processed + failed, started_at) so the next reading can
    tell growth from a restarted counter. ``service_s`` is the instances' mean run time then
    (their moving averages). ``run_totals`` are the instances' summed task run times, and
    ``ran`` is (tasks, milliseconds) they finished since the previous reading, counting
    only instances that report both readings' totals.
    """

    t: float
    backlog: int
    done: int | None = None
    counters: dict[str, tuple[int, float]] = field(default_factory=dict)
    service_s: float | None = None
    run_totals: dict[str, float] = field(default_factory=dict)
    ran: tuple[int, float] | None = None

    def to_json(self) -> str:
        return json.dumps(
            {
                "t": self.t,
                "backlog": self.backlog,
                "done": self.done,
                "counters": self.counters,
                "service_s": self.service_s,
                "run_totals": self.run_totals,
                "ran": self.ran,
            }
        )

    @classmethod
    def from_json(cls, text: str | bytes) -> Sample:
        data = json.loads(text)
        counters = {k: (int(v[0]), float(v[1])) for k, v in (data.get("counters") or {}).items()}
        done = data.get("done")
        service = data.get("service_s")
        ran = data.get("ran")
        return cls(
            t=float(data["t"]),
            backlog=int(data["backlog"]),
            done=None if done is None else int(done),
            counters=counters,
            service_s=None if service is None else float(service),
            run_totals={k: float(v) for k, v in (data.get("run_totals") or {}).items()},
            ran=None if ran is None else (int(ran[0]), float(ran[1])),
        )


@dataclass(frozen=True, slots=True)
class Rates:
    """Messages per second; None when the samples do not span enough time.

    ``last_arrival_rate`` and ``last_completion_rate`` cover only the interval since the
    previous reading: the first to show a burst begin or end. ``service_time_s`` is the
    exact mean run time of the tasks finished in the window (summed run time over summed
    completions); with too few of them, the readings' moving averages stand in.
    """

    arrival_rate: float | None = None
    completion_rate: float | None = None
    backlog_slope: float | None = None
    last_arrival_rate: float | None = None
    last_completion_rate: float | None = None
    service_time_s: float | None = None


def completions_since(
    previous: Sample | None, counters: dict[str, tuple[int, float]]
) -> int | None:
    """Tasks finished since ``previous``; None without a previous reading.

    An instance started after the previous reading contributes its whole counter; one whose
    counter went backwards (a restart seen under the same name) contributes what it has now.
    """
    if previous is None:
        return None
    done = 0
    for instance, (count, started_at) in counters.items():
        before = previous.counters.get(instance)
        if before is not None and count >= before[0] and started_at == before[1]:
            done += count - before[0]
        elif before is not None or started_at >= previous.t:
            done += count
    return done


def run_since(
    previous: Sample | None,
    counters: dict[str, tuple[int, float]],
    run_totals: dict[str, float],
) -> tuple[int, float] | None:
    """(tasks, run milliseconds) finished since ``previous`` by instances whose summed run
    time both readings know; an instance restarted under its name counts from zero."""
    if previous is None:
        return None
    tasks, ms = 0, 0.0
    for instance, total in run_totals.items():
        count, started_at = counters[instance]
        before = previous.counters.get(instance)
        before_ms = previous.run_totals.get(instance)
        if before is not None and started_at == before[1] and count >= before[0]:
            if before_ms is not None and total >= before_ms:
                tasks += count - before[0]
                ms += total - before_ms
        elif started_at >= previous.t or before is not None:
            tasks += count
            ms += total
    return tasks, ms


def slope(points: list[tuple[float, float]]) -> float | None:
    """Least-squares slope of (t, value) points; None for fewer than two distinct times."""
    if len(points) < 2:
        return None
    mean_t = sum(t for t, _ in points) / len(points)
    mean_v = sum(v for _, v in points) / len(points)
    var = sum((t - mean_t) ** 2 for t, _ in points)
    if var == 0:
        return None
    return sum((t - mean_t) * (v - mean_v) for t, v in points) / var


def recent(ordered: list[Sample], span_s: float) -> list[Sample]:
    """The shortest run of newest samples spanning at least ``span_s`` (all when none does)."""
    newest = ordered[-1].t
    start = max((i for i, s in enumerate(ordered) if s.t <= newest - span_s), default=0)
    return ordered[start:]


def rates(window: list[Sample], load_window_s: float = LOAD_WINDOW_S) -> Rates:
    """Rates over the newest ``load_window_s`` of the samples, slope over all; any order."""
    ordered = sorted(window, key=lambda s: s.t)
    service = _service_time(ordered)
    if len(ordered) < 2 or ordered[-1].t - ordered[0].t < MIN_SPAN_S:
        return Rates(service_time_s=service)
    near = recent(ordered, load_window_s)
    span = near[-1].t - near[0].t
    done = sum(s.done or 0 for s in near[1:])
    arrived = near[-1].backlog - near[0].backlog + done
    before, last = ordered[-2], ordered[-1]
    gap = last.t - before.t
    last_arrival = last_completion = None
    if gap >= MIN_SPAN_S:
        last_completion = (last.done or 0) / gap
        last_arrival = max(0.0, (last.backlog - before.backlog + (last.done or 0)) / gap)
    return Rates(
        arrival_rate=max(0.0, arrived / span),
        completion_rate=done / span,
        backlog_slope=slope([(s.t, float(s.backlog)) for s in ordered]),
        last_arrival_rate=last_arrival,
        last_completion_rate=last_completion,
        service_time_s=service,
    )


#: Fewer finished tasks than this in the window: the moving averages give the run time.
MIN_EXACT_TASKS = 3


def _service_time(ordered: list[Sample]) -> float | None:
    runs = [s.ran for s in ordered if s.ran is not None]
    tasks = sum(n for n, _ in runs)
    if tasks >= MIN_EXACT_TASKS:
        return sum(ms for _, ms in runs) / tasks / 1000
    times = [s.service_s for s in ordered if s.service_s is not None]
    return sum(times) / len(times) if times else None


def load(client: redis.Redis, agent_type: str, pool: str) -> list[Sample]:
    """Stored samples, newest first; unreadable entries are skipped."""
    out: list[Sample] = []
    for text in client.lrange(keys.scale_samples(agent_type, pool), 0, MAX_SAMPLES - 1):
        try:
            out.append(Sample.from_json(text))
        except (ValueError, KeyError, TypeError, IndexError):
            continue
    return out


def update(
    client: redis.Redis,
    agent_type: str,
    pool: str,
    now: float,
    *,
    backlog: int,
    counters: dict[str, tuple[int, float]],
    record: bool,
    service_s: float | None = None,
    run_totals: dict[str, float] | None = None,
) -> tuple[Rates, tuple[float, ...]]:
    """Rates including a reading taken at ``now``, and the start times of the instances that
    appeared since the previous reading; with ``record`` the reading is stored."""
    stored = [s for s in load(client, agent_type, pool) if s.t < now]
    previous = max(stored, key=lambda s: s.t, default=None)
    done = completions_since(previous, counters)
    run_totals = run_totals or {}
    ran = run_since(previous, counters, run_totals)
    current = Sample(now, backlog, done, counters, service_s, run_totals, ran)
    if record:
        key = keys.scale_samples(agent_type, pool)
        pipe = client.pipeline(transaction=True)
        pipe.lpush(key, current.to_json())
        pipe.ltrim(key, 0, MAX_SAMPLES - 1)
        pipe.expire(key, SAMPLES_TTL_S)
        pipe.execute()
    window = [s for s in stored if s.t >= now - RATE_WINDOW_S]
    appeared = tuple(
        sorted(
            started
            for instance, (_, started) in counters.items()
            if previous is not None and instance not in previous.counters
        )
    )
    return rates([*window, current]), appeared
