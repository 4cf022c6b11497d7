"""The cache stores bytes, so it needs a Redis client that does not decode replies."""

from __future__ import annotations

import redis


def binary_client(client: redis.Redis) -> redis.Redis:
    """``client`` itself if it returns bytes, else a twin on the same server that does."""
    kwargs = dict(client.connection_pool.connection_kwargs)
    if not kwargs.get("decode_responses"):
        return client
    kwargs["decode_responses"] = False
    pool = client.connection_pool.__class__(
        connection_class=client.connection_pool.connection_class, **kwargs
    )
    return redis.Redis(connection_pool=pool)
