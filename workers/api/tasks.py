"""``/v1/tasks``: submit an agent task, then read its state and result.

Submission goes through ``workers.submit``: the same validation, hard-budget check and
router as the CLI and Python callers. A result is read from Celery's result backend; with
``?wait=N`` the request long-polls until the task is finished or N seconds pass.
"""

from __future__ import annotations

import asyncio
import time
from typing import Annotated, Any

from celery import states
from fastapi import APIRouter, Query, Request, Response, status
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field

from workers.cancel import cancel_task, check_task_id
from workers.errors import InvalidInput
from workers.submit import submit, submit_many

router = APIRouter(prefix="/v1/tasks", tags=["tasks"])

#: How often a long-poll re-reads the result backend.
POLL_S = 0.1
#: Most tasks in one batch request: larger batches are a client that should stream.
MAX_BATCH = 1000


class TaskRequest(BaseModel):
    """One agent task, as ``infra-mind submit`` takes it."""

    model_config = ConfigDict(extra="forbid")

    agent_type: str = Field(description="a configured agent type, e.g. cto")
    prompt: str
    tenant: str | None = Field(None, description="tenant tag for costs and budgets")
    strategy: str | None = Field(None, description="routing strategy for this task")
    affinity_key: str | None = Field(None, description="tasks with one key prefer one instance")
    temperature: float | None = None
    max_tokens: int | None = None
    priority: int | None = Field(None, description="0-9; 0 is served first")
    params: dict[str, Any] | None = None


class TaskAccepted(BaseModel):
    id: str
    agent_type: str
    status: str


class BatchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tasks: list[TaskRequest] = Field(min_length=1, max_length=MAX_BATCH)


class BatchAccepted(BaseModel):
    tasks: list[TaskAccepted]


class TaskState(BaseModel):
    """``status`` is Celery's: PENDING (queued, or an id this system does not know),
    STARTED, RETRY, SUCCESS, FAILURE or REVOKED."""

    id: str
    status: str
    agent_type: str | None = None
    result: dict[str, Any] | None = None
    error: str | None = None
    finished_at: str | None = None


@router.post("", status_code=status.HTTP_202_ACCEPTED, response_model=TaskAccepted)
def create_task(body: TaskRequest, request: Request, response: Response) -> TaskAccepted:
    """Validate and queue one task; 400 names what is wrong, 402 when a hard budget is spent."""
    options = body.model_dump(exclude={"agent_type", "prompt"}, exclude_none=True)
    handle = submit(body.agent_type, body.prompt, app=request.app.state.celery, **options)
    response.headers["Location"] = f"/v1/tasks/{handle.id}"
    return TaskAccepted(id=handle.id, agent_type=handle.agent_type, status=states.PENDING)


@router.post("/batch", status_code=status.HTTP_202_ACCEPTED, response_model=BatchAccepted)
def create_tasks(body: BatchRequest, request: Request) -> BatchAccepted:
    """Queue up to 1,000 tasks, all or none: one bad task (named by index) queues nothing."""
    tasks = [t.model_dump(exclude_none=True) for t in body.tasks]
    handles = submit_many(tasks, app=request.app.state.celery)
    accepted = [
        TaskAccepted(id=h.id, agent_type=h.agent_type, status=states.PENDING) for h in handles
    ]
    return BatchAccepted(tasks=accepted)


@router.get("/{task_id}", response_model=TaskState, response_model_exclude_none=True)
async def read_task(
    task_id: str,
    request: Request,
    wait: Annotated[float, Query(ge=0, description="seconds to wait for the task to finish")] = 0.0,
) -> TaskState:
    """The task's state, and its result or error once finished."""
    check_task_id(task_id)
    limit = request.app.state.settings.api_max_wait_s
    if wait > limit:
        raise InvalidInput(f"wait must be at most {limit:g} s (api_max_wait_s), got {wait:g}")
    backend = request.app.state.celery.backend
    deadline = time.monotonic() + wait
    while True:
        meta = await run_in_threadpool(backend.get_task_meta, task_id)
        if meta["status"] in states.READY_STATES or time.monotonic() >= deadline:
            return _state(task_id, meta)
        await asyncio.sleep(min(POLL_S, max(0.0, deadline - time.monotonic())))


class Cancelled(BaseModel):
    id: str
    status: str
    cancelled: bool = True
    note: str


@router.post("/{task_id}/cancel", status_code=status.HTTP_202_ACCEPTED, response_model=Cancelled)
def cancel(task_id: str, request: Request) -> Cancelled:
    """Cancel a task: skipped if still queued, left to finish if running; 409 if finished."""
    state = cancel_task(task_id, app=request.app.state.celery)
    note = (
        "it is running and will finish"
        if state in (states.STARTED, states.RETRY)
        else "it will be skipped when a worker takes it"
    )
    return Cancelled(id=task_id, status=state, note=note)


def _state(task_id: str, meta: dict[str, Any]) -> TaskState:
    state = str(meta["status"])
    value = meta.get("result")
    kwargs = meta.get("kwargs") or {}
    done = meta.get("date_done")
    out = TaskState(
        id=task_id,
        status=state,
        agent_type=kwargs.get("agent_type") if isinstance(kwargs, dict) else None,
        finished_at=done.isoformat() if hasattr(done, "isoformat") else done,
    )
    if state == states.SUCCESS:
        out.result = value if isinstance(value, dict) else {"value": value}
    elif state in states.PROPAGATE_STATES:
        out.error = (
            f"{type(value).__name__}: {value}" if isinstance(value, BaseException) else (str(value))
        )
    return out
