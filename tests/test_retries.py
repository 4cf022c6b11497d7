"""Transient provider failures: retried later with backoff, billed once, never lost."""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator

import pytest
import redis
from celery import Celery, states

from tests.cluster import cluster_settings, start_cluster, wait_for_instances
from tests.openai_stub import StubState, openai_stub
from workers import keys
from workers.app import create_app
from workers.events import TaskEvent, TaskStatus
from workers.retries import retry_delay
from workers.settings import Settings, load_settings
from workers.submit import submit


def test_delays_double_up_to_the_caps_with_jitter() -> None:
    rnd = random.Random(1)
    ceilings = [retry_delay(n, 5, 300, 660, random.Random(0)) for n in range(8)]
    assert all(b >= a * 0.99 for a, b in itertools.pairwise(ceilings))
    for n in range(12):
        delay = retry_delay(n, 5, 300, 660, rnd)
        ceiling = min(300, 330, 5 * 2**n)
        assert ceiling / 2 <= delay <= ceiling
    assert retry_delay(50, 5, 10_000, 200) <= 100  # half the visibility timeout at most


AGENTS = """
[agents.cto]
provider = "openai"
model = "gpt-4o-mini"
cache_responses = false
scaling = { min = 1, max = 1 }
"""


@pytest.fixture(scope="module")
def stub_cluster(
    redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Settings, Celery, StubState, redis.Redis]]:
    url = redis_url.rsplit("/", 1)[0] + "/3"
    client = redis.Redis.from_url(url, decode_responses=True)
    client.flushdb()
    folder = tmp_path_factory.mktemp("retries")
    agents = folder / "agents.toml"
    agents.write_text(AGENTS)
    with openai_stub() as (stub_url, state):
        settings = cluster_settings(url, folder, agents)
        env = {
            "INFRA_MIND_OPENAI_BASE_URL": stub_url,
            "INFRA_MIND_OPENAI_API_KEY": "sk-test",
            "INFRA_MIND_OPENAI_MAX_RETRIES": "0",
            "INFRA_MIND_TASK_MAX_RETRIES": "2",
            "INFRA_MIND_TASK_RETRY_BASE_S": "0.2",
        }
        sup = start_cluster(settings, env=env)
        app = create_app(settings)
        try:
            wait_for_instances(client, settings, 1)
            yield settings, app, state, client
        finally:
            app.close()
            sup.stop_all()
            client.flushdb()
            client.close()


def _events(client: redis.Redis, task_id: str) -> list[TaskEvent]:
    found = [TaskEvent.from_fields(f) for _, f in client.xrange(keys.EVENTS_STREAM)]
    return [e for e in found if e.task_id == task_id]


@pytest.mark.slow
def test_a_provider_outage_is_retried_and_billed_once(stub_cluster: tuple) -> None:  # type: ignore[type-arg]
    _, app, state, client = stub_cluster
    state.failures = [503, 429]
    handle = submit("cto", "survive the outage", app=app)
    assert handle.get(timeout=60)["text"] == "echo: survive the outage"
    events = _events(client, handle.id)
    assert [e.status for e in events] == [TaskStatus.SUCCEEDED]
    assert events[0].llm_cost_usd != "0"


@pytest.mark.slow
def test_retries_run_out_and_the_task_fails_once(stub_cluster: tuple) -> None:  # type: ignore[type-arg]
    _, app, state, client = stub_cluster
    state.failures = [503] * 3
    handle = submit("cto", "a long outage", app=app)
    handle.result.get(timeout=60, propagate=False)
    assert handle.status == states.FAILURE
    assert [e.status for e in _events(client, handle.id)] == [TaskStatus.FAILED]
    assert "HTTP 503" in _events(client, handle.id)[0].error


@pytest.mark.slow
def test_a_client_error_is_not_retried(stub_cluster: tuple) -> None:  # type: ignore[type-arg]
    _, app, state, _ = stub_cluster
    before = len(state.requests)
    state.failures = [400]
    handle = submit("cto", "a bad request", app=app)
    handle.result.get(timeout=60, propagate=False)
    assert handle.status == states.FAILURE
    assert len(state.requests) == before + 1


def test_settings_bound_the_retries() -> None:
    with pytest.raises(Exception, match="task_max_retries"):
        load_settings(task_max_retries=-1)
