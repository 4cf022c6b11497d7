"""Bounding the Redis tiers: replay the access log through the shared eviction policy.

Every process appends its reads and writes to a stream; each promotion run feeds the entries
since its last run, in order, through the same policy object the simulator uses (its state is
kept in Redis between runs) and returns the keys the policy evicted. The state and the stream
position are saved together at the end, so a killed run is simply replayed by the next one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import msgpack
import redis

from workers import keys as cache_keys
from workers.cache.policy import EvictionPolicy, make_policy, restore_policy

#: Stream entries read per round trip.
READ_BATCH = 1000
#: Field of the metadata hash holding the last replayed stream id.
LOG_POSITION = "log_id"


@dataclass
class Replay:
    policy: EvictionPolicy
    position: str
    accesses: int = 0
    evicted: list[str] = field(default_factory=list)


def load_policy(client: redis.Redis, name: str, capacity: int) -> EvictionPolicy:
    """The saved policy, or a fresh one if there is none or the settings changed."""
    blob = client.get(cache_keys.CACHE_POLICY_STATE)
    if blob:
        try:
            saved = msgpack.unpackb(blob, raw=False, strict_map_key=False)
            if saved.get("name") == name and saved["state"]["capacity"] == capacity:
                return restore_policy(name, saved["state"])
        except (ValueError, KeyError, TypeError, AttributeError):
            pass  # unreadable state: start over rather than fail every run
    return make_policy(name, capacity)


def replay(client: redis.Redis, name: str, capacity: int) -> Replay:
    """Feed the unread access log through the policy; nothing is written yet."""
    position = _text(client.hget(cache_keys.CACHE_META, LOG_POSITION) or b"0-0")
    run = Replay(load_policy(client, name, capacity), position)
    policy = run.policy
    evicted: list[str] = []
    while True:
        entries = client.xrange(
            cache_keys.CACHE_ACCESS_LOG, min=f"({run.position}", count=READ_BATCH
        )
        if not entries:
            break
        for entry_id, fields in entries:
            run.position = _text(entry_id)
            for key in _keys(fields):
                run.accesses += 1
                if key in policy:
                    policy.touch(key)
                else:
                    policy.record_miss(key)
                    evicted += policy.add(key)
    run.evicted = sorted({k for k in evicted if k not in policy})
    return run


def save(client: redis.Redis, name: str, run: Replay) -> None:
    """Keep the policy and the stream position together (one transaction); trim read entries."""
    blob = msgpack.packb({"name": name, "state": run.policy.to_state()})
    pipe = client.pipeline(transaction=True)
    pipe.set(cache_keys.CACHE_POLICY_STATE, blob)
    pipe.hset(cache_keys.CACHE_META, LOG_POSITION, run.position)
    pipe.xtrim(cache_keys.CACHE_ACCESS_LOG, minid=run.position, approximate=False)
    pipe.execute()


def _keys(fields: dict[Any, Any]) -> list[str]:
    raw = fields.get(b"k", fields.get("k"))
    try:
        keys = msgpack.unpackb(raw, raw=False)
    except (ValueError, TypeError):
        return []
    return [k for k in keys if isinstance(k, str)] if isinstance(keys, list) else []


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
