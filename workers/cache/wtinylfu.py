"""Adaptive W-TinyLFU: a recency window in front of a frequency-filtered segmented LRU.

The design follows Caffeine (Einziger, Friedman, Manes: "TinyLFU: A Highly Efficient Cache
Admission Policy"; "Adaptive Software Cache Management"): new keys enter a small LRU window;
the window's victim competes with the main region's victim and wins only when it was seen
more often. A tuner (``window_tuner``) moves capacity between window and main so
recency-heavy workloads (where frequency-first admission loses to LRU) get a large window and
frequency-heavy ones a small one. Frequencies are exact counts capped at 15 and halved every
``SAMPLE_FACTOR × capacity`` increments, so old popularity fades and the table stays bounded.
"""

from __future__ import annotations

import itertools
import random
from collections import OrderedDict
from collections.abc import Hashable, Iterator
from typing import Any

from workers.cache.window_tuner import WindowTuner
from workers.errors import InvalidInput

#: Window share at start: Caffeine's default, right for frequency-skewed traffic.
WINDOW_START = 0.01
#: Protected share of the main region (segmented LRU), as in Caffeine.
PROTECTED_SHARE = 0.8
#: A frequency is capped here (4-bit counters in Caffeine's sketch).
MAX_FREQUENCY = 15
#: Counts are halved after this many increments per cache entry (TinyLFU's reset period).
SAMPLE_FACTOR = 10
#: Below this capacity the window is not tuned (the shadows would be too small to judge).
TUNE_MIN_CAPACITY = 4
#: Candidates at least this frequent are admitted at random 1 time in 128 even when they lose,
#: so an attacker cannot pin a victim by inflating its count (Caffeine's hash-flooding guard).
ADMIT_RANDOM_FREQUENCY = 6
ADMIT_RANDOM_MASK = 127


