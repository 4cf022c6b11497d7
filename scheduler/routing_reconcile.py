"""Job ``reconcile_routing``: keep the routing layer's counters and targets honest.

Expired targets are dropped, messages left in a vanished instance's direct queue go back to
its pool queue (exactly once), and in-flight counters that drifted (a worker killed between
pick and completion) are repaired. The work is in ``workers.routing.reconcile``.
"""

from __future__ import annotations

import time
from typing import Any

import redis

from workers.routing.reconcile import reconcile
from workers.settings import Settings


def run_job(
    client: redis.Redis, settings: Settings, mongo_db: Any = None, *, now: float | None = None
) -> dict[str, Any]:
    return reconcile(client, settings, time.time() if now is None else now)
