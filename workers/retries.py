"""When to run a task again after a transient provider failure (rate limit, 5xx, network).

Exponential backoff with jitter, so a provider outage does not turn into synchronized retry
waves, capped below the broker's visibility timeout: a delayed retry waits unacknowledged in
a worker, and one held past that timeout would be delivered a second time.
"""

from __future__ import annotations

import random


def retry_delay(
    retries: int, base_s: float, max_s: float, visibility_s: float, rnd: random.Random | None = None
) -> float:
    """Seconds before retry number ``retries + 1``: ``base_s * 2**retries`` capped at
    ``max_s`` and at half the visibility timeout, then jittered down by up to half."""
    ceiling = min(max_s, visibility_s / 2, base_s * 2 ** min(retries, 30))
    return ceiling * (0.5 + 0.5 * (rnd or random).random())
