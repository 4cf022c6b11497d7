"""Bélády's offline optimum: evict the key whose next use lies furthest in the future.

No online policy can beat it at the same capacity, so it bounds what tuning can still win.
"""

from __future__ import annotations

import heapq
from collections.abc import Hashable, Sequence

from workers.errors import InvalidInput

#: Next-use position of a key that is never requested again.
NEVER = 1 << 62


def next_uses(keys: Sequence[Hashable]) -> list[int]:
    """For each position, the position of the same key's next request (``NEVER`` if none).

    Computed once per trace and shared by every capacity.
    """
    upcoming: dict[Hashable, int] = {}
    result = [NEVER] * len(keys)
    for position in range(len(keys) - 1, -1, -1):
        key = keys[position]
        result[position] = upcoming.get(key, NEVER)
        upcoming[key] = position
    return result


def optimal_hits(keys: Sequence[Hashable], capacity: int, nexts: list[int] | None = None) -> int:
    """Hits of the optimal policy replaying ``keys`` with ``capacity`` entries."""
    if capacity < 1:
        raise InvalidInput(f"cache capacity must be at least 1, got {capacity}")
    if nexts is None:
        nexts = next_uses(keys)
    resident: dict[Hashable, int] = {}  # key -> its current next use
    heap: list[tuple[int, int]] = []  # (-next use, position of the request that set it)
    hits = 0
    heappush, heappop = heapq.heappush, heapq.heappop
    for position, key in enumerate(keys):
        upcoming = nexts[position]
        if key in resident:
            hits += 1
        elif len(resident) >= capacity:
            while True:  # lazy deletion: skip heap entries superseded by a later request
                neg_next, at = heappop(heap)
                victim = keys[at]
                if resident.get(victim) == -neg_next:
                    del resident[victim]
                    break
        resident[key] = upcoming
        heappush(heap, (-upcoming, position))
    return hits
