"""The warm tier: serialized values in Redis with the normal TTL."""

from __future__ import annotations

import redis

from workers import keys as cache_keys
from workers.cache.envelope import expanded
from workers.cache.metrics import Tier


class WarmTier:
    tier = Tier.WARM

    def __init__(self, ttl_s: int) -> None:
        self.ttl_s = ttl_s

    def redis_key(self, key: str) -> str:
        return cache_keys.cache_warm(key)

    def write(self, pipe: redis.client.Pipeline, key: str, blob: bytes, now: float) -> None:
        pipe.set(cache_keys.cache_warm(key), expanded(blob), ex=self.ttl_s)

    def remove(self, pipe: redis.client.Pipeline, key: str) -> None:
        pipe.delete(cache_keys.cache_warm(key))
