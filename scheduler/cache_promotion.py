"""The ``promote_cache_tiers`` job: bound, promote, demote and evict cache entries.

A thin shell over ``workers.cache.promotion``: it takes the run lock (two beats never run it
at once), builds the cache settings and runs one pass. Every step is idempotent and atomic
per key, so running it twice or killing it half-way is safe.
"""

from __future__ import annotations

import time
from typing import Any

import redis

from workers import keys as cache_keys
from workers.cache.client import binary_client
from workers.cache.config import config_from_settings
from workers.cache.promotion import promote_tiers
from workers.lock import RedisLock
from workers.settings import Settings

#: The run lock outlives any sane run; a killed run's lock expires on its own.
LOCK_TTL_MS = 300_000


def run_job(
    redis_client: redis.Redis,
    settings: Settings,
    mongo_db: Any = None,
    *,
    now: float | None = None,
) -> dict[str, Any]:
    """One promotion pass; returns what moved, or ``{"skipped": ...}`` if another run is on.

    ``mongo_db`` is accepted for the common job signature; the cache lives in Redis only.
    """
    client = binary_client(redis_client)
    config = config_from_settings(settings)
    with RedisLock(client, cache_keys.CACHE_PROMOTION_LOCK, LOCK_TTL_MS) as lock:
        if not lock.acquired:
            return {"skipped": "another promotion run holds the lock"}
        return promote_tiers(client, config, time.time() if now is None else now)
