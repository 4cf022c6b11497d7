"""Cancelling queued agent tasks: a mark in Redis that the worker checks before it runs one.

A task still in its queue is skipped when a worker takes it: nothing is called, nothing is
billed, and its state becomes REVOKED. A task already running finishes (an LLM call cannot
be taken back). Celery's own revoke is not used: it lives in the memory of the workers
running at that moment, and an autoscaled pool starts new ones that never heard of it.
"""

from __future__ import annotations

import re
import time

import redis
from celery import Celery, states

from workers import keys
from workers.errors import AlreadyFinished, InvalidInput

#: Celery task ids are UUIDs; anything else would only become an odd Redis member.
TASK_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,63}")


def check_task_id(task_id: object) -> str:
    if not isinstance(task_id, str) or not TASK_ID.fullmatch(task_id):
        raise InvalidInput(f"task id {task_id!r} is not a Celery task id")
    return task_id


def cancel(client: redis.Redis, task_id: str, *, keep_s: float, now: float | None = None) -> None:
    """Mark ``task_id`` cancelled for ``keep_s`` (results live as long); older marks go."""
    check_task_id(task_id)
    now = time.time() if now is None else now
    pipe = client.pipeline(transaction=False)
    pipe.zadd(keys.CANCELLED, {task_id: now})
    pipe.zremrangebyscore(keys.CANCELLED, "-inf", now - keep_s)
    pipe.execute()


def is_cancelled(client: redis.Redis, task_id: str) -> bool:
    return client.zscore(keys.CANCELLED, task_id) is not None


def cancel_task(task_id: str, *, app: Celery | None = None) -> str:
    """Cancel ``task_id`` unless it already finished; returns its state at that moment.

    PENDING (queued, or not known yet): it will be skipped. STARTED or RETRY: it is running
    and finishes. A finished task raises ``AlreadyFinished``.
    """
    if app is None:
        from workers.app import app as default_app

        app = default_app
    from workers.submit import broker_client

    check_task_id(task_id)
    state = str(app.backend.get_task_meta(task_id)["status"])
    if state in states.READY_STATES:
        raise AlreadyFinished(f"task {task_id} already finished ({state}): nothing to cancel")
    cancel(broker_client(app), task_id, keep_s=app.conf.infra_mind_settings.result_expires_s)
    return state
