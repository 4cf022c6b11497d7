"""Prefetching: after a read of A, bring B into the in-process tier before it is asked for.

B comes from explicit relations (``related(A, [B, ...])``, kept in Redis) and from the learned
co-access model (P(B | A) above the threshold). Learning happens in batches on the cache's
background thread (``learn``); the read path only looks up a precomputed follower list.
Only values already in the warm tier are fetched; prefetch never calls a loader.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import redis

from workers import keys as cache_keys
from workers.cache.co_access import CoAccessModel
from workers.cache.config import CacheConfig
from workers.cache.envelope import CorruptValue, decode
from workers.cache.l1 import L1Tier

#: Explicit relations are re-read from Redis at most this often per key.
RELATIONS_TTL_S = 30.0
#: A key triggers a prefetch at most this often (its followers are in process by then).
REPEAT_S = 1.0
#: Bound on the per-key bookkeeping; cleared when exceeded.
TRACKED_MAX = 50_000


class Prefetcher:
    def __init__(
        self, client: redis.Redis, l1: L1Tier, config: CacheConfig, clock: Callable[[], float]
    ) -> None:
        self._client = client
        self._l1 = l1
        self._config = config
        self._clock = clock
        self._lock = threading.Lock()
        self.model = CoAccessModel(config.co_access_window_s)
        #: key -> keys to prefetch after it; read without a lock (single dict operations).
        self.followers: dict[str, tuple[str, ...]] = {}
        self._relations: dict[str, tuple[float, list[str]]] = {}
        self._scheduled: dict[str, float] = {}

    def wanted(self, key: str, now: float) -> bool:
        """On the read path: should a prefetch for ``key`` be scheduled now?"""
        if not self.followers.get(key):
            return False
        if now - self._scheduled.get(key, float("-inf")) < REPEAT_S:
            return False
        if len(self._scheduled) > TRACKED_MAX:
            self._scheduled = {}
        self._scheduled[key] = now
        return True

    def set_relations(self, key: str, keys: list[str], now: float) -> None:
        """Known explicit relations (after ``related``), so the next read prefetches them."""
        with self._lock:
            known = self._relations.get(key, (0.0, []))[1]
            self._relations[key] = (now + RELATIONS_TTL_S, sorted(set(known) | set(keys)))
            self._update(key)

    def learn(self, reads: list[tuple[str, float]]) -> None:
        """Feed a batch of reads to the model and refresh the follower lists they touch."""
        if not reads:
            return
        now = self._clock()
        touched = list(dict.fromkeys(key for key, _ in reads))
        stale = [k for k in touched if self._relations.get(k, (0.0, []))[0] <= now]
        fetched = self._fetch_relations(stale)
        with self._lock:
            for key, at in reads:
                self.model.observe(key, at)
            for key, members in zip(stale, fetched, strict=True):
                self._relations[key] = (now + RELATIONS_TTL_S, members)
            if len(self._relations) > TRACKED_MAX:
                self._relations = {k: self._relations[k] for k in touched}
                self.followers = {k: v for k, v in self.followers.items() if k in touched}
            for key in touched:
                self._update(key)

    def run(self, key: str) -> list[str]:
        """Fetch the keys that follow ``key`` into the in-process tier; returns those stored."""
        wanted = [k for k in self.followers.get(key, ()) if k not in self._l1]
        if not wanted:
            return []
        now = self._clock()
        generation = self._l1.generation
        blobs = self._client.mget([cache_keys.cache_warm(k) for k in wanted])
        stored = []
        for k, blob in zip(wanted, blobs, strict=True):
            value = _decoded(blob)
            if value is not _NOTHING and self._l1.put(
                k, value, now, prefetched=True, generation=generation
            ):
                stored.append(k)
        return stored

    def _fetch_relations(self, keys: list[str]) -> list[list[str]]:
        if not keys:
            return []
        pipe = self._client.pipeline(transaction=False)
        for key in keys:
            pipe.smembers(cache_keys.cache_related(key))
        return [
            sorted(m.decode() if isinstance(m, bytes) else m for m in members)
            for members in pipe.execute()
        ]

    def _update(self, key: str) -> None:
        config = self._config
        learned = self.model.predict(
            key, config.prefetch_threshold, config.prefetch_support, config.prefetch_max
        )
        explicit = self._relations.get(key, (0.0, []))[1]
        follow = tuple(k for k in dict.fromkeys(explicit + learned) if k != key)
        if follow:
            self.followers[key] = follow[: config.prefetch_max]
        else:
            self.followers.pop(key, None)


_NOTHING: Any = object()


def _decoded(blob: bytes | None) -> Any:
    if blob is None:
        return _NOTHING
    try:
        return decode(blob)
    except CorruptValue:
        return _NOTHING
