"""The hot tier: an in-process copy of values in each worker, bounded and frequency-aware.

Two regions: the *pinned* hot set published by the promotion job (the same keys in every
worker) and an *admitted* region whose admission and eviction the shared policy decides
(W-TinyLFU by default, the same code the simulator replays). Storage and size accounting are
``cachetools.Cache``; the policy only tracks keys. Thread-safe.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from typing import Any

import cachetools

from workers.cache.policy import EvictionPolicy, make_policy


@dataclass(slots=True)
class Entry:
    value: Any
    stored_at: float
    expires_at: float
    #: Brought in by prefetch and not read yet (counts a prefetch hit or a wasted prefetch).
    prefetched: bool = False


class _PolicyCache(cachetools.Cache):  # type: ignore[misc]
    """cachetools storage whose eviction is decided by an ``EvictionPolicy``."""

    def __init__(self, policy: EvictionPolicy, on_evict: Callable[[Hashable, Entry], None]):
        super().__init__(maxsize=policy.capacity)
        self.policy = policy
        self._on_evict = on_evict

    def admit(self, key: Hashable, entry: Entry) -> bool:
        """Store ``entry`` if the policy takes the key; evicted keys leave storage."""
        if key in self:
            cachetools.Cache.__setitem__(self, key, entry)
            return True
        admitted = True
        for victim in self.policy.add(key):
            if victim == key:
                admitted = False
            elif victim in self:
                self._on_evict(victim, cachetools.Cache.pop(self, victim))
        if admitted:
            cachetools.Cache.__setitem__(self, key, entry)
        return admitted

    def popitem(self) -> tuple[Hashable, Entry]:  # pragma: no cover - policy keeps us in bounds
        key = next(iter(self))
        self.policy.remove(key)
        return key, cachetools.Cache.pop(self, key)


class L1Tier:
    """Pinned hot entries plus a policy-managed region; ``get`` returns live entries only."""

    def __init__(
        self,
        capacity: int,
        ttl_s: float,
        *,
        policy: str = "wtinylfu",
        on_wasted_prefetch: Callable[[], None] = lambda: None,
        on_rejected: Callable[[], None] = lambda: None,
    ) -> None:
        self.ttl_s = ttl_s
        self._lock = threading.Lock()
        self._pinned: dict[str, Entry] = {}
        self._store = _PolicyCache(make_policy(policy, capacity), self._evicted)
        self._on_wasted_prefetch = on_wasted_prefetch
        self._on_rejected = on_rejected
        self.rejected = 0
        #: Bumped on every invalidation, so a load that raced a write does not cache old data.
        self.generation = 0

    def get(self, key: str, now: float) -> Entry | None:
        with self._lock:
            entry = self._pinned.get(key)
            if entry is None:
                entry = self._store.get(key)
                if entry is None:
                    self._store.policy.record_miss(key)
                    return None
                self._store.policy.touch(key)
            if entry.expires_at <= now:
                self._drop(key)
                return None
            return entry

    def put(
        self, key: str, value: Any, now: float, *, prefetched: bool = False, generation: int = -1
    ) -> bool:
        """Store a copy; False when refused (policy) or stale (an invalidation came first)."""
        entry = Entry(value, now, now + self.ttl_s, prefetched)
        with self._lock:
            if 0 <= generation != self.generation:
                return False
            if key in self._pinned:
                self._pinned[key] = entry
                return True
            if self._store.admit(key, entry):
                return True
            self.rejected += 1
        self._on_rejected()
        return False

    def pin(self, key: str, value: Any, now: float) -> None:
        """Hold a hot-set value outside the policy (the job chose it for every worker)."""
        with self._lock:
            self._pinned[key] = Entry(value, now, now + self.ttl_s)
            if key in self._store:
                self._store.policy.remove(key)
                cachetools.Cache.pop(self._store, key)

    def unpin(self, keys: Iterable[str]) -> None:
        with self._lock:
            for key in keys:
                self._pinned.pop(key, None)

    def pinned(self) -> set[str]:
        with self._lock:
            return set(self._pinned)

    def discard(self, keys: Iterable[str]) -> None:
        """Invalidate (a write elsewhere): drop local copies and fence in-flight loads."""
        with self._lock:
            self.generation += 1
            for key in keys:
                self._drop(key)

    def clear(self) -> None:
        with self._lock:
            self.generation += 1
            for key in list(self._store):
                self._drop(key)
            self._pinned.clear()

    def __contains__(self, key: object) -> bool:
        with self._lock:
            return key in self._pinned or key in self._store

    def __len__(self) -> int:
        with self._lock:
            return len(self._pinned) + len(self._store)

    def _drop(self, key: str) -> None:
        if self._pinned.pop(key, None) is not None:
            return
        if key in self._store:
            self._evicted(key, cachetools.Cache.pop(self._store, key))
            self._store.policy.remove(key)

    def _evicted(self, key: Hashable, entry: Entry) -> None:
        if entry.prefetched:
            self._on_wasted_prefetch()
