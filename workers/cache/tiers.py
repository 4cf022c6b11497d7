"""The Redis tiers' common interface: where a tier keeps a key, how it writes and drops it.

Writes are queued on a pipeline so a caller can move a value between tiers in one round trip.
"""

from __future__ import annotations

from typing import Protocol

import redis

from workers.cache.metrics import Tier


class RedisTier(Protocol):
    tier: Tier
    ttl_s: int

    def redis_key(self, key: str) -> str: ...

    def write(self, pipe: redis.client.Pipeline, key: str, blob: bytes, now: float) -> None:
        """Queue storing ``blob`` (an envelope as the cache encodes it) for ``key``."""
        ...

    def remove(self, pipe: redis.client.Pipeline, key: str) -> None: ...
