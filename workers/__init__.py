"""infra-mind: distributed task workers for multi-agent LLM workloads on Celery and Redis."""

from __future__ import annotations

from typing import Any

__all__ = ["submit"]


def submit(agent_type: str, prompt: str, **options: Any) -> Any:
    """Submit one agent task; see :func:`workers.submit.submit`."""
    from workers.submit import submit as _submit

    return _submit(agent_type, prompt, **options)
