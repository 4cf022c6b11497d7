"""The Celery app: queues per pool, reliability settings, the router and the sent-at stamp.

``celery -A workers.app`` finds :data:`app`, built from the settings in the environment.
Producers (CLI, API, user code) use the same app, so every task goes through the router.
"""

from __future__ import annotations

import time
from typing import Any

import redis
from celery import Celery, signals
from kombu import Queue

from workers import keys
from workers.connection import resolve_redis_url
from workers.routing import AGENT_TASK as AGENT_TASK
from workers.routing import make_router
from workers.settings import Settings, load_settings

#: Header stamped on every published task; the autoscaler reads queue age from it.
SENT_AT_HEADER = "im_sent_at"
#: Fallback broker when no URL is known yet: only used by commands that do not publish.
LOCAL_REDIS = "redis://127.0.0.1:6379/0"


def visibility_timeout_s(settings: Settings) -> int:
    """How long an unacknowledged message waits before Redis hands it out again."""
    return settings.task_time_limit_s * 2 + 60


def agent_queues(settings: Settings) -> list[Queue]:
    queues = [Queue(keys.pool_queue(a.name, p)) for a, p in settings.pools()]
    return [*queues, Queue(keys.MAINTENANCE_QUEUE)]


def create_app(settings: Settings) -> Celery:
    url = resolve_redis_url(settings) or LOCAL_REDIS
    app = Celery(
        "infra_mind", broker=url, backend=url, include=["workers.tasks", "scheduler.tasks"]
    )
    app.conf.update(
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        task_queues=agent_queues(settings),
        task_default_queue=keys.MAINTENANCE_QUEUE,
        task_create_missing_queues=True,
        task_routes=(make_router(settings, lambda: redis.Redis.from_url(url)),),
        # Nothing lost: ack after the task ran; a task whose worker died goes back to the queue.
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_acks_on_failure_or_timeout=True,
        worker_prefetch_multiplier=1,
        task_time_limit=settings.task_time_limit_s,
        task_soft_time_limit=max(1, settings.task_time_limit_s - 10),
        # Unacked messages come back after the visibility timeout: keep it above the longest task.
        broker_transport_options={
            "visibility_timeout": visibility_timeout_s(settings),
            "queue_order_strategy": "priority",
        },
        broker_connection_retry_on_startup=True,
        result_expires=settings.result_expires_s,
        result_extended=True,
        worker_send_task_events=True,
        task_send_sent_event=True,
        task_track_started=True,
        worker_hijack_root_logger=False,
        enable_utc=True,
    )
    app.conf.infra_mind_settings = settings
    return app


@signals.before_task_publish.connect
def _stamp_sent_at(headers: dict[str, Any] | None = None, **_: Any) -> None:
    """Stamp the publish time so queue age is readable from the oldest message alone."""
    if headers is not None:
        headers.setdefault(SENT_AT_HEADER, time.time())


app = create_app(load_settings())
