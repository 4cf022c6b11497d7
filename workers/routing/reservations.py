"""Decisions a producer reserves ahead, so a burst of publishes shares one round trip.

Plain logic, no I/O: the router asks a :class:`Book` for a pick, refills it with one Lua call
when it is empty or stale, and hands stale leftovers back in that same call. A batch holds
about as many picks as the producer is expected to publish within ``max_age_s``, estimated
from its recent gaps between publishes (an EWMA); a pause longer than ``max_age_s`` halves
the estimated rate, so a bursty producer starts its next burst with a full batch while one
that slowed down soon reserves one decision per publish again.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Leftovers:
    """Unused picks to hand back: regular ones by queue, fallback ones by count."""

    queues: tuple[str, ...] = ()
    fallback: int = 0

    def __bool__(self) -> bool:
        return bool(self.queues) or self.fallback > 0


#: Weight of the newest gap in the publish-gap EWMA: a few publishes to follow a new rate.
GAP_ALPHA = 0.25


@dataclass
class Book:
    """Reserved picks of one (group, strategy) in one producer process."""

    max_size: int
    max_age_s: float
    size: int = 0
    made_at: float = 0.0
    fallback: bool = False
    _gap: float | None = None
    _last: float | None = None
    _left: list[str] = field(default_factory=list)

    @property
    def remaining(self) -> int:
        return len(self._left)

    def take(self, now: float) -> str | None:
        """The next reserved pick, or None when the book is empty or stale.

        Called once per publish: it also measures the gap since the previous one.
        """
        if self._last is not None:
            gap = max(now - self._last, 0.0)
            if gap > self.max_age_s:  # a pause: halve the rate, keep the burst in mind
                gap = self.max_age_s if self._gap is None else min(2 * self._gap, self.max_age_s)
                self._gap = gap
            elif self._gap is None:
                self._gap = gap
            else:
                self._gap += GAP_ALPHA * (gap - self._gap)
        self._last = now
        if not self._left or now - self.made_at > self.max_age_s:
            return None
        return self._left.pop()

    def batch_size(self) -> int:
        """Publishes expected within ``max_age_s`` at the recent rate (1 .. ``max_size``)."""
        if self._gap is None:
            return 1
        if self._gap <= 0:
            return self.max_size
        return max(1, min(self.max_size, int(self.max_age_s / self._gap + 1e-9)))

    def next_batch(self, now: float) -> tuple[Leftovers, int]:
        """After ``take`` gave nothing: what to hand back and how many picks to reserve."""
        return self.settle(now, force=True), self.batch_size()

    def settle(self, now: float, *, force: bool = False) -> Leftovers:
        """Give up stale picks (any picks with ``force``) so they can be handed back."""
        if not self._left or (not force and now - self.made_at <= self.max_age_s):
            return Leftovers()
        left, self._left = self._left, []
        if self.fallback:
            return Leftovers(fallback=len(left))
        return Leftovers(queues=tuple(left))

    def fill(self, picks: tuple[str, ...], fallback: bool, now: float) -> str:
        """Keep a new batch and return its first pick, for the publish that asked for it."""
        self._left = list(reversed(picks))
        self.size = len(picks)
        self.fallback = fallback
        self.made_at = now
        return self._left.pop()
