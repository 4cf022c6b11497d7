"""The cold tier: zlib-compressed values in Redis with a short TTL, indexed by demotion time.

Values land here when they cool down or the capacity policy evicts them from the warm tier;
a read promotes them back to warm, the promotion job evicts them once past the TTL.
"""

from __future__ import annotations

from importlib import resources

import redis

from workers import keys as cache_keys
from workers.cache.envelope import CorruptValue, compressed
from workers.cache.metrics import Tier

#: Source of the Lua script, read once at import.
DEMOTE_LUA = resources.files("workers.cache").joinpath("demote.lua").read_text("utf-8")


class ColdTier:
    tier = Tier.COLD

    def __init__(self, ttl_s: int) -> None:
        self.ttl_s = ttl_s

    def redis_key(self, key: str) -> str:
        return cache_keys.cache_cold(key)

    def write(self, pipe: redis.client.Pipeline, key: str, blob: bytes, now: float) -> None:
        pipe.set(cache_keys.cache_cold(key), compressed(blob), ex=self.ttl_s)
        pipe.zadd(cache_keys.CACHE_COLD_INDEX, {key: now})

    def remove(self, pipe: redis.client.Pipeline, key: str) -> None:
        pipe.delete(cache_keys.cache_cold(key))
        pipe.zrem(cache_keys.CACHE_COLD_INDEX, key)


class Demoter:
    """Warm -> cold moves that lose to a concurrent write instead of overwriting it."""

    def __init__(self, client: redis.Redis, cold: ColdTier) -> None:
        self._client = client
        self._cold = cold
        self._script = client.register_script(DEMOTE_LUA)

    def demote(self, key: str, now: float) -> bool:
        """True when ``key`` moved; False when it was gone, changed meanwhile or corrupt."""
        try:
            blob = self._client.get(cache_keys.cache_warm(key))
        except redis.ResponseError:  # a foreign value of another type
            blob = b""
        if blob is None:
            return False
        try:
            packed = compressed(blob)
        except CorruptValue:
            self._client.delete(cache_keys.cache_warm(key))
            return False
        keys = [cache_keys.cache_warm(key), cache_keys.cache_cold(key), cache_keys.CACHE_COLD_INDEX]
        args = [blob, packed, self._cold.ttl_s, now, key]
        return bool(self._script(keys=keys, args=args))
