"""The agent task and the worker lifecycle: thin shells over ``workers.runtime``."""

from __future__ import annotations

import logging
from typing import Any

from celery import Task, signals
from celery.exceptions import Ignore

from workers import cancel, keys, routing, runtime
from workers.app import AGENT_TASK, SENT_AT_HEADER, app, visibility_timeout_s
from workers.errors import TransientProviderError
from workers.heartbeat import Heartbeat
from workers.retries import retry_delay

log = logging.getLogger(__name__)
_heartbeat: Heartbeat | None = None


def _settings() -> Any:
    return app.conf.infra_mind_settings


def _header(request: Any, name: str) -> Any:
    value = getattr(request, name, None)
    if value is None and isinstance(getattr(request, "headers", None), dict):
        value = request.headers.get(name)
    return value


def _delivery_queue(request: Any) -> str:
    return str((getattr(request, "delivery_info", None) or {}).get("routing_key") or "")


def _pool_of(queue: str) -> str | None:
    """The pool of a pool queue ``agent.<type>.<pool>`` or a direct queue
    ``agent.<type>.<pool>.<n>@<host>``."""
    parts = queue.split("@", 1)[0].split(".")
    if len(parts) >= 3 and parts[0] == keys.AGENT_QUEUE_PREFIX:
        return parts[2]
    return None


@app.task(name=AGENT_TASK, bind=True)
def run_agent(
    self: Task, agent_type: str, prompt: str, options: dict[str, Any] | None = None
) -> dict[str, Any]:
    sent_at = _header(self.request, SENT_AT_HEADER)
    rt = runtime.current(_settings(), self.request.hostname or "unknown")
    queue = _delivery_queue(self.request)
    if cancel.is_cancelled(rt.redis, self.request.id):
        if queue:  # it never ran: free its place without a latency sample
            routing.on_task_done(rt.redis, agent_type, queue, None, False)
        self.backend.mark_as_revoked(self.request.id, "cancelled", request=self.request)
        log.info("task %s was cancelled while queued: skipped", self.request.id)
        raise Ignore()
    settings = _settings()
    retries = self.request.retries
    last_try = retries >= settings.task_max_retries
    try:
        return rt.run_agent(
            task_id=self.request.id,
            agent_type=agent_type,
            prompt=prompt,
            options=options or {},
            sent_at=float(sent_at) if sent_at else None,
            pool=_pool_of(queue),
            queue=queue,
            last_try=last_try,
        )
    except TransientProviderError as exc:
        if last_try:
            raise
        delay = retry_delay(
            retries, settings.task_retry_base_s, settings.task_retry_max_s,
            visibility_timeout_s(settings),
        )  # fmt: skip
        log.warning("task %s: %s; retry %d in %.1f s", self.request.id, exc, retries + 1, delay)
        raise self.retry(exc=exc, countdown=delay, max_retries=settings.task_max_retries) from None


@signals.worker_ready.connect
def _start_heartbeat(sender: Any = None, **_: Any) -> None:
    global _heartbeat
    settings = _settings()
    instance = str(getattr(sender, "hostname", "") or "unknown")
    rt = runtime.current(settings, instance)
    parsed = keys.parse_instance(instance)
    meta = {"role": "agent" if parsed else "maintenance"}
    if parsed:
        meta.update(
            agent_type=parsed[0],
            pool=parsed[1],
            queue=keys.pool_queue(parsed[0], parsed[1]),
            concurrency=str(rt.concurrency()),
        )
    _heartbeat = Heartbeat(
        rt.redis,
        instance,
        meta,
        rt.stats,
        settings.heartbeat_interval_s,
        settings.heartbeat_ttl_s,
        hooks=[routing.on_heartbeat] if parsed else [],
    )
    _heartbeat.beat()
    _heartbeat.start()
    log.info("heartbeat of %s started", instance)


@signals.worker_shutting_down.connect
def _announce_draining(**_: Any) -> None:
    """Routers stop sending here at once; the heartbeat says so at its next beat too."""
    if _heartbeat is not None:
        _heartbeat.drain()
        if keys.parse_instance(_heartbeat.instance):
            try:
                routing.mark_draining(_heartbeat.client, _heartbeat.instance)
            except Exception:  # the heartbeat's state still reaches the routers
                log.warning("could not mark %s draining", _heartbeat.instance, exc_info=True)


@signals.worker_shutdown.connect
def _stop_heartbeat(**_: Any) -> None:
    if _heartbeat is not None:
        _heartbeat.stop(remove=True)
    if runtime.installed() is not None:
        runtime.installed().close()  # type: ignore[union-attr]
