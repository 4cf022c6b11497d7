"""infra-mind: distributed task workers for multi-agent LLM workloads on Celery and Redis."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["cancel_task", "submit", "submit_many"]


def submit(agent_type: str, prompt: str, **options: Any) -> Any:
    """Submit one agent task; see :func:`workers.submit.submit`."""
    from workers.submit import submit as _submit

    return _submit(agent_type, prompt, **options)


def submit_many(tasks: Sequence[Mapping[str, Any]], **options: Any) -> Any:
    """Submit several tasks, all or none; see :func:`workers.submit.submit_many`."""
    from workers.submit import submit_many as _submit_many

    return _submit_many(tasks, **options)


def cancel_task(task_id: str, **options: Any) -> str:
    """Cancel a queued task; see :func:`workers.cancel.cancel_task`."""
    from workers.cancel import cancel_task as _cancel_task

    return _cancel_task(task_id, **options)
