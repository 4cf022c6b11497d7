"""Cache counters per tier: counted in process, summed in Redis, read by ``cache stats``."""

from __future__ import annotations

import threading
from collections import Counter
from enum import StrEnum
from typing import Any

import redis

from workers import keys as cache_keys

#: Loader durations kept in Redis for the p50/p99 (newest first).
LOAD_TIMES_KEPT = 1000


class Tier(StrEnum):
    """Where a value was found: pinned/admitted in process, Redis, compressed in Redis."""

    HOT = "hot"
    WARM = "warm"
    COLD = "cold"


class Metric(StrEnum):
    """Counter names, each kept per tier (``hot.hits``, ``cold.demotions``)."""

    HITS = "hits"
    MISSES = "misses"
    REJECTED = "admissions_rejected"
    PROMOTIONS = "promotions"
    DEMOTIONS = "demotions"
    EVICTIONS = "evictions"
    PREFETCH_HITS = "prefetch_hits"
    PREFETCH_WASTED = "prefetch_wasted"
    CORRUPT = "corrupt"
    STALE_SERVED = "stale_served"
    LOADS = "loads"


def field(tier: Tier, metric: Metric) -> str:
    return f"{tier.value}.{metric.value}"


_FIELDS = {(t, m): field(t, m) for t in Tier for m in Metric}


class CacheMetrics:
    """Thread-safe counters and load durations of one process, drained into Redis.

    ``snapshot`` gives this process's totals since start; ``write`` sends what is new.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._totals: Counter[str] = Counter()
        self._unsent: Counter[str] = Counter()
        self._load_ms: list[float] = []

    def count(self, tier: Tier, metric: Metric, n: int = 1) -> None:
        name = _FIELDS[tier, metric]
        with self._lock:
            self._totals[name] += n
            self._unsent[name] += n

    def load_time(self, seconds: float) -> None:
        with self._lock:
            self._load_ms.append(seconds * 1000)

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self._totals)

    def write(self, pipe: redis.client.Pipeline) -> None:
        """Queue the counts since the last write on ``pipe``."""
        with self._lock:
            counts, self._unsent = self._unsent, Counter()
            load_ms, self._load_ms = self._load_ms, []
        for name, n in counts.items():
            if n:
                pipe.hincrby(cache_keys.CACHE_METRICS, name, n)
        if load_ms:
            pipe.lpush(cache_keys.CACHE_LOAD_TIMES, *(round(ms, 3) for ms in load_ms))
            pipe.ltrim(cache_keys.CACHE_LOAD_TIMES, 0, LOAD_TIMES_KEPT - 1)


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def summarize(counts: dict[str, int], load_ms: list[float]) -> dict[str, Any]:
    """Per-tier table (hits, misses, hit ratio and the other counters) plus load times."""
    tiers: dict[str, dict[str, Any]] = {}
    for tier in Tier:
        row = {c.value: int(counts.get(field(tier, c), 0)) for c in Metric}
        asked = row[Metric.HITS] + row[Metric.MISSES]
        row["hit_ratio"] = round(row[Metric.HITS] / asked, 4) if asked else None
        tiers[tier.value] = row
    hits = sum(t[Metric.HITS] for t in tiers.values())
    asked = hits + tiers[Tier.COLD][Metric.MISSES]  # a cold miss is a miss of every tier
    return {
        "tiers": tiers,
        "overall_hit_ratio": round(hits / asked, 4) if asked else None,
        "load_ms": {
            "count": len(load_ms),
            "p50": percentile(load_ms, 50),
            "p99": percentile(load_ms, 99),
        },
    }


def read_metrics(client: redis.Redis) -> dict[str, Any]:
    """The summed counters of every process (see ``summarize``)."""
    raw = client.hgetall(cache_keys.CACHE_METRICS)
    counts = {_text(k): int(v) for k, v in raw.items()}
    load_ms = [float(v) for v in client.lrange(cache_keys.CACHE_LOAD_TIMES, 0, -1)]
    return summarize(counts, load_ms)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
