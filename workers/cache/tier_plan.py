"""Which key belongs in which tier: a pure decision over decayed read counts.

* hot: read at least ``hot_threshold`` times (decayed) — or still ``hot_keep`` times if it is
  hot already, so a key on the edge does not flap — and present in warm; the most read
  ``hot_max`` of them.
* warm -> cold: a key not hot whose decayed reads fell below ``cold_below`` and that was not
  read during the current decay period (a fresh write is never cooled at once).
* cold -> evicted: demoted at least ``cold_ttl_s`` ago.
* forgotten: statistics of keys that are in no tier any more and have no reads left.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from workers.cache.config import CacheConfig


@dataclass(frozen=True)
class KeyStat:
    reads: int  # decayed read count as of now
    fresh: bool  # read or written during the current decay period


@dataclass(frozen=True)
class TierPlan:
    hot: list[str] = field(default_factory=list)
    promote: list[str] = field(default_factory=list)
    unpin: list[str] = field(default_factory=list)
    cool: list[str] = field(default_factory=list)
    evict: list[str] = field(default_factory=list)
    forget: list[str] = field(default_factory=list)


def plan_tiers(
    stats: dict[str, KeyStat],
    hot_now: set[str],
    in_warm: set[str],
    cold_since: dict[str, float],
    now: float,
    config: CacheConfig,
) -> TierPlan:
    """The moves that bring each key to its tier; see the module docstring."""
    eligible = [
        key
        for key in in_warm
        if key in stats
        and stats[key].reads >= (config.hot_keep if key in hot_now else config.hot_threshold)
    ]
    eligible.sort(key=lambda k: (-stats[k].reads, k))
    hot = eligible[: config.hot_max]
    hot_set = set(hot)
    cool = sorted(
        key
        for key in in_warm
        if key not in hot_set
        and key in stats
        and stats[key].reads < config.cold_below
        and not stats[key].fresh
    )
    evict = sorted(k for k, since in cold_since.items() if now - since >= config.cold_ttl_s)
    gone = set(evict)
    forget = sorted(
        key
        for key, stat in stats.items()
        if stat.reads == 0
        and not stat.fresh
        and key not in in_warm
        and (key not in cold_since or key in gone)
    )
    return TierPlan(
        hot=hot,
        promote=[k for k in hot if k not in hot_now],
        unpin=sorted(hot_now - hot_set),
        cool=cool,
        evict=evict,
        forget=forget,
    )
