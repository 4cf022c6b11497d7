"""Celery tasks for the periodic jobs: each builds the job's dependencies and calls it."""

from __future__ import annotations

import logging
from typing import Any

from scheduler.registry import JOBS, Job
from workers.app import app
from workers.connection import connect
from workers.settings import Settings

log = logging.getLogger(__name__)


def _mongo(settings: Settings) -> Any:
    if not settings.mongo_url:
        return None
    from workers.stores.mongo import mongo_database

    return mongo_database(settings)


def run_job(job: Job, **kwargs: Any) -> dict[str, Any]:
    settings: Settings = app.conf.infra_mind_settings
    client = connect(settings)
    try:
        summary = job.load()(client, settings, _mongo(settings), **kwargs)
    finally:
        client.close()
    log.info("%s: %s", job.name, summary)
    return summary


def _register(job: Job) -> None:
    @app.task(name=job.task_name, ignore_result=True)
    def task() -> dict[str, Any]:
        return run_job(job)


for _job in JOBS.values():
    _register(_job)