class WTinyLfuPolicy:
    """Adaptive W-TinyLFU over plain dictionaries; see the module docstring."""

    def __init__(
        self, capacity: int, *, window: int | None = None, adaptive: bool = True, seed: int = 0
    ) -> None:
        if capacity < 1:
            raise InvalidInput(f"cache capacity must be at least 1, got {capacity}")
        self.capacity = capacity
        self.window: OrderedDict[Hashable, None] = OrderedDict()
        self.probation: OrderedDict[Hashable, None] = OrderedDict()
        self.protected: OrderedDict[Hashable, None] = OrderedDict()
        self.freq: dict[Hashable, int] = {}
        self.window_max = self.main_max = self.protected_max = 0
        self._resize(window if window is not None else max(1, round(capacity * WINDOW_START)))
        self.additions = 0
        self.reset_at = SAMPLE_FACTOR * capacity
        self.rejected = 0
        self._random = random.Random(seed)
        self.tuner: WindowTuner | None = None
        if adaptive and capacity >= TUNE_MIN_CAPACITY:
            self.tuner = WindowTuner(capacity, self.window_max, _shadow)

    # -- reads ---------------------------------------------------------------------------

    def access(self, key: Hashable) -> bool:
        self._increment(key)
        hit = self._on_hit(key)
        if not hit:
            self._insert(key)
        if self.tuner is not None:
            self._tune(key)
        return hit

    def touch(self, key: Hashable) -> None:
        self._increment(key)
        self._on_hit(key)
        if self.tuner is not None:
            self._tune(key)

    def record_miss(self, key: Hashable) -> None:
        self._increment(key)
        if self.tuner is not None:
            self._tune(key)

    def set_window(self, window_max: int) -> None:
        """Move the boundary between window and main (the tuner's decision)."""
        if window_max > self.window_max:
            self._grow_window(window_max - self.window_max)
        elif window_max < self.window_max:
            self._shrink_window(self.window_max - window_max)

    def frequency(self, key: Hashable) -> int:
        return self.freq.get(key, 0)

    # -- writes --------------------------------------------------------------------------

    def add(self, key: Hashable) -> list[Hashable]:
        if key in self:
            self._on_hit(key)
            return []
        return self._insert(key)

    def remove(self, key: Hashable) -> None:
        for segment in (self.window, self.probation, self.protected):
            if segment.pop(key, 0) is None:
                return

    def __contains__(self, key: object) -> bool:
        return key in self.window or key in self.probation or key in self.protected

    def __iter__(self) -> Iterator[Hashable]:
        return itertools.chain(list(self.window), list(self.probation), list(self.protected))

    def __len__(self) -> int:
        return len(self.window) + len(self.probation) + len(self.protected)

    # -- internals -----------------------------------------------------------------------

    def _increment(self, key: Hashable) -> None:
        freq = self.freq
        count = freq.get(key, 0)
        if count < MAX_FREQUENCY:
            freq[key] = count + 1
            self.additions += 1
            if self.additions >= self.reset_at:
                self._age()

    def _age(self) -> None:
        """Halve every count (TinyLFU's reset): history fades and the table stays bounded."""
        self.freq = {k: c >> 1 for k, c in self.freq.items() if c > 1}
        self.additions = sum(self.freq.values())

    def _on_hit(self, key: Hashable) -> bool:
        window = self.window
        if key in window:
            window.move_to_end(key)
            return True
        probation = self.probation
        if key in probation:
            del probation[key]
            protected = self.protected
            protected[key] = None
            if len(protected) > self.protected_max:
                probation[protected.popitem(last=False)[0]] = None
            return True
        protected = self.protected
        if key in protected:
            protected.move_to_end(key)
            return True
        return False

    def _insert(self, key: Hashable) -> list[Hashable]:
        window = self.window
        window[key] = None
        if len(window) <= self.window_max:
            return []
        return self._evict_window()

    def _evict_window(self) -> list[Hashable]:
        """Move window overflow into main; each candidate must beat main's victim to stay."""
        evicted: list[Hashable] = []
        window, probation, protected = self.window, self.probation, self.protected
        while len(window) > self.window_max:
            candidate = window.popitem(last=False)[0]
            if len(probation) + len(protected) < self.main_max:
                probation[candidate] = None
                continue
            segment = probation or protected
            if not segment:
                evicted.append(candidate)
                continue
            victim = next(iter(segment))
            if self._admit(candidate, victim):
                del segment[victim]
                probation[candidate] = None
                evicted.append(victim)
            else:
                self.rejected += 1
                evicted.append(candidate)
        return evicted

    def _admit(self, candidate: Hashable, victim: Hashable) -> bool:
        candidate_freq = self.freq.get(candidate, 0)
        victim_freq = self.freq.get(victim, 0)
        if candidate_freq > victim_freq:
            return True
        if candidate_freq < ADMIT_RANDOM_FREQUENCY:
            return False
        return (self._random.getrandbits(32) & ADMIT_RANDOM_MASK) == 0

    def _tune(self, key: Hashable) -> None:
        window = self.tuner.observe(key)  # type: ignore[union-attr]
        if window is not None:
            self.set_window(window)

    def _grow_window(self, quota: int) -> None:
        quota = min(quota, self.main_max - 1)
        if quota <= 0:
            return
        self._resize(self.window_max + quota)
        protected, probation, window = self.protected, self.probation, self.window
        while len(protected) > self.protected_max:
            probation[protected.popitem(last=False)[0]] = None
        while len(window) < self.window_max and (probation or protected):
            window[(probation or protected).popitem(last=False)[0]] = None

    def _shrink_window(self, quota: int) -> None:
        quota = min(quota, self.window_max - 1)
        if quota <= 0:
            return
        self._resize(self.window_max - quota)
        window, probation = self.window, self.probation
        while len(window) > self.window_max:
            probation[window.popitem(last=False)[0]] = None

    def _resize(self, window_max: int) -> None:
        self.window_max = window_max
        self.main_max = self.capacity - window_max
        self.protected_max = int(self.main_max * PROTECTED_SHARE)

    # -- persistence ---------------------------------------------------------------------

    def to_state(self) -> dict[str, Any]:
        return {
            "capacity": self.capacity,
            "window": list(self.window),
            "probation": list(self.probation),
            "protected": list(self.protected),
            "freq_keys": list(self.freq),
            "freq_counts": list(self.freq.values()),
            "window_max": self.window_max,
            "additions": self.additions,
            "tuner": self.tuner.to_state() if self.tuner is not None else None,
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> WTinyLfuPolicy:
        tuner = state.get("tuner")
        policy = cls(int(state["capacity"]), window=int(state["window_max"]), adaptive=bool(tuner))
        policy.window = OrderedDict.fromkeys(state["window"])
        policy.probation = OrderedDict.fromkeys(state["probation"])
        policy.protected = OrderedDict.fromkeys(state["protected"])
        policy.freq = dict(zip(state["freq_keys"], state["freq_counts"], strict=True))
        policy.additions = int(state["additions"])
        if tuner and policy.tuner is not None:
            policy.tuner.load_state(tuner, WTinyLfuPolicy.from_state)
        return policy


def _shadow(capacity: int, window: int) -> WTinyLfuPolicy:
    """A fixed-window copy of the policy for the tuner to race."""
    return WTinyLfuPolicy(capacity, window=window, adaptive=False)
