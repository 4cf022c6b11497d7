"""Tiered cache: in-process hot tier, Redis warm tier, compressed Redis cold tier.

``TieredCache`` is the API; ``ResponseCache``/``response_key`` are what the agent handler
uses; the promotion job lives in ``scheduler.cache_promotion``; ``simulate`` replays traces
through the same policy code.
"""

from workers.cache.config import CacheConfig, config_from_settings
from workers.cache.responses import ResponseCache, response_key
from workers.cache.tiered import TieredCache

__all__ = ["CacheConfig", "ResponseCache", "TieredCache", "config_from_settings", "response_key"]
