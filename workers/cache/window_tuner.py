"""Sizing the W-TinyLFU window by racing two shadow caches on a sample of the keys.

A hill climber that compares the hit rate of one period with the previous one is fooled by
the workload's own swings (orm-busy moves several points between periods whatever the
window). Instead two key-only shadow caches, one with a slightly smaller and one with a
slightly larger window, see the same sampled requests (Waldspurger et al., "Cache Modeling and
Optimization using Miniature Simulations"); the winner tells which way to move. Sampling one
key in ``rate`` keeps the cost to a few per cent of the main policy's.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable
from typing import Any, Protocol


class Shadow(Protocol):
    window_max: int

    def access(self, key: Hashable) -> bool: ...

    def set_window(self, window_max: int) -> None: ...

    def to_state(self) -> dict[str, Any]: ...


#: Shadows hold at least this many entries, so a sampled shadow still behaves like the cache.
SHADOW_MIN_ENTRIES = 256
#: A decision is taken after this many sampled requests per shadow entry (and at least
#: ``PERIOD_MIN``): short, because the sign test below already filters out noise and a short
#: trace (sprite) must reach its best window before it ends.
PERIOD_FACTOR = 1
PERIOD_MIN = 500
#: The window share is tuned in log-odds, so moves near 1 % or 99 % are as telling as
#: moves near 50 %. Smallest, first and largest move (in log-odds); moves grow while one
#: direction keeps winning and halve when it turns.
STEP_MIN = 0.1
STEP_START = 0.5
STEP_MAX = 2.0
STEP_GROWTH = 1.5
#: Distance of each shadow's window from the current one, in log-odds (1.5 turns a 50 %
#: window into 18 % and 82 %): far enough apart to see a difference within one period.
PROBE = 1.5
#: The window moves only when one shadow beats the other by this many standard deviations
#: on the requests where exactly one of them hit (McNemar's sign test), so noise does not.
SIGNIFICANCE = 2.0
#: Multiplier that spreads consecutive integer keys before sampling (Knuth's golden ratio).
SPREAD = 2654435761

ShadowFactory = Callable[[int, int], Shadow]


def sample_rate(capacity: int) -> int:
    """Largest power of two that leaves each shadow ``SHADOW_MIN_ENTRIES`` entries."""
    rate = 1
    while capacity // (rate * 2) >= SHADOW_MIN_ENTRIES:
        rate *= 2
    return rate


def _logit(share: float) -> float:
    return math.log(share / (1 - share))


def _share(position: float) -> float:
    return 1 / (1 + math.exp(-position))


class WindowTuner:
    """Decides the window size of one policy; ``observe`` returns a new size when it moves."""

    def __init__(self, capacity: int, window: int, make_shadow: ShadowFactory) -> None:
        self.capacity = capacity
        self.rate = sample_rate(capacity)
        self.mask = self.rate - 1
        self.shadow_capacity = max(2, capacity // self.rate)
        self.period = max(PERIOD_MIN, PERIOD_FACTOR * self.shadow_capacity)
        self.step = STEP_START
        self.direction = 0
        self.window = window
        self.position = _logit(min(capacity - 1, max(1, window)) / capacity)
        self.seen = self.low_only = self.high_only = 0
        self.low = make_shadow(self.shadow_capacity, self._shadow_window(-1))
        self.high = make_shadow(self.shadow_capacity, self._shadow_window(+1))

    def observe(self, key: Hashable) -> int | None:
        if (hash(key) * SPREAD >> 16) & self.mask:
            return None
        low_hit = self.low.access(key)
        if self.high.access(key) != low_hit:
            if low_hit:
                self.low_only += 1
            else:
                self.high_only += 1
        self.seen += 1
        if self.seen < self.period:
            return None
        return self._decide()

    def _decide(self) -> int | None:
        high, low = self.high_only, self.low_only
        self.seen = self.low_only = self.high_only = 0
        if high == low or abs(high - low) < SIGNIFICANCE * math.sqrt(high + low):
            return None
        direction = 1 if high > low else -1
        if direction == self.direction:
            self.step = min(STEP_MAX, self.step * STEP_GROWTH)
        elif self.direction:
            self.step = max(STEP_MIN, self.step / 2)
        self.direction = direction
        bound = _logit(1 / self.capacity), _logit(1 - 1 / self.capacity)
        self.position = min(bound[1], max(bound[0], self.position + direction * self.step))
        window = min(self.capacity - 1, max(1, round(_share(self.position) * self.capacity)))
        self.low.set_window(self._shadow_window(-1))
        self.high.set_window(self._shadow_window(+1))
        if window == self.window:
            return None
        self.window = window
        return window

    def _shadow_window(self, side: int) -> int:
        """The shadow's window: the current share moved by ``PROBE`` log-odds."""
        share = _share(self.position + side * PROBE)
        return min(self.shadow_capacity - 1, max(1, round(share * self.shadow_capacity)))

    def to_state(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "direction": self.direction,
            "window": self.window,
            "position": self.position,
            "counts": [self.seen, self.low_only, self.high_only],
            "low": self.low.to_state(),
            "high": self.high.to_state(),
        }

    def load_state(
        self, state: dict[str, Any], restore: Callable[[dict[str, Any]], Shadow]
    ) -> None:
        self.step = float(state["step"])
        self.direction = int(state["direction"])
        self.window = int(state["window"])
        self.position = float(state["position"])
        self.seen, self.low_only, self.high_only = (int(n) for n in state["counts"])
        self.low = restore(state["low"])
        self.high = restore(state["high"])
