"""The autoscaler with real workers: a backlog grows a pool, idleness shrinks it, and no
task is lost or run twice across scale-in."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from celery import Celery

from scheduler.autoscale.actuators.local import LocalActuator
from scheduler.autoscale.job import run_job
from tests.cluster import cluster_settings, start_cluster, wait_for_instances
from workers import inspect, keys
from workers.app import create_app
from workers.settings import Settings
from workers.submit import TaskHandle, submit
from workers.supervisor import ProcessKind, Supervisor

pytestmark = pytest.mark.slow

AGENTS = """
[agents.cto]
model = "gpt-4o"
latency = { mean_ms = 150, spread_ms = 30 }

[agents.cto.scaling]
min = 1
max = 4
target_queue_latency_s = 1
max_step_up = 3
cooldown_up_s = 2
cooldown_down_s = 1
stabilization_s = 3

[agents.cto.pools.default]
concurrency = 2
"""


@pytest.fixture
def scaled(
    tmp_path: Path, redis_url: str
) -> Iterator[tuple[Settings, Supervisor, Celery, redis.Redis]]:
    agents = tmp_path / "agents.toml"
    agents.write_text(AGENTS)
    url = redis_url.rsplit("/", 1)[0] + "/3"
    client = redis.Redis.from_url(url, decode_responses=True)
    client.flushdb()
    settings = cluster_settings(url, tmp_path / "state", agents)
    sup = start_cluster(settings)
    app = create_app(settings)
    try:
        wait_for_instances(client, settings, 1)
        yield settings, sup, app, client
    finally:
        app.close()
        sup.stop_all()
        client.close()


def _running(sup: Supervisor) -> int:
    return sum(
        1 for m in sup.managed.values()
        if m.kind is ProcessKind.AGENT and m.stopping_since is None
    )  # fmt: skip


def _events_per_task(client: redis.Redis) -> Counter[str]:
    return Counter(f["task_id"] for _, f in client.xrange(keys.EVENTS_STREAM, "-", "+"))


def _all_done(handles: list[TaskHandle]) -> bool:
    return all(h.result.ready() for h in handles)


def test_backlog_grows_the_pool_and_idleness_shrinks_it(
    scaled: tuple[Settings, Supervisor, Celery, redis.Redis],
) -> None:
    settings, sup, app, client = scaled
    actuator = LocalActuator(client)
    handles = [submit("cto", f"backlog task {i}", app=app) for i in range(200)]
    peak = 1
    deadline = time.monotonic() + 120
    while not _all_done(handles):
        assert time.monotonic() < deadline, "backlog did not drain"
        run_job(client, settings, now=time.time(), actuator=actuator, min_gap_s=0)
        sup.step()
        peak = max(peak, len(inspect.read_instances(client)))
        time.sleep(0.5)
    assert peak >= 3, f"pool only grew to {peak}"
    # Idle: the pool comes back to its minimum of one.
    deadline = time.monotonic() + 60
    while _running(sup) > 1 or len(sup.managed) > 1:
        assert time.monotonic() < deadline, "pool did not shrink back to 1"
        run_job(client, settings, now=time.time(), actuator=actuator, min_gap_s=0)
        sup.step()
        time.sleep(0.5)
    results = [h.get(timeout=5) for h in handles]
    assert len(results) == 200
    counts = _events_per_task(client)
    assert all(counts[h.id] == 1 for h in handles), "a task ran twice or not at all"
    raw = client.lrange(keys.scale_decisions("cto", "default"), 0, -1)
    directions = {json.loads(d)["direction"] for d in raw}
    assert {"up", "down"} <= directions, directions


def test_twenty_scale_in_cycles_lose_nothing(
    scaled: tuple[Settings, Supervisor, Celery, redis.Redis],
) -> None:
    _, sup, app, client = scaled
    desired = keys.desired_instances("cto", "default")
    handles: list[TaskHandle] = []
    for cycle in range(20):
        handles += [submit("cto", f"cycle {cycle} task {i}", app=app) for i in range(6)]
        client.set(desired, 2)
        sup.step()
        time.sleep(1.0)
        client.set(desired, 1)
        sup.step()
        time.sleep(0.5)
        sup.step()
    deadline = time.monotonic() + 90
    while not _all_done(handles):
        assert time.monotonic() < deadline, "tasks did not finish after the cycles"
        sup.step()
        time.sleep(0.3)
    assert all(h.result.successful() for h in handles)
    counts = _events_per_task(client)
    assert len(handles) == 120
    assert all(counts[h.id] == 1 for h in handles), "a task ran twice or not at all"
