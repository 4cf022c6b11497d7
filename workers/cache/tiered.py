"""The tiered cache: in-process hot tier, Redis warm tier, compressed Redis cold tier.

``get`` looks in process, then warm and cold in one round trip (a cold hit moves back to warm),
then runs the loader once per key across all processes. Writes go to warm and invalidate every
other process's copy. Reads are counted for the promotion job (decayed statistics, access log)
and feed prefetching; all of that is batched or runs on one background thread, so an
in-process hit costs a few microseconds.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import redis

from workers import keys as cache_keys
from workers.cache.access_stats import AccessRecorder
from workers.cache.client import binary_client
from workers.cache.cold import ColdTier
from workers.cache.config import CacheConfig
from workers.cache.envelope import encode
from workers.cache.invalidation import EventListener
from workers.cache.l1 import L1Tier
from workers.cache.metrics import CacheMetrics, Metric, Tier
from workers.cache.prefetch import Prefetcher
from workers.cache.redis_tiers import RedisTiers
from workers.cache.serializers import get_serializer
from workers.cache.singleflight import MISSING, SingleFlight
from workers.cache.warm import WarmTier

log = logging.getLogger(__name__)

Loader = Callable[[str], Any]

#: Background tasks allowed to queue up; beyond this prefetches are skipped, not queued.
BACKGROUND_QUEUE_MAX = 256


class TieredCache:
    """One cache API over three tiers; see the module docstring. Close it when done."""

    def __init__(
        self,
        client: redis.Redis,
        config: CacheConfig | None = None,
        *,
        clock: Callable[[], float] = time.time,
        listen: bool = True,
    ) -> None:
        self.config = config = config or CacheConfig()
        self._client = binary_client(client)
        self._clock = clock
        self._serializer = get_serializer(config.serializer)
        self.origin = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        self.metrics = CacheMetrics()
        self.l1 = L1Tier(
            config.l1_capacity,
            config.l1_ttl_s,
            policy=config.policy,
            on_wasted_prefetch=lambda: self.metrics.count(Tier.HOT, Metric.PREFETCH_WASTED),
            on_rejected=lambda: self.metrics.count(Tier.HOT, Metric.REJECTED),
        )
        self._redis = RedisTiers(
            self._client,
            WarmTier(config.warm_ttl_s),
            ColdTier(config.cold_ttl_s),
            self.metrics,
            self.origin,
        )
        self._stats = AccessRecorder(
            self._client,
            config.decay_period_s,
            log=config.capacity is not None,
            log_maxlen=config.access_log_maxlen,
        )
        self._flight = SingleFlight(self._client, config.lock_ttl_s, config.lock_poll_s)
        self.prefetcher = Prefetcher(self._client, self.l1, config, clock)
        self._background = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cache-bg")
        self._queued = 0
        self._queue_lock = threading.Lock()
        #: One flush at a time: a flush that returns must find the reads a concurrent
        #: background flush already took written to Redis, not still in flight.
        self._flush_lock = threading.Lock()
        self._flush_queued = False
        self._last_flush = clock()
        self.hot: frozenset[str] = frozenset()
        self._listener: EventListener | None = None
        if listen:
            self._listener = EventListener(
                self._client,
                self.origin,
                on_invalidate=self.l1.discard,
                on_hot_set=self.refresh_hot_set,
                on_reconnect=self.l1.clear,
            )
            self.refresh_hot_set()

    # -- public API ----------------------------------------------------------------------

    def get(self, key: str, loader: Loader | None = None) -> Any:
        """The cached value, else ``loader(key)`` (stored), else None.

        Loader errors propagate and nothing is cached; every caller waiting on the same
        load gets the same error.
        """
        cache_keys.validate_cache_key(key)
        now = self._clock()
        entry = self.l1.get(key, now)
        if entry is not None:
            self.metrics.count(Tier.HOT, Metric.HITS)
            if entry.prefetched:
                entry.prefetched = False
                self.metrics.count(Tier.HOT, Metric.PREFETCH_HITS)
            self._after_read(key, now)
            if key in self.hot and now - entry.stored_at >= self.config.refresh_after_s:
                self.metrics.count(Tier.HOT, Metric.STALE_SERVED)
                self._submit(self._revalidate, key, loader)
            return entry.value
        self.metrics.count(Tier.HOT, Metric.MISSES)
        generation = self.l1.generation
        value = self._redis.read(key, now)
        self._after_read(key, now)
        if value is MISSING:
            if loader is None:
                return None
            value, _ = self._flight.run(
                key,
                lambda: self._timed_load(loader, key),
                lambda: self._redis.fetch(key),
                lambda loaded: self._store(key, loaded),
            )
        if key in self.hot:
            self.l1.pin(key, value, now)
        else:
            self.l1.put(key, value, now, generation=generation)
        return value

    def set(self, key: str, value: Any) -> None:
        """Store ``value`` in the warm tier and drop every other process's copy.

        Raises ``InvalidInput`` (and writes nothing) if the serializer cannot hold it.
        """
        cache_keys.validate_cache_key(key)
        blob = encode(value, self._serializer)
        self._redis.store(key, blob)
        self._stats.wrote(key)
        now = self._clock()
        self.l1.discard([key])
        if key in self.hot:
            self.l1.pin(key, value, now)
        else:
            self.l1.put(key, value, now)

    def delete(self, key: str) -> None:
        """Remove ``key`` from every tier and every process."""
        cache_keys.validate_cache_key(key)
        self._redis.delete(key)
        self.l1.discard([key])

    def warm(self, keys: Iterable[str], loader: Loader) -> int:
        """Load the keys not yet cached (once each, across processes); returns how many."""
        keys = [cache_keys.validate_cache_key(k) for k in keys]
        pipe = self._client.pipeline(transaction=False)
        for key in keys:
            pipe.exists(cache_keys.cache_warm(key), cache_keys.cache_cold(key))
        loaded = 0
        for key, present in zip(keys, pipe.execute(), strict=True):
            if present:
                continue
            _, ran = self._flight.run(
                key,
                lambda k=key: self._timed_load(loader, k),
                lambda k=key: self._redis.fetch(k),
                lambda value, k=key: self._store(k, value),
            )
            loaded += ran
        return loaded

    def related(self, key: str, keys: Iterable[str]) -> None:
        """Declare that reading ``key`` is usually followed by reading ``keys`` (prefetched)."""
        cache_keys.validate_cache_key(key)
        members = [cache_keys.validate_cache_key(k) for k in keys if k != key]
        if not members:
            return
        pipe = self._client.pipeline(transaction=False)
        pipe.sadd(cache_keys.cache_related(key), *members)
        pipe.expire(cache_keys.cache_related(key), self.config.warm_ttl_s)
        pipe.execute()
        self.prefetcher.set_relations(key, members, self._clock())

    def refresh_hot_set(self) -> None:
        """Follow the published hot set: pin new hot values, unpin the demoted ones."""
        members = self._client.smembers(cache_keys.CACHE_HOT_SET)
        hot = frozenset(m.decode() if isinstance(m, bytes) else m for m in members)
        self.l1.unpin(self.hot - hot)
        added = sorted(hot - self.hot)
        self.hot = hot
        if not added:
            return
        now = self._clock()
        blobs = self._client.mget([cache_keys.cache_warm(k) for k in added])
        for key, blob in zip(added, blobs, strict=True):
            value = self._redis.decoded(blob)
            if value is not MISSING:
                self.l1.pin(key, value, now)

    def flush(self) -> None:
        """Learn from buffered reads and send statistics and counters to Redis now."""
        with self._flush_lock:
            now = self._clock()
            self._last_flush = now
            reads, writes = self._stats.take()
            if self.config.prefetch:
                self.prefetcher.learn(reads)
            pipe = self._client.pipeline(transaction=False)
            self._stats.write(pipe, reads, writes, now)
            self.metrics.write(pipe)
            pipe.execute()

    def drain(self, timeout: float = 5.0) -> None:
        """Flush, then wait until background work queued so far (prefetch, refresh) has run."""
        self._background.submit(self.flush).result(timeout)
        self._background.submit(lambda: None).result(timeout)

    def close(self) -> None:
        if self._listener is not None:
            self._listener.close()
        self._background.shutdown(wait=True)
        try:
            self.flush()
        except redis.RedisError as exc:
            log.warning("cache statistics lost at close: %s", exc)

    def __enter__(self) -> TieredCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals -----------------------------------------------------------------------

    def _store(self, key: str, value: Any) -> None:
        self._redis.store(key, encode(value, self._serializer))
        self._stats.wrote(key)

    def _timed_load(self, loader: Loader, key: str) -> Any:
        started = time.perf_counter()
        try:
            return loader(key)
        finally:
            self.metrics.load_time(time.perf_counter() - started)
            self.metrics.count(Tier.COLD, Metric.LOADS)

    def _after_read(self, key: str, now: float) -> None:
        self._stats.read(key, now)
        if self.config.prefetch and self.prefetcher.wanted(key, now):
            self._submit(self.prefetcher.run, key)
        if (
            self._stats.pending() >= self.config.flush_batch
            or now - self._last_flush >= self.config.flush_interval_s
        ) and not self._flush_queued:
            self._flush_queued = self._submit(self._background_flush)
            self._last_flush = now

    def _background_flush(self) -> None:
        self._flush_queued = False
        self.flush()

    def _revalidate(self, key: str, loader: Loader | None) -> None:
        """Refresh a stale hot copy: from warm if it is there, else through the loader."""
        now = self._clock()
        generation = self.l1.generation
        value = self._redis.fetch(key)
        if value is MISSING and loader is not None:
            value, _ = self._flight.run(
                key,
                lambda: self._timed_load(loader, key),
                lambda: self._redis.fetch(key),
                lambda loaded: self._store(key, loaded),
            )
        if value is not MISSING and self.l1.generation == generation:
            self.l1.pin(key, value, now)

    def _submit(self, task: Callable[..., Any], *args: Any) -> bool:
        """Queue background work; False when the queue is full or the cache is closed."""
        with self._queue_lock:
            if self._queued >= BACKGROUND_QUEUE_MAX:
                return False
            self._queued += 1
        try:
            self._background.submit(self._guarded, task, *args)
        except RuntimeError:  # shut down
            with self._queue_lock:
                self._queued -= 1
            return False
        return True

    def _guarded(self, task: Callable[..., Any], *args: Any) -> None:
        try:
            task(*args)
        except Exception as exc:  # background work must never take the cache down
            log.warning("cache background task %s failed: %s", task.__name__, exc)
        finally:
            with self._queue_lock:
                self._queued -= 1
