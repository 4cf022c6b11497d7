"""Stampede protection: concurrent misses on one key run the loader once.

Within a process the first caller loads and the others wait on it (a lock per key). Across
processes the loading process holds a short Redis lock; the others poll for the value it
stores and load themselves only if the lock expires without one (the loader crashed).
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import redis

from workers import keys as cache_keys
from workers.lock import RELEASE_LUA

#: Returned by a lookup that found nothing.
MISSING: Any = object()


@dataclass
class _Call:
    done: threading.Event = field(default_factory=threading.Event)
    value: Any = None
    error: BaseException | None = None


class SingleFlight:
    """Runs at most one load per key at a time, in this process and across processes."""

    def __init__(
        self,
        client: redis.Redis,
        lock_ttl_s: float,
        poll_s: float,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._lock_ttl_ms = max(1, int(lock_ttl_s * 1000))
        self._poll_s = poll_s
        self._sleep = sleep
        self._clock = clock
        self._guard = threading.Lock()
        self._calls: dict[str, _Call] = {}
        self._release = client.register_script(RELEASE_LUA)

    def run(
        self,
        key: str,
        load: Callable[[], Any],
        lookup: Callable[[], Any],
        store: Callable[[Any], None],
    ) -> tuple[Any, bool]:
        """The value for ``key`` and whether this call ran ``load`` (and ``store``).

        ``lookup`` returns ``MISSING`` or a value another process stored meanwhile.
        """
        with self._guard:
            call = self._calls.get(key)
            leader = call is None
            if leader:
                call = self._calls[key] = _Call()
        assert call is not None
        if not leader:
            call.done.wait()
            if call.error is not None:
                raise call.error
            return call.value, False
        try:
            call.value, loaded = self._across_processes(key, load, lookup, store)
            return call.value, loaded
        except BaseException as exc:
            call.error = exc
            raise
        finally:
            with self._guard:
                self._calls.pop(key, None)
            call.done.set()

    def _across_processes(
        self,
        key: str,
        load: Callable[[], Any],
        lookup: Callable[[], Any],
        store: Callable[[Any], None],
    ) -> tuple[Any, bool]:
        lock = cache_keys.cache_load_lock(key)
        token = secrets.token_hex(8)
        deadline = self._clock() + self._lock_ttl_ms / 1000
        while not self._client.set(lock, token, nx=True, px=self._lock_ttl_ms):
            self._sleep(self._poll_s)
            value = lookup()
            if value is not MISSING:
                return value, False
            if self._clock() > deadline:
                break  # the holder died or is too slow: load ourselves rather than wait on
        try:
            value = lookup()  # the previous holder may have stored it just before releasing
            if value is not MISSING:
                return value, False
            value = load()
            store(value)
            return value, True
        finally:
            self._release(keys=[lock], args=[token])
