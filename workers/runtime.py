"""What one worker process holds: its identity, Redis client, providers and task counters.

The Celery task in ``workers.tasks`` is a thin shell over :meth:`WorkerRuntime.run_agent`.
"""

from __future__ import annotations

import logging
import threading
import time
from decimal import Decimal
from typing import Any

import redis

from workers import budget_guard, events, keys, routing
from workers.agents import default_handler  # noqa: F401  (registers "default")
from workers.agents.handler import AgentContext, AgentRequest, AgentResult
from workers.agents.registry import resolve_handler
from workers.cache import ResponseCache, TieredCache
from workers.connection import resolve_redis_url
from workers.errors import TransientProviderError
from workers.heartbeat import InstanceStats
from workers.pricing import compute_cost
from workers.prompts.source import StoredPrompts
from workers.providers import Provider, make_provider
from workers.rate_limits import Buckets, LimitedProvider, RateLimiter
from workers.settings import Settings
from workers.tokens import count_tokens

log = logging.getLogger(__name__)


class WorkerRuntime:
    """Per-process state of a worker instance, created when the worker starts."""

    def __init__(self, settings: Settings, instance: str, client: redis.Redis | None = None):
        self.settings = settings
        self.instance = instance
        parsed = keys.parse_instance(instance)
        self.agent_type, self.pool = (parsed[0], parsed[1]) if parsed else ("", "")
        url = resolve_redis_url(settings)
        self.redis = client or redis.Redis.from_url(url or "", decode_responses=True)
        self.stats = InstanceStats()
        self._providers: dict[str, Provider] = {}
        self._limiter: RateLimiter | None = None
        self._cache: TieredCache | None = None
        self._contexts: dict[tuple[str, str], AgentContext] = {}
        self._lock = threading.Lock()

    def concurrency(self) -> int:
        agent = self.settings.agents.get(self.agent_type)
        if agent and self.pool in agent.pools:
            return agent.pools[self.pool].concurrency
        return 1

    def context(self, agent_type: str, pool: str) -> AgentContext:
        with self._lock:
            ctx = self._contexts.get((agent_type, pool))
            if ctx is None:
                agent = self.settings.agent(agent_type)
                provider = self._providers.get(agent.provider)
                if provider is None:
                    provider = make_provider(agent.provider, self.settings)
                    self._providers[agent.provider] = provider
                buckets = Buckets.of(agent)
                if buckets is not None:
                    if self._limiter is None:
                        self._limiter = RateLimiter(self.redis)
                    provider = LimitedProvider(
                        provider, self._limiter, buckets, self.settings.rate_limit_max_wait_s
                    )
                if self._cache is None:
                    self._cache = TieredCache(self.redis, self.settings.cache)
                ctx = AgentContext(
                    settings=self.settings,
                    agent=agent,
                    pool=pool,
                    instance=self.instance,
                    redis=self.redis,
                    provider=provider,
                    cache=ResponseCache(self._cache),
                    prompts=StoredPrompts(
                        self.redis, self.settings.max_prompt_bytes, self.settings.prompt_recent_keep
                    ),
                )
                self._contexts[(agent_type, pool)] = ctx
            return ctx

    def close(self) -> None:
        """Flush the cache's access statistics and stop its background threads."""
        if self._cache is not None:
            self._cache.close()
            self._cache = None

    def run_agent(
        self,
        task_id: str,
        agent_type: str,
        prompt: str,
        options: dict[str, Any],
        sent_at: float | None,
        pool: str | None = None,
        queue: str = "",
        last_try: bool = True,
    ) -> dict[str, Any]:
        """Run the agent's handler, emit the task event, return the JSON-able result.

        A transient provider failure before the ``last_try`` emits no event: the task runs
        again, and the cost rollup counts a task id once, so only its outcome may speak.
        """
        started = time.time()
        queue_wait_ms = max(0.0, (started - sent_at) * 1000) if sent_at else 0.0
        pool = pool or self.pool or next(iter(self.settings.agent(agent_type).pools))
        ctx = self.context(agent_type, pool)
        request = AgentRequest(
            agent_type=agent_type,
            prompt=prompt,
            temperature=options.get("temperature"),
            max_tokens=options.get("max_tokens"),
            tenant=options.get("tenant") or "",
            params=options.get("params") or {},
        )
        reservation = None
        self.stats.started()
        out: dict[str, Any] = {}
        try:
            reservation = self._reserve(ctx, request, task_id)
            result = resolve_handler(ctx.agent.handler)(ctx, request)
            out = self._finish(task_id, ctx, request, result, started, queue_wait_ms, "")
            return out
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"[:500]
            retried = not last_try and isinstance(exc, TransientProviderError)
            self._finish(task_id, ctx, request, None, started, queue_wait_ms, error, not retried)
            raise
        finally:
            if reservation is not None:
                budget_guard.reconcile(self.redis, reservation, _total_cost(out))
            if queue:
                run_ms = (time.time() - started) * 1000
                routing.on_task_done(self.redis, ctx.agent.name, queue, run_ms, bool(out))

    def _reserve(
        self, ctx: AgentContext, request: AgentRequest, task_id: str
    ) -> budget_guard.Reservation | None:
        """Hold the estimated cost against hard budgets so parallel calls cannot overshoot.

        Raises ``BudgetExceeded`` (the task fails, nothing is called) when a hard budget
        would be overshot.
        """
        settings = self.settings
        if not budget_guard.has_hard_budget(settings, ctx.agent.name, request.tenant):
            return None
        tokens = count_tokens(request.prompt, ctx.agent.model)
        estimate = budget_guard.estimate_call_cost(ctx.agent, tokens, settings.price_overrides)
        return budget_guard.reserve(
            self.redis, settings, ctx.agent.name, request.tenant, estimate,
            reservation_id=task_id,
        )  # fmt: skip

    def _finish(
        self,
        task_id: str,
        ctx: AgentContext,
        request: AgentRequest,
        result: AgentResult | None,
        started: float,
        queue_wait_ms: float,
        error: str,
        emit: bool = True,
    ) -> dict[str, Any]:
        run_s = time.time() - started
        self.stats.finished(run_s * 1000, ok=result is not None)
        # One slot of a multi-threaded instance costs its share of the instance's hourly rate.
        compute = compute_cost(run_s / max(1, self.concurrency()), ctx.agent.hourly_rate_usd)
        llm_cost = result.llm_cost_usd if result else Decimal(0)
        event = events.TaskEvent(
            task_id=task_id,
            agent_type=ctx.agent.name,
            pool=ctx.pool,
            instance=self.instance,
            provider=result.provider if result else ctx.provider.name,
            model=result.model if result else ctx.agent.model,
            status=events.TaskStatus.SUCCEEDED if result else events.TaskStatus.FAILED,
            prompt_tokens=result.prompt_tokens if result else 0,
            completion_tokens=result.completion_tokens if result else 0,
            cached_tokens=result.cached_tokens if result else 0,
            llm_cost_usd=str(llm_cost) if llm_cost is not None else "0",
            priced=llm_cost is not None,
            price_source=result.price_source if result else "",
            compute_cost_usd=str(compute),
            queue_wait_ms=round(queue_wait_ms, 3),
            run_ms=round(run_s * 1000, 3),
            cache_hit=result.cache_hit if result else False,
            tenant=request.tenant,
            error=error,
        )
        if emit:
            events.emit(self.redis, event, self.settings.events_maxlen)
        if result is None:
            return {}
        out = result.to_dict()
        out.update(
            agent_type=ctx.agent.name,
            pool=ctx.pool,
            instance=self.instance,
            queue_wait_ms=event.queue_wait_ms,
            run_ms=event.run_ms,
            compute_cost_usd=event.compute_cost_usd,
        )
        return out


def _total_cost(result: dict[str, Any]) -> Decimal | None:
    """LLM plus compute cost of a finished task; None when it failed or is unpriced."""
    llm = result.get("llm_cost_usd")
    if llm is None:
        return None
    return Decimal(llm) + Decimal(result.get("compute_cost_usd") or 0)


_current: WorkerRuntime | None = None
_current_lock = threading.Lock()


def installed() -> WorkerRuntime | None:
    """This process's runtime if one was created."""
    return _current


def current(settings: Settings, instance: str) -> WorkerRuntime:
    """This process's runtime; created on first use when the worker did not install one."""
    global _current
    with _current_lock:
        if _current is None:
            _current = WorkerRuntime(settings, instance)
        return _current
