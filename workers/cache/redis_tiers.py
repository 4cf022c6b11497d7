"""Reading and writing the two Redis tiers together, with their counters.

One round trip reads warm and cold; a cold hit moves back to warm; a write lands in warm,
clears cold and tells every other process to drop its in-process copy.
"""

from __future__ import annotations

import logging
from typing import Any

import redis

from workers import keys as cache_keys
from workers.cache.envelope import CorruptValue, decode
from workers.cache.invalidation import publish_invalidation
from workers.cache.metrics import CacheMetrics, Metric, Tier
from workers.cache.singleflight import MISSING
from workers.cache.tiers import RedisTier

log = logging.getLogger(__name__)


class RedisTiers:
    def __init__(
        self,
        client: redis.Redis,
        warm: RedisTier,
        cold: RedisTier,
        metrics: CacheMetrics,
        origin: str,
    ) -> None:
        self.client = client
        self.warm = warm
        self.cold = cold
        self.metrics = metrics
        self.origin = origin

    def fetch(self, key: str) -> Any:
        """Value from warm or cold, or ``MISSING``, without counting (used while waiting)."""
        warm_blob, cold_blob = self._blobs(key)
        value = self.decoded(warm_blob)
        return value if value is not MISSING else self.decoded(cold_blob)

    def read(self, key: str, now: float) -> Any:
        """Value from warm, else from cold (moved back to warm), else ``MISSING``; counted."""
        warm_blob, cold_blob = self._blobs(key)
        if warm_blob is not None:
            value = self.decoded(warm_blob)
            if value is not MISSING:
                self.metrics.count(Tier.WARM, Metric.HITS)
                return value
        self.metrics.count(Tier.WARM, Metric.MISSES)
        value = self.decoded(cold_blob)
        if value is MISSING:
            self.metrics.count(Tier.COLD, Metric.MISSES)
            return MISSING
        self.metrics.count(Tier.COLD, Metric.HITS)
        pipe = self.client.pipeline(transaction=True)
        self.warm.write(pipe, key, cold_blob, now)  # type: ignore[arg-type]
        self.cold.remove(pipe, key)
        pipe.execute()
        self.metrics.count(Tier.WARM, Metric.PROMOTIONS)
        return value

    def store(self, key: str, blob: bytes) -> None:
        pipe = self.client.pipeline(transaction=False)
        self.warm.write(pipe, key, blob, 0.0)
        self.cold.remove(pipe, key)
        publish_invalidation(pipe, self.origin, [key])
        pipe.execute()

    def delete(self, key: str) -> None:
        pipe = self.client.pipeline(transaction=False)
        self.warm.remove(pipe, key)
        self.cold.remove(pipe, key)
        publish_invalidation(pipe, self.origin, [key])
        pipe.execute()

    def decoded(self, blob: bytes | None) -> Any:
        """The value in ``blob``; ``MISSING`` for none and for corrupt or foreign bytes."""
        if blob is None:
            return MISSING
        try:
            return decode(blob)
        except CorruptValue as exc:
            self.metrics.count(Tier.WARM, Metric.CORRUPT)
            log.debug("corrupt cache value treated as a miss: %s", exc)
            return MISSING

    def _blobs(self, key: str) -> tuple[bytes | None, bytes | None]:
        pipe = self.client.pipeline(transaction=False)
        pipe.get(cache_keys.cache_warm(key))
        pipe.get(cache_keys.cache_cold(key))
        # A foreign value of another type (WRONGTYPE) reads as empty bytes: corrupt, a miss.
        warm_blob, cold_blob = (
            b"" if isinstance(r, redis.ResponseError) else r
            for r in pipe.execute(raise_on_error=False)
        )
        return warm_blob, cold_blob
