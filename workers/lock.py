"""A Redis lock so that a periodic job runs once at a time (two beats, two maintenance workers).

SET NX PX with a random token takes it; the TTL frees it if the holder dies; release runs a
Lua compare-and-delete so only the holder can release. Not a fencing lock: the TTL must be
longer than one run (a run reads a few keys per pool and calls the actuator).
"""

from __future__ import annotations

import secrets
from importlib import resources
from types import TracebackType

import redis

#: Source of the compare-and-delete script, read once at import.
RELEASE_LUA = resources.files("workers").joinpath("release_lock.lua").read_text("utf-8")


class RedisLock:
    """Context manager; ``acquired`` tells whether this holder got the lock.

    Use as ``with RedisLock(r, key, ttl_ms) as lock: if lock.acquired: ...``. It never waits:
    a second run that finds the lock taken simply skips.
    """

    def __init__(self, client: redis.Redis, key: str, ttl_ms: int) -> None:
        if ttl_ms <= 0:
            raise ValueError("lock ttl_ms must be positive")
        self.client = client
        self.key = key
        self.ttl_ms = ttl_ms
        self.token = secrets.token_hex(16)
        self.acquired = False
        self._release = client.register_script(RELEASE_LUA)

    def acquire(self) -> bool:
        self.acquired = bool(self.client.set(self.key, self.token, nx=True, px=self.ttl_ms))
        return self.acquired

    def release(self) -> bool:
        """Release if still ours; False when it expired or another holder has it."""
        if not self.acquired:
            return False
        self.acquired = False
        return bool(self._release(keys=[self.key], args=[self.token]))

    def __enter__(self) -> RedisLock:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()
