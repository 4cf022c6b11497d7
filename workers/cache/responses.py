"""Caching agent responses: exact-match keys over model, prompt and parameters.

A response made with temperature > 0 is a sample, not *the* answer, so by default it is
neither looked up nor stored; ``sampled_responses`` in the cache settings turns that on.
The key itself says which kind it is, so ``lookup``/``store`` need nothing but the key.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from workers.cache.tiered import TieredCache

#: Key prefixes: deterministic (temperature 0) and sampled (temperature > 0) responses.
DETERMINISTIC_PREFIX = "resp:0:"
SAMPLED_PREFIX = "resp:t:"


def response_key(model: str, prompt: str, params: Mapping[str, Any]) -> str:
    """A stable key for one provider call; any change in model, prompt or params changes it.

    ``params`` are canonicalized (sorted keys, compact JSON), so their order does not matter.
    """
    canonical = json.dumps(
        {"model": model, "prompt": prompt, "params": dict(params)},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        default=str,
    )
    digest = hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:40]
    temperature = params.get("temperature", 0) or 0
    prefix = SAMPLED_PREFIX if float(temperature) > 0 else DETERMINISTIC_PREFIX
    return prefix + digest


class ResponseCache:
    """What the agent handler calls around a provider call."""

    def __init__(self, cache: TieredCache, *, cache_sampled: bool | None = None) -> None:
        self._cache = cache
        self._sampled = cache.config.sampled_responses if cache_sampled is None else cache_sampled

    def cacheable(self, key: str) -> bool:
        return not key.startswith(SAMPLED_PREFIX) or self._sampled

    def lookup(self, key: str) -> dict[str, Any] | None:
        """The stored response, or None (also for uncacheable keys and non-dict values)."""
        if not self.cacheable(key):
            return None
        value = self._cache.get(key)
        return value if isinstance(value, dict) else None

    def store(self, key: str, value: dict[str, Any]) -> None:
        if self.cacheable(key):
            self._cache.set(key, value)
