"""Submitting agent tasks: validate, then publish through the router. Nothing is published
when validation fails."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import redis
from celery import Celery, states
from celery.exceptions import TimeoutError as CeleryTimeout
from celery.result import AsyncResult

from workers.budget_guard import check_budget, has_hard_budget
from workers.errors import InvalidInput, ProviderError, TaskCancelled, TaskTimeout
from workers.names import validate_name
from workers.rate_limits import RateLimiter, take_submissions
from workers.settings import Settings

#: Longest affinity key accepted: it is hashed, but an unbounded key is a client bug.
MAX_AFFINITY_KEY_BYTES = 256


@dataclass
class TaskHandle:
    """A submitted task. ``get`` waits for its result dict."""

    id: str
    agent_type: str
    result: AsyncResult

    @property
    def status(self) -> str:
        return str(self.result.status)

    def get(self, timeout: float | None = 60.0) -> dict[str, Any]:
        """The task's result; raises ``TaskTimeout``, ``TaskCancelled`` or ``ProviderError``
        (the task failed)."""
        try:
            value = self.result.get(timeout=timeout, propagate=False)
        except CeleryTimeout:
            raise TaskTimeout(f"task {self.id} did not finish within {timeout} s") from None
        if self.result.status == states.REVOKED:
            raise TaskCancelled(f"task {self.id} was cancelled before it ran")
        if self.result.failed():
            raise ProviderError(f"task {self.id} failed: {value!r}")
        return dict(value)


def validate_prompt(prompt: object, max_bytes: int) -> str:
    if not isinstance(prompt, str):
        raise InvalidInput(f"prompt must be a string, got {type(prompt).__name__}")
    if not prompt.strip():
        raise InvalidInput("prompt is empty")
    size = len(prompt.encode("utf-8"))
    if size > max_bytes:
        raise InvalidInput(f"prompt is {size} bytes, above the limit of {max_bytes} bytes")
    return prompt


def build_message(
    settings: Settings,
    agent_type: object,
    prompt: object,
    *,
    tenant: str | None = None,
    strategy: str | None = None,
    affinity_key: str | None = None,
    temperature: float | None = None,
    max_tokens: int | None = None,
    priority: int | None = None,
    params: dict[str, Any] | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Validate a submission; return (task kwargs, publish options). Raises ``InvalidInput``."""
    if not isinstance(agent_type, str):
        raise InvalidInput(f"agent type must be a string, got {type(agent_type).__name__}")
    agent = settings.agent(agent_type)
    text = validate_prompt(prompt, settings.max_prompt_bytes)
    if tenant is not None:
        validate_name("tenant", tenant)
    if affinity_key is not None and len(affinity_key.encode()) > MAX_AFFINITY_KEY_BYTES:
        raise InvalidInput(f"affinity key is longer than {MAX_AFFINITY_KEY_BYTES} bytes")
    if temperature is not None and not 0 <= temperature <= 2:
        raise InvalidInput(f"temperature must be between 0 and 2, got {temperature}")
    if max_tokens is not None and max_tokens < 1:
        raise InvalidInput(f"max_tokens must be at least 1, got {max_tokens}")
    if priority is not None and not 0 <= priority <= 9:
        raise InvalidInput(f"priority must be between 0 and 9, got {priority}")
    options = {
        "tenant": tenant,
        "strategy": strategy,
        "affinity_key": affinity_key,
        "temperature": temperature,
        "max_tokens": max_tokens,
        "params": params or {},
    }
    kwargs = {"agent_type": agent.name, "prompt": text, "options": options}
    publish: dict[str, Any] = {}
    if priority is not None:
        publish["priority"] = priority
    return kwargs, publish


def _limiter_of(app: Celery) -> RateLimiter:
    limiter = getattr(app, "_infra_mind_limiter", None)
    if limiter is None:
        limiter = app._infra_mind_limiter = RateLimiter(broker_client(app))  # type: ignore[attr-defined]
    return limiter


def _check_rates(app: Celery, settings: Settings, messages: list[dict[str, Any]]) -> None:
    """Refuse with ``RateLimitExceeded`` when a tenant's submission limit has no room."""
    if not settings.tenant_rate_limits:
        return
    counts = Counter(m["options"]["tenant"] or "" for m in messages)
    take_submissions(_limiter_of(app), settings, dict(counts))


def broker_client(app: Celery) -> redis.Redis:
    """One client per app on the broker's Redis (budget checks, cancellations)."""
    client = getattr(app, "_infra_mind_redis", None)
    if client is None:
        client = redis.Redis.from_url(app.conf.broker_url)
        app._infra_mind_redis = client  # type: ignore[attr-defined]
    return client


def submit(
    agent_type: str, prompt: str, *, app: Celery | None = None, **options: Any
) -> TaskHandle:
    """Validate and publish one agent task; returns a handle whose ``get`` waits for it.

    Options: ``tenant``, ``strategy``, ``affinity_key``, ``temperature``, ``max_tokens``,
    ``priority`` (0-9), ``params``. Raises ``InvalidInput`` (nothing published) for an
    unknown agent type, an empty, non-string or oversized prompt, or a bad option, and
    ``BudgetExceeded`` when a hard budget of the agent type or tenant is used up, and
    ``RateLimitExceeded`` when the tenant's submission limit has no room.
    """
    if app is None:
        from workers.app import app as default_app

        app = default_app
    from workers.app import AGENT_TASK

    settings: Settings = app.conf.infra_mind_settings
    kwargs, publish = build_message(settings, agent_type, prompt, **options)
    _check_budgets(app, settings, [kwargs])
    _check_rates(app, settings, [kwargs])
    result = app.send_task(AGENT_TASK, kwargs=kwargs, **publish)
    return TaskHandle(id=result.id, agent_type=str(agent_type), result=result)


def submit_many(
    tasks: Sequence[Mapping[str, Any]], *, app: Celery | None = None
) -> list[TaskHandle]:
    """Submit several tasks, each a mapping of ``agent_type``, ``prompt`` and ``submit``'s
    options; handles in the same order.

    Every task is validated, and every hard budget checked, before the first is published:
    one bad task publishes none, and the error names its index ("task 3: prompt is empty").
    """
    if app is None:
        from workers.app import app as default_app

        app = default_app
    from workers.app import AGENT_TASK

    settings: Settings = app.conf.infra_mind_settings
    built = []
    for index, task in enumerate(tasks):
        fields = dict(task)
        try:
            built.append(
                build_message(settings, fields.pop("agent_type", None), fields.pop("prompt", None),
                              **fields)
            )  # fmt: skip
        except InvalidInput as exc:
            raise type(exc)(f"task {index}: {exc}") from None
        except TypeError as exc:  # an option submit does not take
            raise InvalidInput(f"task {index}: {exc}") from None
    _check_budgets(app, settings, [kwargs for kwargs, _ in built])
    _check_rates(app, settings, [kwargs for kwargs, _ in built])
    handles = []
    for kwargs, publish in built:
        result = app.send_task(AGENT_TASK, kwargs=kwargs, **publish)
        handles.append(TaskHandle(id=result.id, agent_type=kwargs["agent_type"], result=result))
    return handles


def _check_budgets(app: Celery, settings: Settings, messages: list[dict[str, Any]]) -> None:
    """Refuse with ``BudgetExceeded`` if a hard budget of any message is used up."""
    pairs = {(m["agent_type"], m["options"]["tenant"] or "") for m in messages}
    for agent_type, tenant in sorted(pairs):
        if has_hard_budget(settings, agent_type, tenant):
            check_budget(broker_client(app), settings, agent_type, tenant)
