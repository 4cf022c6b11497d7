"""Job ``reap_instances``: forget instances whose heartbeat expired.

The heartbeat hash expires by itself; its entry in the instance registry does not, so this
job removes registry members with no hash left (a crashed or killed worker).
"""

from __future__ import annotations

import time
from typing import Any

import redis

from workers import keys
from workers.settings import Settings


def run_job(
    client: redis.Redis, settings: Settings, mongo_db: Any = None, *, now: float | None = None
) -> dict[str, Any]:
    now = time.time() if now is None else now
    # Only members older than one TTL can have expired; newer ones are alive by definition.
    stale = client.zrangebyscore(keys.INSTANCES, "-inf", now - settings.heartbeat_ttl_s)
    if not stale:
        return {"reaped": []}
    with client.pipeline(transaction=False) as pipe:
        for name in stale:
            pipe.exists(keys.heartbeat(name))
        alive = pipe.execute()
    gone = [name for name, exists in zip(stale, alive, strict=True) if not exists]
    if gone:
        client.zrem(keys.INSTANCES, *gone)
    return {"reaped": gone}
