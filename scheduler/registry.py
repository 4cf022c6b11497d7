"""The periodic jobs: a name, the plain function that does the work, and its interval setting.

Adding a job is adding its module and one line here; ``scheduler.tasks`` wraps each in a
Celery task on the maintenance queue and ``scheduler.beat`` schedules it.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Job:
    name: str
    target: str  # "module:function", imported when the job first runs
    interval_setting: str  # Settings field holding the period in seconds

    @property
    def task_name(self) -> str:
        return f"scheduler.{self.name}"

    def load(self) -> Callable[..., dict[str, Any]]:
        module, _, attr = self.target.partition(":")
        return getattr(importlib.import_module(module), attr)


JOBS: dict[str, Job] = {
    job.name: job
    for job in (
        Job("reap_instances", "scheduler.reaper:run_job", "reconcile_interval_s"),
        Job("reconcile_routing", "scheduler.routing_reconcile:run_job", "reconcile_interval_s"),
        Job("autoscale", "scheduler.autoscale.job:run_scheduled", "autoscale_interval_s"),
        Job("analyze_slow_queries", "scheduler.queries.job:run_job", "slow_query_interval_s"),
        Job("rollup_costs", "scheduler.costs.job:run_job", "rollup_interval_s"),
        Job("snapshot_resources", "scheduler.resources.job:run_job", "snapshot_interval_s"),
        Job(
            "promote_cache_tiers", "scheduler.cache_promotion:run_job", "cache_promotion_interval_s"
        ),
    )
}
