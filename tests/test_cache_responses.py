"""Agent-response caching: exact-match keys and the temperature rule."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

from workers.cache.config import CacheConfig
from workers.cache.responses import ResponseCache, response_key
from workers.cache.tiered import TieredCache


@pytest.fixture
def cache(redis_client: redis.Redis, redis_url: str) -> Iterator[TieredCache]:
    client = redis.Redis.from_url(redis_url.rsplit("/", 1)[0] + "/1")
    with TieredCache(client, CacheConfig(prefetch=False)) as tiered:
        yield tiered


def test_key_is_exact_and_order_insensitive() -> None:
    key = response_key("gpt-4o-mini", "hi", {"temperature": 0, "max_tokens": 10})
    assert key == response_key("gpt-4o-mini", "hi", {"max_tokens": 10, "temperature": 0})
    assert key != response_key("gpt-4o-mini", "hi ", {"temperature": 0, "max_tokens": 10})
    assert key != response_key("gpt-4o", "hi", {"temperature": 0, "max_tokens": 10})
    assert key != response_key("gpt-4o-mini", "hi", {"temperature": 0, "max_tokens": 11})
    assert key.startswith("resp:0:")
    assert response_key("m", "p", {"temperature": 0.7}).startswith("resp:t:")


def test_temperature_zero_is_cached(cache: TieredCache) -> None:
    responses = ResponseCache(cache)
    key = response_key("m", "p", {"temperature": 0})
    assert responses.lookup(key) is None
    responses.store(key, {"text": "answer", "tokens": 3})
    cache.l1.clear()
    assert responses.lookup(key) == {"text": "answer", "tokens": 3}


def test_sampled_responses_are_not_cached_unless_configured(cache: TieredCache) -> None:
    key = response_key("m", "p", {"temperature": 0.8})
    ResponseCache(cache).store(key, {"text": "sample"})
    assert cache.get(key) is None
    assert ResponseCache(cache).lookup(key) is None
    allowed = ResponseCache(cache, cache_sampled=True)
    allowed.store(key, {"text": "sample"})
    assert allowed.lookup(key) == {"text": "sample"}
    assert ResponseCache(cache).lookup(key) is None


def test_non_dict_values_are_not_responses(cache: TieredCache) -> None:
    key = response_key("m", "p", {})
    cache.set(key, "a plain string")
    assert ResponseCache(cache).lookup(key) is None
