"""Learning which keys are read after which: P(B | A) from co-access within a short window.

Pure and in-process (each worker learns from its own reads): a read of B counts "B follows A"
once for every read of A in the last ``window_s`` seconds. Counts are halved every
``decay_every`` reads, so the model follows changing patterns and its size stays bounded.
"""

from __future__ import annotations

from collections import defaultdict, deque

#: Most recent reads considered as predecessors of a new read.
RECENT_MAX = 16
#: Most followers remembered per key (the least seen are dropped at decay).
FOLLOWERS_MAX = 32


class CoAccessModel:
    def __init__(self, window_s: float, *, decay_every: int = 50_000) -> None:
        self.window_s = window_s
        self.decay_every = decay_every
        self.reads: dict[str, int] = defaultdict(int)
        self.follows: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        self._recent: deque[tuple[str, float, set[str]]] = deque(maxlen=RECENT_MAX)
        self._observed = 0

    def observe(self, key: str, now: float) -> None:
        recent = self._recent
        while recent and now - recent[0][1] > self.window_s:
            recent.popleft()
        for previous, _, counted in recent:
            if previous != key and key not in counted:
                counted.add(key)
                self.follows[previous][key] += 1
        self.reads[key] += 1
        recent.append((key, now, set()))
        self._observed += 1
        if self._observed >= self.decay_every:
            self._decay()

    def predict(self, key: str, threshold: float, support: int, limit: int) -> list[str]:
        """Keys B with P(B | key) ≥ threshold once ``key`` was read ``support`` times."""
        reads = self.reads.get(key, 0)
        followers = self.follows.get(key)
        if reads < support or not followers:
            return []
        needed = threshold * reads
        likely = [(n, b) for b, n in followers.items() if n >= needed]
        likely.sort(key=lambda nb: (-nb[0], nb[1]))
        return [b for _, b in likely[:limit]]

    def _decay(self) -> None:
        self._observed = 0
        self.reads = defaultdict(int, {k: n >> 1 for k, n in self.reads.items() if n > 1})
        follows: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        for a, followers in self.follows.items():
            kept = sorted(((b, n >> 1) for b, n in followers.items() if n > 1), key=lambda x: -x[1])
            if kept:
                follows[a] = defaultdict(int, kept[:FOLLOWERS_MAX])
        self.follows = follows
