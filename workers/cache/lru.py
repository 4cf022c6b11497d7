"""Plain LRU: the baseline every benchmark compares against."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable, Iterator
from typing import Any

from workers.errors import InvalidInput


class LruPolicy:
    """Least recently used; admits everything."""

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise InvalidInput(f"cache capacity must be at least 1, got {capacity}")
        self.capacity = capacity
        self._keys: OrderedDict[Hashable, None] = OrderedDict()

    def access(self, key: Hashable) -> bool:
        keys = self._keys
        if key in keys:
            keys.move_to_end(key)
            return True
        keys[key] = None
        if len(keys) > self.capacity:
            keys.popitem(last=False)
        return False

    def touch(self, key: Hashable) -> None:
        if key in self._keys:
            self._keys.move_to_end(key)

    def record_miss(self, key: Hashable) -> None:
        """LRU keeps no history of absent keys."""

    def add(self, key: Hashable) -> list[Hashable]:
        keys = self._keys
        if key in keys:
            keys.move_to_end(key)
            return []
        keys[key] = None
        if len(keys) > self.capacity:
            return [keys.popitem(last=False)[0]]
        return []

    def remove(self, key: Hashable) -> None:
        self._keys.pop(key, None)

    def __contains__(self, key: object) -> bool:
        return key in self._keys

    def __iter__(self) -> Iterator[Hashable]:
        return iter(list(self._keys))

    def __len__(self) -> int:
        return len(self._keys)

    def to_state(self) -> dict[str, Any]:
        return {"capacity": self.capacity, "keys": list(self._keys)}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> LruPolicy:
        policy = cls(int(state["capacity"]))
        policy._keys = OrderedDict.fromkeys(state["keys"])
        return policy
