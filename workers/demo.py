"""The demo: a burst of realistic agent tasks, tracked to completion, summarized.

Tracking reads the result backend directly (one pipelined GET per poll for every task still
pending), so following hundreds of tasks costs a few Redis round trips a second.
"""

from __future__ import annotations

import itertools
import json
import statistics
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import redis
from celery import Celery

from workers import keys
from workers.submit import TaskHandle, submit

PROMPTS: dict[str, list[str]] = {
    "cto": [
        "Should we split the billing monolith into services this quarter? Give the trade-offs.",
        "Review our plan to move from Celery beat to a distributed scheduler.",
        "What is the risk of running Redis without persistence for our task queue?",
    ],
    "cloud_engineer": [
        "Estimate the monthly cost of 12 m6i.large instances in eu-west-1 with 30% reserved.",
        "Design a blue-green deployment for a stateless API behind an ALB.",
        "How do we give pods in EKS least-privilege access to one S3 bucket?",
    ],
    "research": [
        "Summarize the state of the art in speculative decoding for LLM inference.",
        "Compare vector databases for 50M embeddings with filtered search.",
        "What are the known failure modes of power-of-two-choices load balancing?",
    ],
    "compliance": [
        "Which GDPR articles apply to storing prompt logs that contain customer emails?",
        "List SOC 2 controls relevant to our on-call access to production databases.",
        "Does our data retention of 400 days conflict with the 2026 policy update?",
    ],
    "mlops": [
        "Plan a canary rollout for a new embedding model with automatic rollback.",
        "Why would p99 latency of our inference service double after a CUDA upgrade?",
        "Set up drift monitoring for a fraud model scored in batch every hour.",
    ],
    "report_generator": [
        "Write the weekly infrastructure report from these findings: cost up 12%, two incidents.",
        "Draft an executive summary of the cloud migration status for the board.",
        "Turn the compliance review notes into a one-page report with action items.",
    ],
}

TERMINAL = {"SUCCESS", "FAILURE", "REVOKED"}


def plan(agent_types: list[str], n: int, run: str = "") -> Iterator[tuple[str, str]]:
    """``n`` (agent type, prompt) pairs cycling over the types.

    Prompts are unique within a run and, with a ``run`` tag, across runs: a rerun exercises
    the providers again instead of being answered by the response cache.
    """
    cycle = itertools.cycle(agent_types)
    tag = f", run {run}" if run else ""
    for i in range(n):
        agent = next(cycle)
        prompts = PROMPTS.get(agent) or ["Describe your role in one paragraph."]
        yield agent, f"{prompts[i % len(prompts)]} (request {i + 1}{tag})"


@dataclass
class Tracker:
    """Follows submitted tasks through the result backend until each is final."""

    app: Celery
    client: redis.Redis
    handles: list[TaskHandle] = field(default_factory=list)
    final: dict[str, dict[str, Any]] = field(default_factory=dict)

    def poll(self) -> None:
        pending = [h for h in self.handles if h.id not in self.final]
        if not pending:
            return
        backend = self.app.backend
        with self.client.pipeline(transaction=False) as pipe:
            for h in pending:
                pipe.get(backend.get_key_for_task(h.id))
            values = pipe.execute()
        for handle, raw in zip(pending, values, strict=True):
            if raw is None:
                continue
            meta = json.loads(raw)
            if meta.get("status") in TERMINAL:
                meta["agent_type"] = handle.agent_type
                self.final[handle.id] = meta

    @property
    def done(self) -> bool:
        return len(self.final) >= len(self.handles)

    def counts(self) -> Counter[tuple[str, str]]:
        """(agent type, status) → tasks."""
        return Counter((m["agent_type"], m["status"]) for m in self.final.values())


def summarize(
    tracker: Tracker, submitted: int, seconds: float, agent_types: list[str]
) -> dict[str, Any]:
    by_agent: dict[str, dict[str, Any]] = {}
    results: dict[str, list[dict[str, Any]]] = defaultdict(list)
    failed: Counter[str] = Counter()
    sent: Counter[str] = Counter(h.agent_type for h in tracker.handles)
    for meta in tracker.final.values():
        if meta["status"] == "SUCCESS":
            results[meta["agent_type"]].append(meta["result"])
        else:
            failed[meta["agent_type"]] += 1
    total_cost = Decimal(0)
    for agent in agent_types:
        rows = results.get(agent, [])
        cost = sum(
            (
                Decimal(r["llm_cost_usd"]) + Decimal(r["compute_cost_usd"])
                for r in rows
                if r.get("llm_cost_usd")
            ),
            Decimal(0),
        )
        total_cost += cost
        latency = [r["queue_wait_ms"] + r["run_ms"] for r in rows]
        by_agent[agent] = {
            "submitted": sent[agent],
            "completed": len(rows),
            "failed": failed[agent],
            "tokens": sum(r["prompt_tokens"] + r["completion_tokens"] for r in rows),
            "cost_usd": str(cost),
            "p50_ms": round(statistics.median(latency), 1) if latency else None,
            "max_ms": round(max(latency), 1) if latency else None,
        }
    completed = sum(len(v) for v in results.values())
    n_failed = sum(failed.values())
    return {
        "submitted": submitted,
        "completed": completed,
        "failed": n_failed,
        "lost": submitted - completed - n_failed,
        "seconds": round(seconds, 3),
        "tasks_per_s": round(completed / seconds, 2) if seconds > 0 else None,
        "cost_usd": str(total_cost),
        "by_agent": by_agent,
    }


def run_burst(
    app: Celery,
    client: redis.Redis,
    agent_types: list[str],
    n: int,
    timeout_s: float,
    on_tick: Callable[[Tracker], None] | None = None,
) -> tuple[Tracker, float]:
    """Submit ``n`` tasks, follow them until final or ``timeout_s``; (tracker, seconds)."""
    tracker = Tracker(app, client)
    started = time.monotonic()
    for agent, prompt in plan(agent_types, n, run=uuid.uuid4().hex[:8]):
        tracker.handles.append(submit(agent, prompt, app=app))
    deadline = started + timeout_s
    while not tracker.done and time.monotonic() < deadline:
        tracker.poll()
        if on_tick:
            on_tick(tracker)
        time.sleep(0.25)
    tracker.poll()
    return tracker, time.monotonic() - started


@dataclass
class CapacityMeter:
    """Integrates live worker instances over time: the worker-seconds a run provisioned."""

    worker_seconds: float = 0.0
    peak: dict[str, int] = field(default_factory=dict)
    _last: float | None = None

    def sample(self, instances: dict[str, int], now: float) -> None:
        if self._last is not None:
            self.worker_seconds += sum(instances.values()) * (now - self._last)
        self._last = now
        for pool, count in instances.items():
            self.peak[pool] = max(self.peak.get(pool, 0), count)


def scaling_log(
    client: redis.Redis, pools: list[tuple[str, str]], since: float
) -> list[dict[str, Any]]:
    """The autoscaler's decisions that changed a size since ``since``, oldest first."""

    out = []
    for agent_type, pool in pools:
        for raw in client.lrange(keys.scale_decisions(agent_type, pool), 0, -1):
            try:
                decision = json.loads(raw)
            except ValueError:
                continue
            if decision.get("at", 0) >= since and decision.get("direction") != "hold":
                out.append(decision)
    return sorted(out, key=lambda d: d["at"])
