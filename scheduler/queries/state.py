"""What the slow-query job keeps in Redis between runs: per-input offsets and per-shape stats.

A run commits the statistics it added and the offsets it reached in one MULTI/EXEC, watched,
so a run killed before the commit leaves nothing behind (the next run reads the same entries
again) and two overlapping runs can never both count the same entries.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import redis

from scheduler.queries.stats import ShapeStats, StatsTable
from workers.keys import QUERY_JOB_LOCK, QUERY_OFFSETS, QUERY_SHAPE_STATS
from workers.lock import RedisLock


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def acquire_lock(client: redis.Redis, ttl_s: float) -> RedisLock | None:
    """The held job lock, or None when another run is in progress."""
    lock = RedisLock(client, QUERY_JOB_LOCK, int(ttl_s * 1000))
    return lock if lock.acquire() else None


def release_lock(client: redis.Redis, lock: RedisLock) -> None:
    lock.release()


def load_offsets(client: redis.Redis) -> dict[str, dict[str, Any]]:
    return {_text(k): json.loads(v) for k, v in client.hgetall(QUERY_OFFSETS).items()}


def load_stats(client: redis.Redis) -> list[ShapeStats]:
    return [ShapeStats.from_dict(json.loads(v)) for v in client.hvals(QUERY_SHAPE_STATS)]


def commit(
    client: redis.Redis,
    table: StatsTable,
    offsets: dict[str, dict[str, Any]],
    seen: dict[str, dict[str, Any]],
) -> bool:
    """Merge ``table`` into the kept stats and store ``offsets``, atomically.

    ``seen`` is the offsets read at the start of the run; when they changed since (another
    run committed), nothing is written and False is returned.
    """
    ids = list(table.shapes)
    with client.pipeline(transaction=True) as pipe:
        try:
            pipe.watch(QUERY_OFFSETS, QUERY_SHAPE_STATS)
            current = {_text(k): json.loads(v) for k, v in pipe.hgetall(QUERY_OFFSETS).items()}
            if current != seen:
                return False
            kept = pipe.hmget(QUERY_SHAPE_STATS, ids) if ids else []
            merged: dict[str, str] = {}
            for sid, raw in zip(ids, kept, strict=True):
                stats = table.shapes[sid]
                if raw is not None:
                    old = ShapeStats.from_dict(json.loads(raw))
                    old.merge(stats)
                    stats = old
                merged[sid] = json.dumps(stats.to_dict())
            pipe.multi()
            if merged:
                pipe.hset(QUERY_SHAPE_STATS, mapping=merged)
            if offsets:
                pipe.hset(QUERY_OFFSETS, mapping={k: json.dumps(v) for k, v in offsets.items()})
            pipe.execute()
        except redis.WatchError:
            return False
    return True


def prune(client: redis.Redis, stats: list[ShapeStats], max_shapes: int) -> list[ShapeStats]:
    """Keep the ``max_shapes`` most recently seen shapes; returns those kept."""
    if len(stats) <= max_shapes:
        return stats
    never = datetime.min.replace(tzinfo=UTC)
    ordered = sorted(stats, key=lambda s: (s.last_seen or never, s.count), reverse=True)
    client.hdel(QUERY_SHAPE_STATS, *[s.shape.id for s in ordered[max_shapes:]])
    return ordered[:max_shapes]
