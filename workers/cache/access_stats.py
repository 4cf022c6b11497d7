"""Access statistics: per-key read counters in Redis, halved once per decay period.

Reads are buffered in process (an in-process hit must stay a few microseconds) and sent in
one pipeline per batch: the decayed counters (a Lua script, so halving and adding are atomic)
and, when the Redis tiers are bounded, the access log the promotion job replays.
"""

from __future__ import annotations

from collections import Counter, deque
from importlib import resources
from typing import Any

import msgpack
import redis

from workers import keys as cache_keys

#: Source of the Lua script, read once at import.
RECORD_ACCESS_LUA = (
    resources.files("workers.cache").joinpath("record_access.lua").read_text("utf-8")
)

#: Most reads buffered between two flushes (older ones are dropped if flushing falls behind).
BUFFER_MAX = 100_000


def epoch_of(now: float, period_s: float) -> int:
    """Number of whole decay periods since the Unix epoch."""
    return int(now // period_s)


def parse_counter(raw: bytes | str) -> tuple[int, int]:
    """``"<count>:<epoch>"`` -> (count, epoch); unreadable values count as zero."""
    text = raw.decode() if isinstance(raw, bytes) else raw
    count, _, epoch = text.partition(":")
    try:
        return int(count), int(epoch)
    except ValueError:
        return 0, 0


def decayed(count: int, stored_epoch: int, now_epoch: int) -> int:
    """The count after halving it once per period elapsed since it was stored."""
    missed = now_epoch - stored_epoch
    return count >> min(missed, 62) if missed > 0 else count


def read_counters(client: redis.Redis, now: float, period_s: float) -> dict[str, int]:
    """Every key's decayed read count as of ``now``."""
    now_epoch = epoch_of(now, period_s)
    counts: dict[str, int] = {}
    for raw_key, raw in client.hscan_iter(cache_keys.CACHE_FREQ, count=1000):
        key = raw_key.decode() if isinstance(raw_key, bytes) else raw_key
        count, stored = parse_counter(raw)
        counts[key] = decayed(count, stored, now_epoch)
    return counts


class AccessRecorder:
    """Buffers reads and writes of one process until the next ``take``/``write``.

    Recording a read is one ``deque.append`` (atomic, no lock): it sits on the in-process
    hit path. The buffer is bounded; if flushing falls behind, the oldest reads are dropped.
    """

    def __init__(
        self, client: redis.Redis, period_s: float, *, log: bool, log_maxlen: int
    ) -> None:
        self._period_s = period_s
        self._log = log
        self._log_maxlen = log_maxlen
        self._reads: deque[tuple[str, float]] = deque(maxlen=BUFFER_MAX)
        self._writes: deque[str] = deque(maxlen=BUFFER_MAX)
        self._script = client.register_script(RECORD_ACCESS_LUA)

    def read(self, key: str, now: float) -> None:
        self._reads.append((key, now))

    def wrote(self, key: str) -> None:
        """A write registers the key (so the job sees it) without counting a read."""
        self._writes.append(key)

    def pending(self) -> int:
        return len(self._reads)

    def take(self) -> tuple[list[tuple[str, float]], list[str]]:
        """Remove and return everything buffered so far (reads with their times, writes)."""
        return _drain(self._reads), _drain(self._writes)

    def write(
        self,
        pipe: redis.client.Pipeline,
        reads: list[tuple[str, float]],
        writes: list[str],
        now: float,
    ) -> None:
        """Queue the counters and the access log for ``reads`` and ``writes`` on ``pipe``."""
        counts: Counter[str] = Counter(key for key, _ in reads)
        for key in writes:
            counts[key] += 0
        if counts:
            args: list[str | int] = [epoch_of(now, self._period_s)]
            for key, n in counts.items():
                args += [key, n]
            self._script(keys=[cache_keys.CACHE_FREQ], args=args, client=pipe)
        if self._log and (reads or writes):
            sequence = writes + [key for key, _ in reads]
            pipe.xadd(
                cache_keys.CACHE_ACCESS_LOG,
                {"k": msgpack.packb(sequence)},
                maxlen=self._log_maxlen,
                approximate=True,
            )


def _drain(buffer: deque[Any]) -> list[Any]:
    items = []
    try:
        while True:
            items.append(buffer.popleft())
    except IndexError:
        return items
