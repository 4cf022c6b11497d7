"""The beat: ``celery -A scheduler.beat beat`` schedules every job of the registry."""

from __future__ import annotations

from scheduler.registry import JOBS
from workers.app import app
from workers.settings import Settings


def build_schedule(settings: Settings) -> dict[str, dict[str, object]]:
    schedule: dict[str, dict[str, object]] = {}
    for job in JOBS.values():
        every = float(getattr(settings, job.interval_setting))
        # A run that could not start within one period is dropped: the next one covers it.
        schedule[job.name] = {
            "task": job.task_name,
            "schedule": every,
            "options": {"expires": every, "queue": "maintenance"},
        }
    return schedule


app.conf.beat_schedule = build_schedule(app.conf.infra_mind_settings)
__all__ = ["app"]
