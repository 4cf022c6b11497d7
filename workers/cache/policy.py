"""The admission/eviction policy interface shared by the live cache and the simulator.

A policy only tracks keys (plain data, no values, no I/O): the L1 tier asks it which keys to
keep, the promotion job replays the access log through it to bound the Redis tiers, and the
simulator replays traces through the very same objects.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator
from typing import Any, Protocol

from workers.errors import UnknownName


class EvictionPolicy(Protocol):
    """A bounded set of keys with its own admission and eviction rules."""

    capacity: int

    def access(self, key: Hashable) -> bool:
        """Record one read; insert the key on a miss. True when it was resident (a hit)."""
        ...

    def touch(self, key: Hashable) -> None:
        """A read of a resident key."""
        ...

    def record_miss(self, key: Hashable) -> None:
        """A read of a key that is not resident (frequency-aware policies count it)."""
        ...

    def add(self, key: Hashable) -> list[Hashable]:
        """Insert a new key; return the keys to drop, which holds ``key`` when it is refused."""
        ...

    def remove(self, key: Hashable) -> None:
        """Forget a resident key (deleted or invalidated); unknown keys are ignored."""
        ...

    def __contains__(self, key: object) -> bool: ...

    def __len__(self) -> int: ...

    def __iter__(self) -> Iterator[Hashable]:
        """The resident keys (a snapshot)."""
        ...

    def to_state(self) -> dict[str, Any]:
        """Plain data (lists, dicts, numbers) that ``from_state`` rebuilds the policy from."""
        ...


PolicyFactory = Callable[[int], EvictionPolicy]


def _registry() -> dict[str, PolicyFactory]:
    from workers.cache.lru import LruPolicy
    from workers.cache.wtinylfu import WTinyLfuPolicy

    return {"wtinylfu": WTinyLfuPolicy, "lru": LruPolicy}


def policy_names() -> list[str]:
    return sorted(_registry())


def make_policy(name: str, capacity: int) -> EvictionPolicy:
    """A fresh policy of the given kind; unknown names fail listing the known ones."""
    factories = _registry()
    if name not in factories:
        raise UnknownName(f"unknown cache policy {name!r}; known: {', '.join(sorted(factories))}")
    return factories[name](capacity)


def restore_policy(name: str, state: dict[str, Any]) -> EvictionPolicy:
    """Rebuild a policy from ``to_state()`` output (the promotion job keeps it in Redis)."""
    factory = _registry().get(name)
    if factory is None:
        raise UnknownName(f"unknown cache policy {name!r}; known: {', '.join(policy_names())}")
    return factory.from_state(state)  # type: ignore[attr-defined]
