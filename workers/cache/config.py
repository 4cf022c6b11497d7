"""Settings of the tiered cache, with named defaults; built from the process settings."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

#: Entries per process in the in-process tier: ~4k small responses fit in a few MB.
L1_CAPACITY = 4096
#: In-process copies expire after a minute: a bound on staleness if an invalidation is lost.
L1_TTL_S = 60.0
#: A hot entry older than this is served stale and refreshed in the background.
REFRESH_AFTER_S = 20.0
#: Warm tier TTL: an hour of reuse for agent responses without unbounded growth.
WARM_TTL_S = 3600
#: Cold tier TTL: compressed victims get ten minutes to be asked for again.
COLD_TTL_S = 600
#: Entries the Redis tiers keep (enforced by the promotion job through the policy).
CAPACITY = 100_000
#: Decayed reads that make a key hot (held pinned in every worker's in-process tier).
HOT_THRESHOLD = 8
#: A hot key is demoted when its decayed reads fall below this (hysteresis below the
#: promotion threshold, so a key on the edge does not flap).
HOT_KEEP = 4
#: Largest hot set: every worker pins this many values in memory.
HOT_MAX = 1024
#: A warm key whose decayed reads fall below this cools to the cold tier.
COLD_BELOW = 1
#: Read counters are halved once per period (five minutes: an hour-old burst weighs 1/4096).
DECAY_PERIOD_S = 300.0
#: Learned prefetch: P(B | A) at least this, seen after at least ``PREFETCH_SUPPORT`` reads of A.
PREFETCH_THRESHOLD = 0.5
PREFETCH_SUPPORT = 3
#: Reads of B within this many seconds after A count as "B follows A".
CO_ACCESS_WINDOW_S = 2.0
#: Most keys prefetched after one read.
PREFETCH_MAX = 8
#: Cross-process load lock: longer than a typical load, short enough to recover from a crash.
LOCK_TTL_S = 30.0
#: How often a process waiting on another's load looks for the value.
LOCK_POLL_S = 0.02
#: Access statistics are sent to Redis in batches: at most this many, or this often.
FLUSH_BATCH = 256
FLUSH_INTERVAL_S = 1.0
#: Access log entries kept for the promotion job (approximate trim).
ACCESS_LOG_MAXLEN = 100_000


class CacheConfig(BaseModel):
    """Everything the cache and its promotion job need to know; immutable."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    serializer: str = "msgpack"
    policy: str = "wtinylfu"
    l1_capacity: int = Field(L1_CAPACITY, ge=1)
    l1_ttl_s: float = Field(L1_TTL_S, gt=0)
    refresh_after_s: float = Field(REFRESH_AFTER_S, gt=0)
    warm_ttl_s: int = Field(WARM_TTL_S, ge=1)
    cold_ttl_s: int = Field(COLD_TTL_S, ge=1)
    capacity: int | None = Field(CAPACITY, ge=1, description="None: bounded by TTLs only")
    hot_threshold: int = Field(HOT_THRESHOLD, ge=1)
    hot_keep: int = Field(HOT_KEEP, ge=1)
    hot_max: int = Field(HOT_MAX, ge=0)
    cold_below: int = Field(COLD_BELOW, ge=0)
    decay_period_s: float = Field(DECAY_PERIOD_S, gt=0)
    prefetch: bool = True
    prefetch_threshold: float = Field(PREFETCH_THRESHOLD, gt=0, le=1)
    prefetch_support: int = Field(PREFETCH_SUPPORT, ge=1)
    co_access_window_s: float = Field(CO_ACCESS_WINDOW_S, gt=0)
    prefetch_max: int = Field(PREFETCH_MAX, ge=0)
    lock_ttl_s: float = Field(LOCK_TTL_S, gt=0)
    lock_poll_s: float = Field(LOCK_POLL_S, gt=0)
    flush_batch: int = Field(FLUSH_BATCH, ge=1)
    flush_interval_s: float = Field(FLUSH_INTERVAL_S, gt=0)
    access_log_maxlen: int = Field(ACCESS_LOG_MAXLEN, ge=1000)
    sampled_responses: bool = Field(
        False, description="also cache agent responses made with temperature > 0"
    )


def config_from_settings(settings: Any) -> CacheConfig:
    """The cache section of the process settings (defaults when it has none)."""
    config = getattr(settings, "cache", None)
    return config if isinstance(config, CacheConfig) else CacheConfig()
